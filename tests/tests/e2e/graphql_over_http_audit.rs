//! The graphql-http audit (GraphQL over HTTP conformance, 61 checks in
//! v1.23.1) against the gateway's `/graphql` over the mock subgraphs: no
//! error and no warning, as Hive Router 0.2.0 passes it. It checks media
//! types and `Accept` negotiation, GET and POST, the status of each kind
//! of request error in both response media types, and variable coercion.

use tests::federation::{FederatedGateway, SUPERGRAPH_FILE_CONFIG};
use tests::graphql_http_audit;

/// Checks passed by v1.23.1 of the audit, every one.
const CHECKS: usize = 61;

#[tokio::test]
async fn the_graphql_over_http_audit_passes_with_no_warning() {
    let fed = FederatedGateway::start(SUPERGRAPH_FILE_CONFIG).await;
    let Some(report) = graphql_http_audit::run_or_skip(
        "the_graphql_over_http_audit_passes_with_no_warning",
        &fed.gw.url("/graphql"),
    )
    .await
    else {
        return;
    };
    assert!(report.error.is_empty(), "errors: {:#?}", report.error);
    assert!(report.warn.is_empty(), "warnings: {:#?}", report.warn);
    assert_eq!(report.ok, CHECKS);
}
