//! What response shaping (and the executor's type conditions, through
//! `execute::tree::PossibleTypes`) reads of the schema, indexed once per
//! supergraph:
//! each type's kind, its fields' declared types, the possible types of
//! interfaces and unions, and what of it the public (consumer) schema
//! shows. The planner builds the public schema with every `@inaccessible`
//! element pruned; a subgraph may still return a hidden enum value or an
//! object of a hidden type (through an interface or union field), and
//! projection then answers null with an error (see `response.rs`).
//!
//! Our own index rather than the planner's `SupergraphState`: its maps
//! hash with SipHash, and shaping a list response looks up a field's type
//! per value (about 5% of a ten-order request's instructions went to
//! those hashes). Here one foldhash lookup finds a type, one its field.

use std::collections::{HashMap, HashSet};

use graphql_tools::static_graphql::schema::{Definition, Document, TypeDefinition};
use hive_router_query_planner::state::supergraph_state::{
    SupergraphDefinition, SupergraphState, TypeNode,
};

type Map<V> = HashMap<Box<str>, V, foldhash::fast::RandomState>;
type Set = HashSet<Box<str>, foldhash::fast::RandomState>;

/// The built-in scalars, known without a definition.
const BUILTIN_SCALARS: [&str; 5] = ["String", "Int", "Float", "Boolean", "ID"];

/// The schema as projection reads it.
#[derive(Debug, Default)]
pub struct ResponseTypes {
    types: Map<TypeInfo>,
}

#[derive(Debug, Default)]
struct TypeInfo {
    kind: Kind,
    /// The declared type of each field (objects and interfaces).
    fields: Map<TypeNode>,
    /// A union's members, an interface's implementing object types.
    possible: Set,
    /// An object type of the public schema.
    public_object: bool,
    /// An enum of the public schema: its public values.
    public_values: Option<Set>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Object,
    Interface,
    Union,
    Scalar,
    #[default]
    Other,
}

impl ResponseTypes {
    /// Indexes the supergraph's types, then marks what the consumer
    /// schema (`public`) has.
    pub fn new(state: &SupergraphState, public: &Document) -> Self {
        let mut types = Map::default();
        for (name, definition) in &state.definitions {
            let kind = match definition {
                SupergraphDefinition::Object(_) => Kind::Object,
                SupergraphDefinition::Interface(_) => Kind::Interface,
                SupergraphDefinition::Union(_) => Kind::Union,
                SupergraphDefinition::Scalar(_) => Kind::Scalar,
                SupergraphDefinition::Enum(_) | SupergraphDefinition::InputObject(_) => Kind::Other,
            };
            let fields = match definition {
                SupergraphDefinition::Object(_) | SupergraphDefinition::Interface(_) => definition
                    .fields()
                    .iter()
                    .map(|(field, info)| (field.as_str().into(), info.field_type.clone()))
                    .collect(),
                _ => Map::default(),
            };
            let possible = match definition {
                SupergraphDefinition::Union(union) => {
                    union.types.iter().map(|t| t.as_str().into()).collect()
                }
                SupergraphDefinition::Interface(_) => state
                    .interface_to_object_types
                    .get(name)
                    .into_iter()
                    .flatten()
                    .map(|t| t.as_str().into())
                    .collect(),
                _ => Set::default(),
            };
            let info = TypeInfo {
                kind,
                fields,
                possible,
                ..TypeInfo::default()
            };
            types.insert(name.as_str().into(), info);
        }
        for scalar in &state.known_scalars {
            types.entry(scalar.as_str().into()).or_default().kind = Kind::Scalar;
        }
        let mut indexed = Self { types };
        indexed.mark_public(public);
        indexed
    }

    fn mark_public(&mut self, document: &Document) {
        for definition in &document.definitions {
            match definition {
                Definition::TypeDefinition(TypeDefinition::Object(object)) => {
                    self.types
                        .entry(object.name.as_str().into())
                        .or_default()
                        .public_object = true;
                }
                Definition::TypeDefinition(TypeDefinition::Enum(enumeration)) => {
                    let values = enumeration
                        .values
                        .iter()
                        .map(|v| v.name.as_str().into())
                        .collect();
                    self.types
                        .entry(enumeration.name.as_str().into())
                        .or_default()
                        .public_values = Some(values);
                }
                _ => {}
            }
        }
    }

