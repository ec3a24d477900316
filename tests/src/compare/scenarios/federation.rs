//! Scenario: federated GraphQL, the gateway's `/graphql` side by side
//! with Hive Router (the fastest published federation router) on the same
//! supergraph file over the same mock subgraphs, for three operations: one
//! subgraph; four subgraphs with `@requires`; a list of ten orders with
//! their customers and products (entity batching). Both routers are first
//! checked to return identical `data`. The targets take turns in rounds
//! whose order alternates, as in the proxy scenario.

mod summary;

use std::time::Duration;

use bytes::Bytes;
use http::Method;
use serde_json::{Value, json};

use super::paired::RoundFigures;
use super::{RunContext, order_ids};
use crate::compare::clients::{HttpClient, HttpVersion};
use crate::compare::cpu::{self, CpuTime};
use crate::compare::environment::{GATEWAY_THREADS, SERVER_THREADS};
use crate::compare::loadgen::{LoadMode, Measurement};
use crate::compare::needs::Need;
use crate::compare::probes::{Counted, GraphqlPost};
use crate::compare::report::ScenarioReport;
use crate::compare::routers::{HIVE_ROUTER, HIVE_ROUTER_PROGRAM, HiveRouter};

/// Operations × routers (for the progress estimate).
pub const SERIES: usize = OPERATIONS.len() * 2;

const MEASURES: &str = "POST /graphql over HTTP/1.1 keep-alive with three operations — one \
subgraph; four subgraphs with @requires; ten orders with customers and products (entity \
batching) — through the gateway and through Hive Router (when installed: `cargo install \
hive-router@0.2.0 --locked`) on the same supergraph file and mock subgraphs, with the same \
worker count. Open loop at a fixed rate for latency, closed loop for the most throughput; \
targets alternate over several rounds. CPU is each router's own (the gateway's worker and \
planning threads; Hive Router's process).";

/// The three operations: label, query, and whether it takes an order id.
const OPERATIONS: [(&str, &str, bool); 3] = [
    (
        "one subgraph",
        "query OneSubgraph($id: ID!) { order(id: $id) { id status total createdAt } }",
        true,
    ),
    (
        "four subgraphs, @requires",
        "query FourSubgraphs($id: ID!) { order(id: $id) { id status total \
         customer { name } items { quantity product { name sku weightGrams } } \
         payment { status payer { name } } shippingEstimate } }",
        true,
    ),
    (
        "10 orders, customers, products",
        "query TenOrders { orders(first: 10) { nodes { id total customer { name } \
         items { quantity product { name sku } } } } }",
        false,
    ),
];

/// One router under load.
struct Target {
    name: &'static str,
    /// One probe per operation.
    probes: Vec<Counted<GraphqlPost>>,
    /// Per operation, one measurement per plan.
    results: Vec<Vec<Measurement>>,
    /// Per operation, the router's CPU time over its runs.
    cpu_used: Vec<CpuTime>,
    /// Per operation, the figures of each round (for pairing by round).
    rounds: Vec<Vec<RoundFigures>>,
    cpu: CpuSource,
    _router: Option<HiveRouter>,
}

#[derive(Clone, Copy)]
enum CpuSource {
    Gateway,
    Process(u32),
}

impl CpuSource {
    fn read(self) -> Option<CpuTime> {
        match self {
            CpuSource::Gateway => {
                let mut total = cpu::threads_named(GATEWAY_THREADS)?;
                // The planning pool's threads work for the gateway too.
                total.add(cpu::threads_named("graphql-plan-")?);
                Some(total)
            }
            CpuSource::Process(pid) => cpu::process_tree(pid),
        }
    }
}

