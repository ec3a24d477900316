//! Scenario 2, protocols with no injected latency: the same GetOrder as
//! REST/JSON and gRPC straight to the mocks, then through the gateway as
//! REST (HTTP/1.1 and h2c), as REST transcoded to gRPC, and as GraphQL.
//! The seed's "gRPC is 2-10x faster than JSON/REST" claim, with payload
//! sizes.

use bytes::Bytes;
use http::Method;
use serde_json::json;

use super::{RunContext, order_ids, order_uris};
use crate::compare::clients::{GrpcClient, HttpClient, HttpVersion};
use crate::compare::loadgen::Probe;
use crate::compare::needs::Need;
use crate::compare::probes::{Counted, GraphqlPost, GrpcGetOrder, HttpGet};
use crate::compare::report::ScenarioReport;

/// Number of series (for the progress estimate).
pub const SERIES: usize = 7;

/// The gRPC bridge's transcoded GetOrder.
pub const TRANSCODED_PATH: &str = "/grpc/v1/orders/{id}";

const MEASURES: &str = "One GetOrder, no injected latency, over each protocol: REST/JSON and \
gRPC straight to the mock services, then REST/JSON through the gateway (HTTP/1.1 and h2c), \
native gRPC through the gateway's passthrough route, REST transcoded by the gateway's gRPC bridge, and GraphQL through the gateway. Each series \
runs open loop at a fixed rate (latency) and closed loop at a fixed concurrency (throughput).";

pub async fn run(ctx: &RunContext<'_>) -> ScenarioReport {
    let mut report = ScenarioReport::new("protocols", "Protocols: the same GetOrder", MEASURES);
    let direct = ctx.env.mocks.orders.url();
    let version = HttpVersion::Http1;
    http_series(
        ctx,
        &mut report,
        "REST/JSON direct",
        version,
        rest_uris(&direct),
    )
    .await;
    let grpc_direct = ctx.env.mocks.orders_grpc.url();
    grpc_series(ctx, &mut report, "gRPC direct", &grpc_direct, &[]).await;
    through_gateway(ctx, &mut report).await;
    report.skip_if_empty();
    report
}

/// Every series that goes through the gateway.
async fn through_gateway(ctx: &RunContext<'_>, report: &mut ScenarioReport) {
    let gateway = ctx.env.gateway_base();
    let (h1, h2c) = (HttpVersion::Http1, HttpVersion::H2c);
    http_series(
        ctx,
        report,
        "REST/JSON via gateway",
        h1,
        rest_uris(&gateway),
    )
    .await;
    http_series(
        ctx,
        report,
        "REST/JSON via gateway, h2c",
        h2c,
        rest_uris(&gateway),
    )
    .await;
    let passthrough = Need::Route {
        feature: "the gRPC bridge's passthrough",
        method: Method::POST,
        path: "/orders.OrderService/GetOrder".to_owned(),
    };
    let name = "gRPC via gateway (passthrough)";
    grpc_series(ctx, report, name, &gateway, &[passthrough]).await;
    transcoded_series(ctx, report).await;
    graphql_series(ctx, report).await;
}

/// `GET {base}/v1/orders/{id}` for every seeded order.
fn rest_uris(base: &str) -> Vec<http::Uri> {
    order_uris(base, |id| format!("/v1/orders/{id}"))
}

async fn http_series(
    ctx: &RunContext<'_>,
    report: &mut ScenarioReport,
    name: &str,
    version: HttpVersion,
    uris: Vec<http::Uri>,
) {
    let client = HttpClient::new(version);
    let probe = Counted::new(
        HttpGet {
            client: client.clone(),
            uris,
        },
        client.wire(),
    );
    let label = if version == HttpVersion::H2c {
        "h2c"
    } else {
        "HTTP/1.1"
    };
    run_plans(ctx, report, name, label, &probe).await;
}

async fn grpc_series(
    ctx: &RunContext<'_>,
    report: &mut ScenarioReport,
    name: &str,
    base: &str,
    needs: &[Need],
) {
    if let Some(reason) = ctx.unmet(needs).await {
        ctx.skipped(&ctx.profile.protocols());
        return report.skip(name, "gRPC", reason);
    }
    match GrpcClient::connect(base.parse().unwrap_or_default()).await {
        Ok(client) => {
            let probe = GrpcGetOrder {
                client: client.clone(),
                order_ids: order_ids(),
            };
            run_plans(
                ctx,
                report,
                name,
                "gRPC",
                &Counted::new(probe, client.wire()),
            )
            .await;
        }
        Err(error) => {
            ctx.skipped(&ctx.profile.protocols());
            report.skip(name, "gRPC", format!("cannot connect to {base}: {error}"));
        }
    }
}

async fn transcoded_series(ctx: &RunContext<'_>, report: &mut ScenarioReport) {
    let name = "gRPC transcoded by the gateway";
    let path = TRANSCODED_PATH.replace("{id}", &order_ids()[0]);
    let needs = [Need::Route {
        feature: "the gRPC bridge",
        method: Method::GET,
        path,
    }];
    if let Some(reason) = ctx.unmet(&needs).await {
        ctx.skipped(&ctx.profile.protocols());
        return report.skip(name, "HTTP/1.1", reason);
    }
    let uris = order_uris(&ctx.env.gateway_base(), |id| {
        TRANSCODED_PATH.replace("{id}", id)
    });
    http_series(ctx, report, name, HttpVersion::Http1, uris).await;
}

async fn graphql_series(ctx: &RunContext<'_>, report: &mut ScenarioReport) {
    let name = "GraphQL via gateway";
    let needs = [Need::Route {
        feature: "federated GraphQL",
        method: Method::POST,
        path: "/graphql".to_owned(),
    }];
    if let Some(reason) = ctx.unmet(&needs).await {
        ctx.skipped(&ctx.profile.protocols());
        return report.skip(name, "GraphQL", reason);
    }
    let probe = gateway_graphql_probe(ctx, GET_ORDER_QUERY);
    run_plans(ctx, report, name, "GraphQL", &probe).await;
}

async fn run_plans<P: Probe>(
    ctx: &RunContext<'_>,
    report: &mut ScenarioReport,
    name: &str,
    client: &str,
    probe: &Counted<P>,
) {
    for plan in ctx.profile.protocols() {
        let stats = ctx.measure(name, probe, plan).await;
        report.measured(name, client, plan, stats);
    }
}

/// The GetOrder fields the orders subgraph has (the customer lives in the
/// users subgraph, so `customer_id` has no counterpart here).
const GET_ORDER_QUERY: &str = "query GetOrder($id: ID!) { order(id: $id) { id status total \
createdAt items { quantity unitPrice product { id } } } }";

/// A counted probe POSTing `query` (one body per seeded order) to the
/// gateway's `/graphql` over HTTP/1.1.
pub(super) fn gateway_graphql_probe(ctx: &RunContext<'_>, query: &str) -> Counted<GraphqlPost> {
    let client = HttpClient::new(HttpVersion::Http1);
    let probe = GraphqlPost {
        client: client.clone(),
        uri: format!("{}/graphql", ctx.env.gateway_base())
            .parse()
            .unwrap_or_default(),
        bodies: graphql_bodies(query),
    };
    Counted::new(probe, client.wire())
}

/// One request body per seeded order: `{"query": ..., "variables": {"id": ...}}`.
fn graphql_bodies(query: &str) -> Vec<Bytes> {
    order_ids()
        .iter()
        .map(|id| Bytes::from(json!({ "query": query, "variables": { "id": id } }).to_string()))
        .collect()
}