    /// The declared type of `type_name.field_name`; an unknown field is a
    /// nameless scalar.
    pub fn field_type(&self, type_name: &str, field_name: &str) -> &TypeNode {
        static UNKNOWN: TypeNode = TypeNode::Named(String::new());
        self.types
            .get(type_name)
            .and_then(|info| info.fields.get(field_name))
            .unwrap_or(&UNKNOWN)
    }

    pub fn is_object_type(&self, name: &str) -> bool {
        self.types
            .get(name)
            .is_some_and(|info| info.kind == Kind::Object)
    }

    pub fn is_interface(&self, name: &str) -> bool {
        self.types
            .get(name)
            .is_some_and(|info| info.kind == Kind::Interface)
    }

    /// A scalar (built in or declared), or the nameless type of an
    /// unknown field.
    pub fn is_scalar(&self, name: &str) -> bool {
        name.is_empty()
            || BUILTIN_SCALARS.contains(&name)
            || self
                .types
                .get(name)
                .is_some_and(|info| info.kind == Kind::Scalar)
    }

    /// Whether an object of type `concrete` matches a fragment on
    /// `condition`: the same type, a union it is in, an interface it
    /// implements.
    pub fn type_matches(&self, concrete: &str, condition: &str) -> bool {
        concrete == condition
            || self.types.get(condition).is_some_and(|info| {
                matches!(info.kind, Kind::Union | Kind::Interface)
                    && info.possible.contains(concrete)
            })
    }

    /// Whether an object of this type may reach the client.
    pub fn has_object(&self, name: &str) -> bool {
        self.types.get(name).is_some_and(|info| info.public_object)
    }

    /// Whether an object of type `concrete` is withheld: an object type
    /// the public schema does not have (one lookup for both questions).
    pub fn is_hidden_object(&self, concrete: &str) -> bool {
        self.types
            .get(concrete)
            .is_some_and(|info| info.kind == Kind::Object && !info.public_object)
    }

    /// `Some(false)` when `enum_type` is a public enum without `value`;
    /// `None` when `enum_type` is no public enum.
    pub fn has_enum_value(&self, enum_type: &str, value: &str) -> Option<bool> {
        self.types
            .get(enum_type)
            .and_then(|info| info.public_values.as_ref())
            .map(|values| values.contains(value))
    }
}

#[cfg(test)]
mod tests {
    use hive_router_query_planner::consumer_schema::ConsumerSchema;
    use hive_router_query_planner::utils::parsing::safe_parse_schema;

    use hive_router_query_planner::state::supergraph_state::SupergraphState;

    use super::ResponseTypes;
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
        let state = SupergraphState::new(&document);
        let public = ResponseTypes::new(&state, &consumer.document);
        assert!(public.has_object("Dog"));
        assert!(!public.has_object("Robot"));
        assert_eq!(public.has_enum_value("Status", "OPEN"), Some(true));
        assert_eq!(public.has_enum_value("Status", "SECRET"), Some(false));
        assert_eq!(public.has_enum_value("String", "x"), None);
        assert!(public.is_hidden_object("Robot"));
        assert!(!public.is_hidden_object("Dog"));
        assert!(!public.is_hidden_object("Pet"));
        assert!(public.is_object_type("Dog"));
        assert!(!public.is_object_type("Pet"));
        assert!(public.is_interface("Pet") && !public.is_interface("Dog"));
        assert!(public.is_scalar("String") && public.is_scalar("") && !public.is_scalar("Dog"));
        assert!(public.type_matches("Dog", "Pet"));
        assert!(public.type_matches("Robot", "Pet"));
        assert!(!public.type_matches("Pet", "Dog"));
        assert_eq!(public.field_type("Dog", "name").to_string(), "String");
        assert_eq!(public.field_type("Query", "pets").to_string(), "[Pet]");
        assert_eq!(public.field_type("Dog", "nope").to_string(), "");
    }
}