pub async fn run(ctx: &RunContext<'_>) -> ScenarioReport {
    let mut report = ScenarioReport::new(
        "federation",
        "Federated GraphQL: gateway and Hive Router",
        MEASURES,
    );
    let plans = ctx.profile.proxy();
    let rounds = ctx.profile.proxy_rounds();
    let need = Need::Route {
        feature: "federated GraphQL",
        method: Method::POST,
        path: "/graphql".to_owned(),
    };
    if let Some(reason) = ctx.unmet(&[need]).await {
        ctx.skipped(&vec![plans; SERIES * rounds].concat());
        report.skipped = Some(reason);
        return report;
    }
    let mut targets = vec![target(
        "gateway",
        &format!("{}/graphql", ctx.env.gateway_base()),
        CpuSource::Gateway,
        None,
    )];
    match start_hive_router(ctx).await {
        Ok(router) => {
            let url = router.graphql_url();
            let cpu = CpuSource::Process(router.pid());
            targets.push(target(HIVE_ROUTER, &url, cpu, Some(router)));
        }
        Err(reason) => {
            ctx.skipped(&vec![plans; OPERATIONS.len() * rounds].concat());
            for (label, _, _) in OPERATIONS {
                report.skip(HIVE_ROUTER, label, reason.clone());
            }
        }
    }
    report.notes.extend(same_data(&targets).await);
    for round in 0..rounds {
        let mut order: Vec<usize> = (0..targets.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for index in order {
            run_target(ctx, &mut targets[index]).await;
        }
    }
    for target in &targets {
        for (op, (label, _, _)) in OPERATIONS.iter().enumerate() {
            for (plan, measurement) in plans.iter().zip(&target.results[op]) {
                report.measured(target.name, label, *plan, measurement.stats());
            }
        }
    }
    let cpu: Vec<summary::RouterCpu> = targets
        .iter()
        .map(|t| summary::RouterCpu {
            name: t.name,
            per_operation: (0..OPERATIONS.len())
                .map(|op| cpu_per_request(t, op))
                .collect(),
            rounds: t.rounds.clone(),
        })
        .collect();
    let labels: Vec<&str> = OPERATIONS.iter().map(|(label, _, _)| *label).collect();
    report.summary = Some(summary::table(&report, &labels, &cpu));
    report
        .notes
        .extend(summary::verdicts(&report, &labels, &cpu));
    report
}

fn target(name: &'static str, url: &str, cpu: CpuSource, router: Option<HiveRouter>) -> Target {
    let uri: http::Uri = url.parse().unwrap_or_default();
    let probes = OPERATIONS
        .iter()
        .map(|(_, query, by_id)| {
            let client = HttpClient::new(HttpVersion::Http1);
            let probe = GraphqlPost {
                client: client.clone(),
                uri: uri.clone(),
                bodies: bodies(query, *by_id),
            };
            Counted::new(probe, client.wire())
        })
        .collect();
    Target {
        name,
        probes,
        results: OPERATIONS
            .iter()
            .map(|_| vec![Measurement::new(), Measurement::new()])
            .collect(),
        cpu_used: vec![CpuTime::default(); OPERATIONS.len()],
        rounds: vec![Vec::new(); OPERATIONS.len()],
        cpu,
        _router: router,
    }
}

/// One body per seeded order for operations that take an id, else one.
fn bodies(query: &str, by_id: bool) -> Vec<Bytes> {
    if !by_id {
        return vec![Bytes::from(json!({ "query": query }).to_string())];
    }
    order_ids()
        .iter()
        .map(|id| Bytes::from(json!({ "query": query, "variables": { "id": id } }).to_string()))
        .collect()
}

async fn start_hive_router(ctx: &RunContext<'_>) -> Result<HiveRouter, String> {
    if let Some(reason) = ctx.unmet(&[Need::Program(HIVE_ROUTER_PROGRAM)]).await {
        return Err(reason);
    }
    let supergraph = ctx.out_dir.join("gateway").join("supergraph.graphql");
    if !supergraph.is_file() {
        return Err(format!("no supergraph file at {}", supergraph.display()));
    }
    let dir = ctx.out_dir.join(HIVE_ROUTER);
    tokio::task::spawn_blocking(move || HiveRouter::start(&dir, &supergraph, SERVER_THREADS))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// Notes on whether every router returned the gateway's `data` for each
/// operation (the first request body of each).
async fn same_data(targets: &[Target]) -> Vec<String> {
    let mut notes = Vec::new();
    for (op, (label, _, _)) in OPERATIONS.iter().enumerate() {
        let mut answers = Vec::new();
        for target in targets {
            let probe = &target.probes[op].probe;
            let Some(body) = probe.bodies.first() else {
                continue;
            };
            let data = match probe.client.post_json(&probe.uri, body.clone()).await {
                Ok(bytes) => serde_json::from_slice::<Value>(&bytes)
                    .map_or(Value::Null, |v| v["data"].clone()),
                Err(error) => {
                    notes.push(format!("{label}: {} did not answer: {error}", target.name));
                    Value::Null
                }
            };
            answers.push((target.name, data));
        }
        if let Some(((first, reference), rest)) = answers.split_first() {
            for (name, data) in rest {
                let verdict = if data == reference {
                    "identical"
                } else {
                    "DIFFERENT"
                };
                notes.push(format!(
                    "{label}: {name}'s data is {verdict} to the {first}'s"
                ));
            }
        }
    }
    notes
}

/// Every operation under every plan, with the router's CPU time around
/// each; the round's figures of each operation are kept for pairing.
async fn run_target(ctx: &RunContext<'_>, target: &mut Target) {
    let plans = ctx.profile.proxy();
    for (op, (operation, _, _)) in OPERATIONS.iter().enumerate() {
        let before = target.cpu.read();
        let calls_before: u64 = target.results[op].iter().map(Measurement::calls).sum();
        let mut throughput = None;
        for (plan, measurement) in plans.iter().zip(&mut target.results[op]) {
            let label = format!("{} {operation}", target.name);
            let mark = measurement.mark();
            ctx.measure_into(measurement, &label, &target.probes[op], *plan)
                .await;
            if matches!(plan.mode, LoadMode::Closed { .. }) {
                let measured = measurement.measured_since(&mark) as f64;
                throughput = Some(measured / plan.duration.as_secs_f64().max(f64::EPSILON));
            }
        }
        let calls = target.results[op]
            .iter()
            .map(Measurement::calls)
            .sum::<u64>()
            .saturating_sub(calls_before);
        let mut cpu_per_request = None;
        if let (Some(before), Some(after)) = (before, target.cpu.read()) {
            let used = after.since(before);
            cpu_per_request = Some(used.total().as_secs_f64() * 1e6 / calls.max(1) as f64);
            target.cpu_used[op].add(used);
        }
        target.rounds[op].push(RoundFigures {
            throughput,
            cpu_per_request,
        });
    }
}

/// The router's CPU µs per request of operation `op` (warm-up included).
fn cpu_per_request(target: &Target, op: usize) -> Option<f64> {
    target.cpu.read()?;
    let calls: u64 = target.results[op].iter().map(Measurement::calls).sum();
    let used = target.cpu_used[op];
    let total: Duration = used.user + used.system;
    Some(total.as_secs_f64() * 1e6 / calls.max(1) as f64)
}
