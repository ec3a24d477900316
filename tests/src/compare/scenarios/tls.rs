//! Scenario: TLS termination, the gateway against nginx (issue 17's
//! benchmark). Both terminate TLS with the same certificate ([`setup`])
//! in front of the same orders mock, with as many workers, and are
//! measured in the same run, taking turns in rounds whose order
//! alternates. Per target: requests over kept-alive TLS connections (open
//! loop for latency, closed loop for throughput), a new connection with a
//! full handshake per request (`Connection: close`, no session resumption
//! in the client: handshakes per second), and a new connection resuming a
//! session per request. Each process's CPU time is read around each
//! series, so the summary ([`summary`]) gives CPU per request and per
//! handshake.

mod setup;
mod summary;

use mock_backends::ServiceKind;

use super::{RunContext, order_uris};
use crate::compare::clients::HttpClient;
use crate::compare::clients::tls::{Reuse, TlsConnector};
use crate::compare::cpu::{self, CpuTime};
use crate::compare::gateway_process::GatewayProcess;
use crate::compare::loadgen::{LoadMode, LoadPlan, Measurement};
use crate::compare::needs::Need;
use crate::compare::probes::{Counted, HttpGet, HttpGetNewConnection};
use crate::compare::proxies::ExternalProxy;
use crate::compare::report::ScenarioReport;
use crate::tls::TestCa;
use setup::BenchCertificate;

/// The gateway and nginx (for the progress estimate).
pub const TARGETS: usize = 2;

/// The client column of the report.
const CLIENT: &str = "HTTP/1.1 + TLS";

const MEASURES: &str = "GET /v1/orders/{id} over TLS, through the gateway (a child process: \
the suite's routes.yaml with server.tls, rustls defaults) and through nginx (ssl on its listener, \
TLS 1.2 and 1.3, otherwise its defaults), both serving the same ECDSA P-256 certificate in front \
of the same orders mock with 2 workers each. Series: kept-alive connections (open loop for \
latency, closed loop for throughput); a new connection per request with a full handshake (the \
client keeps no session; Connection: close), open and closed loop; a new connection per request \
resuming a TLS 1.3 session (closed loop). Targets alternate over rounds; CPU time is each \
process's own, read around each series.";

/// What a series measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Series {
    KeepAlive,
    FullHandshake,
    Resumed,
}

impl Series {
    pub fn label(self) -> &'static str {
        match self {
            Series::KeepAlive => "keep-alive",
            Series::FullHandshake => "full handshake per request",
            Series::Resumed => "resumed handshake per request",
        }
    }

    /// Each plan of [`crate::compare::profile::Profile::tls`]'s series.
    pub const OF_PLAN: [Series; 5] = [
        Series::KeepAlive,
        Series::KeepAlive,
        Series::FullHandshake,
        Series::FullHandshake,
        Series::Resumed,
    ];
}

/// A target's clients, one per way of using connections.
struct Probes {
    keep_alive: Counted<HttpGet<TlsConnector>>,
    full: Counted<HttpGetNewConnection<TlsConnector>>,
    resumed: Counted<HttpGetNewConnection<TlsConnector>>,
}

impl Probes {
    fn new(base: &str, ca: &TestCa) -> Probes {
        let uris = order_uris(base, |id| format!("/v1/orders/{id}"));
        let client = |reuse| HttpClient::tls(ca.roots(), setup::SERVER_NAME, reuse);
        let keep_alive = client(Reuse::KeepAlive);
        let wire = keep_alive.wire().clone();
        Probes {
            keep_alive: Counted::new(
                HttpGet {
                    client: keep_alive,
                    uris: uris.clone(),
                },
                &wire,
            ),
            full: new_connection_probe(client(Reuse::FullHandshake), uris.clone()),
            resumed: new_connection_probe(client(Reuse::Resumed), uris),
        }
    }
}

fn new_connection_probe(
    client: HttpClient<TlsConnector>,
    uris: Vec<http::Uri>,
) -> Counted<HttpGetNewConnection<TlsConnector>> {
    let wire = client.wire().clone();
    Counted::new(HttpGetNewConnection { client, uris }, &wire)
}

/// The process serving a target.
enum Process {
    Gateway(GatewayProcess),
    Nginx(ExternalProxy),
}

/// One TLS-terminating proxy under every plan.
struct Target {
    name: &'static str,
    probes: Probes,
    /// One per plan of the profile.
    results: Vec<Measurement>,
    /// The process's CPU time during each plan's runs.
    cpu_used: Vec<CpuTime>,
    /// Each round's closed-loop throughput and CPU per request, per
    /// series, in the order measured (to pair with the other target's).
    rounds: Vec<summary::SeriesRound>,
    /// Protocol, cipher suite and key exchange it negotiated.
    negotiated: String,
    process: Process,
}

impl Target {
    async fn new(name: &'static str, process: Process, ca: &TestCa) -> Target {
        let addr = match &process {
            Process::Gateway(gateway) => gateway.addr,
            Process::Nginx(nginx) => nginx.addr,
        };
        Target {
            name,
            probes: Probes::new(&format!("https://{addr}"), ca),
            results: (0..Series::OF_PLAN.len())
                .map(|_| Measurement::new())
                .collect(),
            cpu_used: vec![CpuTime::default(); Series::OF_PLAN.len()],
            rounds: Vec::new(),
            negotiated: setup::negotiated(addr, ca).await,
            process,
        }
    }

    fn pid(&self) -> u32 {
        match &self.process {
            Process::Gateway(gateway) => gateway.pid(),
            Process::Nginx(nginx) => nginx.pid(),
        }
    }
}

