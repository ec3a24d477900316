//! The Federation authorization directives in the subgraphs' SDL:
//! `@requiresScopes` is async-graphql's own (`requires_scopes = "a b"`,
//! one attribute per OR group), `@authenticated` is declared here as a
//! type-system directive. async-graphql's federation `@link` imports
//! `@requiresScopes` but not `@authenticated`, and prints a local
//! definition for it; [`with_authorization_imports`] turns that into the
//! Federation v2.5 form (the directive imported from the federation
//! `@link`, no local definition), both for [`super::SubgraphKind::sdl`] and
//! for `_service { sdl }` (through [`FederationSdl`]).

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::{ServerResult, TypeDirective, Value};

// `@authenticated`: only an authenticated caller may read the field or
// type (the gateway enforces it). A plain comment: a doc comment would
// become a description printed before the definition this file removes.
#[TypeDirective(
    location = "FieldDefinition",
    location = "Object",
    location = "Interface",
    location = "Enum"
)]
pub fn authenticated() {}

/// The federation import list as async-graphql prints it ends here.
const IMPORTS_END: &str = "\"@requiresScopes\"]";

/// Imports `@authenticated` from the federation `@link` and drops the
/// local definition async-graphql prints for it.
pub(crate) fn with_authorization_imports(sdl: &str) -> String {
    let without_definition: String = sdl
        .lines()
        .filter(|line| !line.starts_with("directive @authenticated "))
        .flat_map(|line| [line, "\n"])
        .collect();
    without_definition.replacen(IMPORTS_END, "\"@requiresScopes\", \"@authenticated\"]", 1)
}

/// Rewrites the SDL that `_service { sdl }` returns with
/// [`with_authorization_imports`].
pub(crate) struct FederationSdl;

impl ExtensionFactory for FederationSdl {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(FederationSdlExtension)
    }
}

struct FederationSdlExtension;

#[async_graphql::async_trait::async_trait]
impl Extension for FederationSdlExtension {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let is_service = info.parent_type == "Query" && info.name == "_service";
        let mut value = next.run(ctx, info).await?;
        if is_service && let Some(Value::Object(service)) = &mut value {
            for field in service.values_mut() {
                if let Value::String(sdl) = field {
                    *sdl = with_authorization_imports(sdl);
                }
            }
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::with_authorization_imports;

    #[test]
    fn authenticated_is_imported_not_defined() {
        let sdl = "directive @authenticated on FIELD_DEFINITION | OBJECT\ntype Query { a: Int @authenticated }\nextend schema @link(\n\turl: \"https://specs.apollo.dev/federation/v2.5\",\n\timport: [\"@key\", \"@requiresScopes\"]\n)\n";
        let fixed = with_authorization_imports(sdl);
        assert_eq!(
            fixed,
            "type Query { a: Int @authenticated }\nextend schema @link(\n\turl: \"https://specs.apollo.dev/federation/v2.5\",\n\timport: [\"@key\", \"@requiresScopes\", \"@authenticated\"]\n)\n"
        );
    }
}
