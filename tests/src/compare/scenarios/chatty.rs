//! Scenario 1, chatty client against BFF, with the seed's latencies
//! (orders 50 ms, users 30, products 40, payments 20): the same order
//! details fetched by a client making four calls (sequentially, then with
//! the last three in parallel), by one call to the composed route
//! (sequential and parallel mode), and by one federated GraphQL query.

use http::Method;
use mock_backends::ServiceKind;

use super::protocols::gateway_graphql_probe;
use super::{RunContext, order_ids, order_uris};
use crate::compare::clients::{HttpClient, HttpVersion};
use crate::compare::environment::suite_config::{COMPOSED_PATH, COMPOSED_SEQUENTIAL_PATH};
use crate::compare::needs::Need;
use crate::compare::probes::{ChattyClient, Counted, Fanout, HttpGet};
use crate::compare::report::ScenarioReport;

/// Number of series (for the progress estimate).
pub const SERIES: usize = 5;

const MEASURES: &str = "The seed's order-details page: the order, its customer, its products \
and its payment, with the seed's latencies injected in the mocks (orders 50 ms, users 30, \
products 40, payments 20). A client that makes the four calls itself through the gateway's \
proxy routes (one after another, or the last three at once), against one call to the \
gateway's composed route without caches (sequential and parallel mode) and one federated GraphQL query. \
Open loop at a steady rate; the floor is the critical path of the parallel plan.";

pub async fn run(ctx: &RunContext<'_>) -> ScenarioReport {
    let mut report = ScenarioReport::new("chatty", "Chatty client against BFF", MEASURES);
    ctx.env.set_seed_latencies(true);
    chatty_series(
        ctx,
        &mut report,
        Fanout::Sequential,
        "chatty client, 4 calls, sequential",
    )
    .await;
    chatty_series(
        ctx,
        &mut report,
        Fanout::Parallel,
        "chatty client, 4 calls, last 3 parallel",
    )
    .await;
    composed_series(
        ctx,
        &mut report,
        COMPOSED_SEQUENTIAL_PATH,
        "composed route, sequential mode",
    )
    .await;
    composed_series(
        ctx,
        &mut report,
        COMPOSED_PATH,
        "composed route, parallel mode",
    )
    .await;
    graphql_series(ctx, &mut report).await;
    ctx.env.set_seed_latencies(false);
    report.notes.push(critical_path_note());
    report.skip_if_empty();
    report
}

/// Orders first, then the slowest of users, products and payments.
fn critical_path_note() -> String {
    let ms = |kind: ServiceKind| kind.seed_latency().as_millis();
    let fanout = [
        ServiceKind::Users,
        ServiceKind::Products,
        ServiceKind::Payments,
    ];
    let slowest = fanout.into_iter().map(ms).max().unwrap_or(0);
    let sum: u128 = fanout.into_iter().map(ms).sum();
    let order = ms(ServiceKind::OrdersRest);
    format!(
        "critical-path floor (parallel): {} ms = orders {order} + slowest of users/products/payments {slowest}; \
         sequential floor: {} ms",
        order + slowest,
        order + sum
    )
}

async fn chatty_series(
    ctx: &RunContext<'_>,
    report: &mut ScenarioReport,
    fanout: Fanout,
    name: &str,
) {
    let client = HttpClient::new(HttpVersion::Http1);
    let probe = ChattyClient {
        client: client.clone(),
        base: ctx.env.gateway_base(),
        order_ids: order_ids(),
        fanout,
    };
    let plan = ctx.profile.chatty();
    let stats = ctx
        .measure(name, &Counted::new(probe, client.wire()), plan)
        .await;
    report.measured(name, "HTTP/1.1", plan, stats);
}

async fn composed_series(
    ctx: &RunContext<'_>,
    report: &mut ScenarioReport,
    template: &str,
    name: &str,
) {
    let plan = ctx.profile.chatty();
    let example = template.replace("{id}", &order_ids()[0]);
    let needs = [Need::Route {
        feature: "composition",
        method: Method::GET,
        path: example,
    }];
    if let Some(mut reason) = ctx.unmet(&needs).await {
        if let Some(rejected) = &ctx.env.rejected_routes {
            reason.push_str(&format!(
                " (the suite's composed routes were rejected: {rejected})"
            ));
        }
        ctx.skipped(&[plan]);
        return report.skip(name, "HTTP/1.1", reason);
    }
    let client = HttpClient::new(HttpVersion::Http1);
    let uris = order_uris(&ctx.env.gateway_base(), |id| template.replace("{id}", id));
    let probe = HttpGet {
        client: client.clone(),
        uris,
    };
    let stats = ctx
        .measure(name, &Counted::new(probe, client.wire()), plan)
        .await;
    report.measured(name, "HTTP/1.1", plan, stats);
}

/// The order-details page as one federated query: the subgraphs take the
/// seed's latencies too (each domain's subgraph those of its service), so
/// the plan (orders, then users, products and payments in parallel) pays
/// the same critical path as the composed route.
const DETAILS_QUERY: &str = "query Details($id: ID!) { order(id: $id) { id status total \
customer { name } items { quantity product { name price } } payment { status amount } } }";

async fn graphql_series(ctx: &RunContext<'_>, report: &mut ScenarioReport) {
    let name = "federated GraphQL query";
    let plan = ctx.profile.chatty();
    let needs = [Need::Route {
        feature: "federated GraphQL",
        method: Method::POST,
        path: "/graphql".to_owned(),
    }];
    if let Some(reason) = ctx.unmet(&needs).await {
        ctx.skipped(&[plan]);
        return report.skip(name, "GraphQL", reason);
    }
    let probe = gateway_graphql_probe(ctx, DETAILS_QUERY);
    let stats = ctx.measure(name, &probe, plan).await;
    report.measured(name, "GraphQL", plan, stats);
}
