//! The comparison suite's reference proxies (nginx, HAProxy) send the
//! backend the same request the gateway sends: the same header names, so
//! the orders mock parses and records as much from each, and the suite
//! measures the proxies doing the same work. Each proxy also returns a
//! request id to the client, as the gateway does.
//!
//! CI installs both (`.ci/run`) and sets [`REQUIRE_ENV`]; elsewhere a
//! machine without one skips its half, saying so.

use std::collections::BTreeSet;

use tests::compare::needs::find_program;
use tests::compare::proxies::{ExternalProxy, ProxyKind};
use tests::gateway::TestGateway;

/// Set (by `.ci/run`) where a missing nginx or HAProxy must fail the test.
const REQUIRE_ENV: &str = "GATEWAY_TESTS_REQUIRE_PROXIES";

const ORDER_PATH: &str = "/v1/orders/3273b2e9-bb75-8508-88c2-1f861d3d39fe";

/// Header names of the one request the orders mock recorded since its
/// log was last cleared, after `base + ORDER_PATH` answered 200 with an
/// `x-request-id`.
async fn backend_header_names(gateway: &TestGateway, base: &str) -> BTreeSet<String> {
    let orders = &gateway.mocks.orders.control;
    orders.clear_requests();
    let response = gateway
        .client
        .get(format!("{base}{ORDER_PATH}"))
        .header("user-agent", "reference-headers-test")
        .send()
        .await
        .expect("request through the proxy");
    assert_eq!(response.status(), 200, "{base}");
    let request_id = response.headers().get("x-request-id");
    assert!(
        request_id.is_some_and(|id| !id.is_empty()),
        "{base}: no x-request-id in the response"
    );
    let recorded = orders.requests();
    assert_eq!(recorded.len(), 1, "{base}: {recorded:?}");
    recorded[0]
        .headers
        .keys()
        .map(|name| name.as_str().to_owned())
        .collect()
}

fn installed_or_skip(kind: ProxyKind) -> bool {
    if find_program(kind.program()).is_some() {
        return true;
    }
    assert!(
        std::env::var_os(REQUIRE_ENV).is_none(),
        "{} is not installed and {REQUIRE_ENV} is set",
        kind.program()
    );
    eprintln!(
        "reference_proxies_send_the_backend_the_gateways_headers: {} skipped: not installed (CI installs it)",
        kind.program()
    );
    false
}

#[tokio::test]
async fn reference_proxies_send_the_backend_the_gateways_headers() {
    let gateway = TestGateway::with_default_routes().await;
    let from_gateway = backend_header_names(&gateway, &gateway.url("")).await;
    for name in [
        "x-request-id",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-forwarded-host",
        "forwarded",
        "x-real-ip",
        "host",
    ] {
        assert!(from_gateway.contains(name), "{name}: {from_gateway:?}");
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let backend = gateway.mocks.orders.addr;
    for kind in [ProxyKind::Nginx, ProxyKind::Haproxy] {
        if !installed_or_skip(kind) {
            continue;
        }
        let proxy_dir = dir.path().to_owned();
        let proxy =
            tokio::task::spawn_blocking(move || ExternalProxy::start(kind, &proxy_dir, backend))
                .await
                .expect("start task")
                .unwrap_or_else(|e| panic!("{} starts: {e}", kind.program()));
        let from_proxy = backend_header_names(&gateway, &proxy.base()).await;
        assert_eq!(
            from_proxy,
            from_gateway,
            "{} and the gateway send the backend different headers",
            kind.program()
        );
    }
}
