//! Scenario: resilience under injected faults. One endpoint of two
//! answers 10% or 30% of its requests with 500, or is down (connections
//! refused); the same GETs go through three configurations of the same
//! two endpoints: none (no retries, no ejection), retries (within a retry
//! budget), and retries + outlier ejection + circuit breaker. Reported:
//! success rate, p50/p99 of the successful requests, and upstream
//! attempts per request (the mocks' recorded requests plus the connect
//! failures the gateway counted). Each fault condition gets a fresh
//! gateway and fresh mocks, so no state carries between them.

mod setup;

use std::time::Duration;

use setup::{CONFIGS, Setup};

use super::RunContext;
use crate::compare::clients::{HttpClient, HttpVersion};
use crate::compare::loadgen::{LoadPlan, Measurement, Stats};
use crate::compare::probes::{Counted, HttpGet};
use crate::compare::report::{ScenarioReport, Table};

/// Fault conditions × configurations (for the progress estimate).
pub const SERIES: usize = FAULTS.len() * CONFIGS.len();

const MEASURES: &str = "GET /v1/users/{id} over HTTP/1.1 keep-alive through a gateway of its \
own in front of two users mock instances (on a runtime of their own), one of which answers 10% \
or 30% of its requests with 500, or refuses connections. Three backends over the same two \
endpoints: none (max_attempts 1, no ejection); retries (3 attempts on connect failure, reset \
and 5xx, backoff 5–50 ms with full jitter, retry budget 20% + 10/s, no ejection); retries + \
breaker (the same retries, outlier ejection at its defaults, circuit_breaker). Open loop at a \
fixed rate; each fault condition on a fresh gateway and fresh mocks. Latencies are of the \
successful requests; attempts per request count the mocks' recorded requests plus the connect \
failures the gateway counted, warm-up included.";

/// What is wrong with the first endpoint.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// This fraction of its requests answer 500.
    Errors(f64),
    /// It refuses connections.
    Down,
}

const FAULTS: [Fault; 3] = [Fault::Errors(0.1), Fault::Errors(0.3), Fault::Down];

impl Fault {
    fn label(self) -> String {
        match self {
            Fault::Errors(rate) => format!("{:.0}% errors on 1 of 2", rate * 100.0),
            Fault::Down => "1 of 2 down".to_owned(),
        }
    }

    async fn apply(self, setup: &Setup) {
        let faulty = &setup.endpoints[0].control;
        match self {
            Fault::Errors(rate) => faulty.set_error_rate(
                rate,
                mock_backends::FaultKind::Http(http::StatusCode::INTERNAL_SERVER_ERROR),
            ),
            Fault::Down => faulty.set_down(true).await,
        }
    }
}

/// One series' figures for the summary.
struct Row {
    fault: String,
    config: &'static str,
    stats: Stats,
    attempts_per_request: f64,
}

pub async fn run(ctx: &RunContext<'_>) -> ScenarioReport {
    let mut report = ScenarioReport::new(
        "resilience",
        "Resilience: retries, budget and breaker under injected faults",
        MEASURES,
    );
    let plan = ctx.profile.resilience();
    let mut rows = Vec::new();
    for fault in FAULTS {
        let setup = match Setup::start(ctx.out_dir, &ctx.env.mocks.store).await {
            Ok(setup) => setup,
            Err(reason) => {
                ctx.skipped(&[plan; CONFIGS.len()]);
                for (label, _) in CONFIGS {
                    report.skip(
                        format!("{label}, {}", fault.label()),
                        "HTTP/1.1",
                        reason.clone(),
                    );
                }
                continue;
            }
        };
        fault.apply(&setup).await;
        for (label, backend) in CONFIGS {
            let row = run_series(ctx, &setup, fault, label, backend, plan).await;
            report.measured(
                format!("{label}, {}", row.fault),
                "HTTP/1.1",
                plan,
                row.stats.clone(),
            );
            rows.push(row);
        }
        setup.stop().await;
    }
    report.summary = Some(table(&rows));
    report.skip_if_empty();
    report
}

async fn run_series(
    ctx: &RunContext<'_>,
    setup: &Setup,
    fault: Fault,
    config: &'static str,
    backend: &str,
    plan: LoadPlan,
) -> Row {
    let client = HttpClient::new(HttpVersion::Http1);
    let probe = HttpGet {
        client: client.clone(),
        uris: setup.uris(backend),
    };
    let probe = Counted::new(probe, client.wire());
    setup.clear_recordings();
    let refused_before = setup.connect_failures(backend).await;
    let mut measurement = Measurement::new();
    let label = format!("resilience: {config}, {}", fault.label());
    ctx.measure_into(&mut measurement, &label, &probe, plan)
        .await;
    let refused = setup.connect_failures(backend).await - refused_before;
    let attempts = setup.recorded() + refused;
    Row {
        fault: fault.label(),
        config,
        stats: measurement.stats(),
        attempts_per_request: attempts as f64 / measurement.calls().max(1) as f64,
    }
}

fn table(rows: &[Row]) -> Table {
    let columns = [
        "fault",
        "configuration",
        "success",
        "p50 ms",
        "p99 ms",
        "upstream attempts / request",
    ];
    Table {
        columns: columns.map(str::to_owned).to_vec(),
        rows: rows
            .iter()
            .map(|row| {
                let total = (row.stats.ok + row.stats.errors).max(1);
                vec![
                    row.fault.clone(),
                    row.config.to_owned(),
                    format!("{:.2}%", row.stats.ok as f64 * 100.0 / total as f64),
                    format!("{:.3}", row.stats.p50),
                    format!("{:.3}", row.stats.p99),
                    format!("{:.3}", row.attempts_per_request),
                ]
            })
            .collect(),
    }
}

/// How long the whole scenario's load runs.
pub fn planned(plan: LoadPlan) -> Duration {
    plan.total() * SERIES as u32
}