pub async fn run(ctx: &RunContext<'_>) -> ScenarioReport {
    let mut report = ScenarioReport::new("tls", "TLS termination: gateway and nginx", MEASURES);
    let plans = ctx.profile.tls();
    let skip_all = |report: &mut ScenarioReport, name: &str, reason: String| {
        ctx.skipped(&vec![plans; ctx.profile.proxy_rounds()].concat());
        report.skip(name, CLIENT, reason);
    };
    let certificate = match BenchCertificate::write(ctx.out_dir) {
        Ok(certificate) => certificate,
        Err(error) => {
            report.skipped = Some(error.to_string());
            ctx.skipped(&vec![plans; TARGETS * ctx.profile.proxy_rounds()].concat());
            return report;
        }
    };
    let mut targets = Vec::new();
    match start_gateway(ctx, &certificate).await {
        Ok(gateway) => {
            targets.push(Target::new("gateway", Process::Gateway(gateway), &certificate.ca).await)
        }
        Err(reason) => skip_all(&mut report, "gateway", reason),
    }
    match start_nginx(ctx, &certificate).await {
        Ok(nginx) => {
            targets.push(Target::new("nginx", Process::Nginx(nginx), &certificate.ca).await)
        }
        Err(reason) => skip_all(&mut report, "nginx", reason),
    }
    run_rounds(ctx, &mut targets, &plans).await;
    for target in &targets {
        for ((plan, series), measurement) in plans.iter().zip(Series::OF_PLAN).zip(&target.results)
        {
            let name = format!("{}, {}", target.name, series.label());
            report.measured(name, CLIENT, *plan, measurement.stats());
        }
    }
    let rows: Vec<summary::TargetFigures> = targets.iter().map(|t| figures(t, &plans)).collect();
    report.summary = Some(summary::table(&rows));
    report.notes = summary::verdicts(&rows, ctx.profile.proxy_rounds());
    report.skip_if_empty();
    report
}

/// A target's stats and CPU time per series.
fn figures(target: &Target, plans: &[LoadPlan]) -> summary::TargetFigures {
    let per_plan = target
        .results
        .iter()
        .zip(&target.cpu_used)
        .zip(Series::OF_PLAN.into_iter().zip(plans))
        .map(
            |((measurement, cpu), (series, plan))| summary::PlanFigures {
                series,
                plan: *plan,
                stats: measurement.stats(),
                calls: measurement.calls(),
                cpu: *cpu,
            },
        )
        .collect();
    summary::TargetFigures {
        name: target.name,
        negotiated: target.negotiated.clone(),
        plans: per_plan,
        rounds: target.rounds.clone(),
    }
}

async fn start_gateway(
    ctx: &RunContext<'_>,
    certificate: &BenchCertificate,
) -> Result<GatewayProcess, String> {
    let program = ctx
        .gateway_program
        .ok_or("no program to run a gateway child process with (run the compare binary)")?
        .to_owned();
    let (routes, out_dir) = (ctx.env.config_path.clone(), ctx.out_dir.to_owned());
    let files = certificate.files.clone();
    tokio::task::spawn_blocking(move || setup::start_gateway(&program, &routes, &out_dir, &files))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

async fn start_nginx(
    ctx: &RunContext<'_>,
    certificate: &BenchCertificate,
) -> Result<ExternalProxy, String> {
    if let Some(reason) = ctx.unmet(&[Need::Program("nginx")]).await {
        return Err(reason);
    }
    let backend = ctx.env.mocks.service(ServiceKind::OrdersRest).addr;
    let (dir, files) = (ctx.out_dir.to_owned(), certificate.files.clone());
    tokio::task::spawn_blocking(move || ExternalProxy::start_nginx_tls(&dir, backend, &files))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// Every round runs every target under every plan; odd rounds go backward.
async fn run_rounds(ctx: &RunContext<'_>, targets: &mut [Target], plans: &[LoadPlan]) {
    for round in 0..ctx.profile.proxy_rounds() {
        let mut order: Vec<usize> = (0..targets.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for index in order {
            run_target(ctx, &mut targets[index], plans).await;
        }
    }
}

/// One target under every plan, with its process's CPU time around each;
/// then the round's figures per series.
async fn run_target(ctx: &RunContext<'_>, target: &mut Target, plans: &[LoadPlan]) {
    let pid = target.pid();
    let mut this_round = Vec::new();
    for (index, (plan, series)) in plans.iter().zip(Series::OF_PLAN).enumerate() {
        let before = cpu::process_tree(pid);
        let label = format!("{}, {}", target.name, series.label());
        let measurement = &mut target.results[index];
        let (mark, calls_before) = (measurement.mark(), measurement.calls());
        match series {
            Series::KeepAlive => {
                let probe = &target.probes.keep_alive;
                ctx.measure_into(measurement, &label, probe, *plan).await;
            }
            Series::FullHandshake => {
                let probe = &target.probes.full;
                ctx.measure_into(measurement, &label, probe, *plan).await;
            }
            Series::Resumed => {
                let probe = &target.probes.resumed;
                ctx.measure_into(measurement, &label, probe, *plan).await;
            }
        }
        let throughput = matches!(plan.mode, LoadMode::Closed { .. }).then(|| {
            measurement.measured_since(&mark) as f64 / plan.duration.as_secs_f64().max(f64::EPSILON)
        });
        let calls = measurement.calls().saturating_sub(calls_before);
        let used = match (before, cpu::process_tree(pid)) {
            (Some(before), Some(after)) => Some(after.since(before)),
            _ => None,
        };
        if let Some(used) = used {
            target.cpu_used[index].add(used);
        }
        this_round.push(summary::PlanRound {
            series,
            throughput,
            calls,
            cpu: used,
        });
    }
    target.rounds.extend(summary::by_series(&this_round));
}
