//! What of the supergraph a client may see in a response: the object
//! types and enum values of the public (consumer) schema, which the
//! planner builds with every `@inaccessible` element pruned. A subgraph
//! may still return a hidden enum value or an object of a hidden type
//! (through an interface or union field); projection then answers null
//! with an error instead (see `response.rs`).

use std::collections::{HashMap, HashSet};

use graphql_tools::static_graphql::schema::{Definition, Document, TypeDefinition};

/// The object types and enum values of the public schema.
#[derive(Debug, Default)]
pub struct PublicTypes {
    objects: HashSet<String>,
    enums: HashMap<String, HashSet<String>>,
}

impl PublicTypes {
    /// Reads them from the consumer schema.
    pub fn from_consumer_schema(document: &Document) -> Self {
        let mut public = Self::default();
        for definition in &document.definitions {
            match definition {
                Definition::TypeDefinition(TypeDefinition::Object(object)) => {
                    public.objects.insert(object.name.clone());
                }
                Definition::TypeDefinition(TypeDefinition::Enum(enumeration)) => {
                    let values = enumeration.values.iter().map(|v| v.name.clone()).collect();
                    public.enums.insert(enumeration.name.clone(), values);
                }
                _ => {}
            }
        }
        public
    }

    /// Whether an object of this type may reach the client.
    pub fn has_object(&self, name: &str) -> bool {
        self.objects.contains(name)
    }

    /// `Some(false)` when `enum_type` is a public enum without `value`;
    /// `None` when `enum_type` is no public enum.
    pub fn has_enum_value(&self, enum_type: &str, value: &str) -> Option<bool> {
        self.enums
            .get(enum_type)
            .map(|values| values.contains(value))
    }
}

#[cfg(test)]
mod tests {
    use hive_router_query_planner::consumer_schema::ConsumerSchema;
    use hive_router_query_planner::utils::parsing::safe_parse_schema;

    use super::PublicTypes;
    use crate::graphql::supergraph_compose::{SubgraphSdl, compose_supergraph};

    #[test]
    fn inaccessible_types_and_enum_values_are_not_public() {
        let sdl = r#"
            type Query { pets: [Pet] status: Status }
            interface Pet { name: String }
            type Dog implements Pet { name: String }
            type Robot implements Pet @inaccessible { name: String }
            enum Status { OPEN CLOSED SECRET @inaccessible }
        "#;
        let subgraph = SubgraphSdl {
            name: "a".into(),
            url: "http://a/graphql".into(),
            sdl: sdl.into(),
        };
        let supergraph = compose_supergraph(&[subgraph]).expect("composes");
        let document = safe_parse_schema(&supergraph).expect("parses");
        let consumer = ConsumerSchema::new_from_supergraph(&document);
        let public = PublicTypes::from_consumer_schema(&consumer.document);
        assert!(public.has_object("Dog"));
        assert!(!public.has_object("Robot"));
        assert_eq!(public.has_enum_value("Status", "OPEN"), Some(true));
        assert_eq!(public.has_enum_value("Status", "SECRET"), Some(false));
        assert_eq!(public.has_enum_value("String", "x"), None);
    }
}
