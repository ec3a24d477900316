//! Scenario 3, proxy overhead: GetOrder straight to the orders mock, and
//! through the gateway, nginx and HAProxy in front of that same mock, plus
//! the gateway in four child processes whose observability differs
//! ([`observability`]). The targets take turns in rounds whose order
//! alternates (forward, then backward), so drift on a shared machine is
//! spread over all of them.

mod observability;
mod rate_limit_rows;
mod side_by_side;
mod summary;

use std::net::SocketAddr;
use std::time::Duration;

use mock_backends::ServiceKind;

use super::{RunContext, order_uris};
use crate::compare::clients::{HttpClient, HttpVersion};
use crate::compare::cpu::{self, CpuTime};
use crate::compare::environment::GATEWAY_THREADS;
use crate::compare::gateway_process::GatewayProcess;
use crate::compare::loadgen::{LoadMode, Measurement};
use crate::compare::needs::Need;
use crate::compare::probes::{Counted, HttpGet};
use crate::compare::proxies::{ExternalProxy, ProxyKind};
use crate::compare::report::ScenarioReport;
use crate::otlp::{self, Collector};
use crate::redis_server::RedisServer;
use observability::ObservabilityRow;
use rate_limit_rows::LimiterRow;

/// Direct, gateway, nginx, HAProxy, the four observability rows and the
/// two rate-limiter rows (for the progress estimate).
pub const TARGETS: usize = 10;
/// The cost rows measured again beside the off row, closed loop only.
pub use side_by_side::ROW_COUNT as SIDE_BY_SIDE_ROWS;

const MEASURES: &str = "GET /v1/orders/{id} over HTTP/1.1 keep-alive, straight to the orders \
mock and through each proxy in front of it: the gateway (its plain proxy route), nginx and \
HAProxy (configs written by the suite: same worker count as the gateway's worker threads, upstream \
keep-alive, no access log). Then the gateway in child processes of its own on the same route, \
differing only in observability: off (no access log, no metrics, no traces), JSON access log to \
a file + metrics, traces at 1% and at 100% sampling exported over OTLP/gRPC to a receiver in \
the suite's process. Then the observability-off child with one global rate limit that never \
refuses, kept in local memory, and in a redis-server the suite starts. Open loop at a fixed rate for the added latency, closed loop for the most \
throughput; targets alternate over several rounds. Last, each observability and rate-limit row \
is loaded at the same time as an observability-off child, each by its own closed loop, and \
their CPU time per request is compared over the same seconds (the machine's swings hit both); \
both children are started afresh for every such round and warmed outside the CPU window, so a \
process's own luck is sampled rather than fixed; an off child beside an off child (the twin) is \
measured that way first, and its reading is the measure's noise in the run.";

/// The proxy's CPU time per request it served (warm-up included), in µs.
fn cpu_per_request(target: &Target) -> Option<summary::CpuPerRequest> {
    target.cpu.read()?;
    let calls: u64 = target.results.iter().map(Measurement::calls).sum();
    let per_request = |time: Duration| time.as_secs_f64() * 1e6 / calls.max(1) as f64;
    Some(summary::CpuPerRequest {
        user: per_request(target.cpu_used.user),
        system: per_request(target.cpu_used.system),
    })
}

/// One thing to send load to.
struct Target {
    name: &'static str,
    probe: Counted<HttpGet>,
    results: Vec<Measurement>,
    /// Where the proxy's CPU time is read (none for direct).
    cpu: CpuSource,
    /// The proxy's CPU time over this target's runs.
    cpu_used: CpuTime,
    /// The process serving it, stopped when the target is dropped (or
    /// when the side-by-side phase starts: see [`stop_children`]).
    process: Option<ChildProcess>,
    /// The open loop's p50 (ms) of each round, for the direct series' noise.
    round_p50s: Vec<f64>,
    /// The closed loop's throughput and the CPU per request of each
    /// round, to pair rows measured side by side in the same round.
    rounds: Vec<summary::RoundFigures>,
}

/// A target's own process.
enum ChildProcess {
    Reference(ExternalProxy),
    Gateway(GatewayProcess),
}

impl ChildProcess {
    fn pid(&self) -> u32 {
        match self {
            ChildProcess::Reference(proxy) => proxy.pid(),
            ChildProcess::Gateway(gateway) => gateway.pid(),
        }
    }

    fn base(&self) -> String {
        match self {
            ChildProcess::Reference(proxy) => proxy.base(),
            ChildProcess::Gateway(gateway) => gateway.base(),
        }
    }
}

/// A target served by `process`, whose CPU time is the process tree's.
fn process_target(name: &'static str, process: ChildProcess) -> Target {
    let (base, cpu) = (process.base(), CpuSource::Process(process.pid()));
    target(name, base, cpu, Some(process))
}

/// Whose CPU time a target's runs cost.
#[derive(Clone, Copy)]
enum CpuSource {
    None,
    GatewayThreads,
    Process(u32),
}

impl CpuSource {
    fn read(self) -> Option<CpuTime> {
        match self {
            CpuSource::None => None,
            CpuSource::GatewayThreads => cpu::threads_named(GATEWAY_THREADS),
            CpuSource::Process(pid) => cpu::process_tree(pid),
        }
    }
}

pub async fn run(ctx: &RunContext<'_>) -> ScenarioReport {
    let mut report = ScenarioReport::new("proxy", "Proxy overhead", MEASURES);
    let mut targets = vec![
        target("direct", ctx.env.mocks.orders.url(), CpuSource::None, None),
        target(
            "gateway",
            ctx.env.gateway_base(),
            CpuSource::GatewayThreads,
            None,
        ),
    ];
    for kind in [ProxyKind::Nginx, ProxyKind::Haproxy] {
        match start_proxy(ctx, kind).await {
            Ok(proxy) => {
                targets.push(process_target(
                    kind.program(),
                    ChildProcess::Reference(proxy),
                ));
            }
            Err(reason) => {
                ctx.skipped(&vec![ctx.profile.proxy(); ctx.profile.proxy_rounds()].concat());
                report.skip(kind.program(), "HTTP/1.1", reason);
            }
        }
    }
    let spans = Collector::counting();
    let otlp = start_observability_rows(ctx, &mut report, &mut targets, &spans).await;
    let redis = start_rate_limit_rows(ctx, &mut report, &mut targets).await;
    run_rounds(ctx, &mut targets, &spans).await;
    // Read while the children still run (a stopped one has no CPU time).
    let cpu: Vec<(&str, Option<summary::CpuPerRequest>)> = targets
        .iter()
        .map(|t| (t.name, cpu_per_request(t)))
        .collect();
    let started_rows = stop_children(&mut targets);
    let children = FreshChildren {
        ctx,
        otlp,
        redis: redis.as_ref().map(|redis| redis.addr),
    };
    let side_by_side = side_by_side::measure(ctx, &started_rows, &children, &spans).await;
    for target in &targets {
        for (plan, measurement) in ctx.profile.proxy().into_iter().zip(&target.results) {
            report.measured(target.name, "HTTP/1.1", plan, measurement.stats());
        }
    }
    report.summary = Some(summary::table(&report, &cpu));
    report.notes = summary::verdicts(&report, ctx.profile.proxy_rounds(), &cpu);
    let direct_p50s = targets
        .iter()
        .find(|t| t.name == "direct")
        .map_or(&[][..], |t| &t.round_p50s);
    let rounds: Vec<(&str, &[summary::RoundFigures])> = targets
        .iter()
        .map(|t| (t.name, t.rounds.as_slice()))
        .collect();
    let judged_beside = side_by_side::judged(&side_by_side);
    report.notes.extend(summary::observability_notes(
        &report,
        direct_p50s,
        &rounds,
        &judged_beside,
    ));
    report
        .notes
        .extend(rate_limit_rows::notes(&report, &judged_beside));
    report.notes.extend(side_by_side::notes(&side_by_side));
    if targets.iter().any(|t| t.name.contains("tracing")) {
        let received = spans.received();
        let warning = if received == 0 {
            " (WARNING: the tracing rows exported nothing, so their figures leave out the export)"
        } else {
            ""
        };
        report.notes.push(format!(
            "spans received by the suite's OTLP receiver: {received}{warning}"
        ));
    }
    report
}

/// Starts the four observability rows' gateways (skipped with the reason
/// when one cannot start, or when no program to run them was given);
/// returns the address of the OTLP receiver their spans go to.
async fn start_observability_rows(
    ctx: &RunContext<'_>,
    report: &mut ScenarioReport,
    targets: &mut Vec<Target>,
    spans: &Collector,
) -> SocketAddr {
    let otlp = otlp::serve_grpc(spans.clone()).await;
    for row in ObservabilityRow::ALL {
        match start_row(ctx, row, otlp).await {
            Ok(process) => {
                targets.push(process_target(row.name(), ChildProcess::Gateway(process)));
            }
            Err(reason) => {
                ctx.skipped(&vec![ctx.profile.proxy(); ctx.profile.proxy_rounds()].concat());
                report.skip(row.name(), "HTTP/1.1", reason);
            }
        }
    }
    otlp
}

/// Stops every child process (the reference proxies and the gateway
/// children: the side-by-side phase starts its own, and a row's child
/// holds its event store's file); returns the names of the gateway
/// children that had started.
fn stop_children(targets: &mut [Target]) -> Vec<&'static str> {
    let mut started = Vec::new();
    for target in targets {
        if let Some(ChildProcess::Gateway(_)) = target.process.take() {
            started.push(target.name);
        }
    }
    started
}

/// Starts a cost row's gateway child afresh, by the row's name (the
/// side-by-side phase's rounds).
struct FreshChildren<'a> {
    ctx: &'a RunContext<'a>,
    otlp: SocketAddr,
    /// The Redis row's server, when it started.
    redis: Option<SocketAddr>,
}

impl FreshChildren<'_> {
    async fn start(&self, name: &str) -> Result<Target, String> {
        let mut observability = ObservabilityRow::ALL
            .into_iter()
            .chain([ObservabilityRow::OffTwin]);
        let (name, process) = if let Some(row) = observability.find(|r| r.name() == name) {
            (row.name(), start_row(self.ctx, row, self.otlp).await?)
        } else if let Some(row) = LimiterRow::ALL.into_iter().find(|r| r.name() == name) {
            (
                row.name(),
                start_limiter_row(self.ctx, row, self.redis).await?,
            )
        } else {
            return Err(format!("no gateway child is called {name}"));
        };
        Ok(process_target(name, ChildProcess::Gateway(process)))
    }
}

/// Starts the rate-limiter rows; the Redis row's server is returned, to
/// live as long as the targets (none when redis-server cannot start).
async fn start_rate_limit_rows(
    ctx: &RunContext<'_>,
    report: &mut ScenarioReport,
    targets: &mut Vec<Target>,
) -> Option<RedisServer> {
    let can_run_children = ctx.gateway_program.is_some();
    let redis = match ctx.unmet(&[Need::Program("redis-server")]).await {
        None if can_run_children => Some(RedisServer::start().await),
        _ => None,
    };
    for row in LimiterRow::ALL {
        let started = match (row, &redis) {
            (LimiterRow::Redis, None) if can_run_children => {
                Err("redis-server is not installed".to_owned())
            }
            _ => start_limiter_row(ctx, row, redis.as_ref().map(|r| r.addr)).await,
        };
        match started {
            Ok(process) => {
                targets.push(process_target(row.name(), ChildProcess::Gateway(process)));
            }
            Err(reason) => {
                ctx.skipped(&vec![ctx.profile.proxy(); ctx.profile.proxy_rounds()].concat());
                report.skip(row.name(), "HTTP/1.1", reason);
            }
        }
    }
    redis
}

async fn start_limiter_row(
    ctx: &RunContext<'_>,
    row: LimiterRow,
    redis: Option<SocketAddr>,
) -> Result<GatewayProcess, String> {
    let program = ctx
        .gateway_program
        .ok_or("no program to run a gateway child process with (run the compare binary)")?
        .to_owned();
    let routes = ctx.env.config_path.clone();
    let out_dir = ctx.out_dir.to_owned();
    tokio::task::spawn_blocking(move || row.start(&program, &routes, &out_dir, redis))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

async fn start_row(
    ctx: &RunContext<'_>,
    row: ObservabilityRow,
    otlp: SocketAddr,
) -> Result<GatewayProcess, String> {
    let program = ctx
        .gateway_program
        .ok_or("no program to run a gateway child process with (run the compare binary)")?
        .to_owned();
    let routes = ctx.env.config_path.clone();
    let out_dir = ctx.out_dir.to_owned();
    tokio::task::spawn_blocking(move || row.start(&program, &routes, &out_dir, otlp))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

fn target(
    name: &'static str,
    base: String,
    cpu: CpuSource,
    process: Option<ChildProcess>,
) -> Target {
    let client = HttpClient::new(HttpVersion::Http1);
    let uris = order_uris(&base, |id| format!("/v1/orders/{id}"));
    Target {
        name,
        probe: Counted::new(
            HttpGet {
                client: client.clone(),
                uris,
            },
            client.wire(),
        ),
        results: vec![Measurement::new(), Measurement::new()],
        cpu,
        cpu_used: CpuTime::default(),
        process,
        round_p50s: Vec::new(),
        rounds: Vec::new(),
    }
}

async fn start_proxy(ctx: &RunContext<'_>, kind: ProxyKind) -> Result<ExternalProxy, String> {
    if let Some(reason) = ctx.unmet(&[Need::Program(kind.program())]).await {
        return Err(reason);
    }
    let backend = ctx.env.mocks.service(ServiceKind::OrdersRest).addr;
    let dir = ctx.out_dir.to_owned();
    tokio::task::spawn_blocking(move || ExternalProxy::start(kind, &dir, backend))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// Every round runs every target under every plan; odd rounds go backward.
///
/// After a tracing row, the spans it exported are let in before the next
/// target starts: the receiver runs in the suite's process, beside the
/// load generator, so a backlog would slow whichever target came next.
async fn run_rounds(ctx: &RunContext<'_>, targets: &mut [Target], spans: &Collector) {
    for round in 0..ctx.profile.proxy_rounds() {
        let mut order: Vec<usize> = (0..targets.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for index in order {
            run_target(ctx, &mut targets[index]).await;
            if targets[index].name.contains("tracing") {
                spans
                    .settle(Duration::from_millis(300), Duration::from_secs(10))
                    .await;
            }
        }
    }
}

/// One target under every plan, with the proxy's CPU time around it.
async fn run_target(ctx: &RunContext<'_>, target: &mut Target) {
    let cpu_before = target.cpu.read();
    let calls_before: u64 = target.results.iter().map(Measurement::calls).sum();
    let mut throughput = None;
    for (plan, measurement) in ctx.profile.proxy().into_iter().zip(&mut target.results) {
        let mark = measurement.mark();
        ctx.measure_into(measurement, target.name, &target.probe, plan)
            .await;
        match plan.mode {
            LoadMode::Open { .. } => {
                if let Some(p50) = measurement.p50_since(&mark) {
                    target.round_p50s.push(p50);
                }
            }
            LoadMode::Closed { .. } => {
                let measured = measurement.measured_since(&mark) as f64;
                throughput = Some(measured / plan.duration.as_secs_f64().max(f64::EPSILON));
            }
        }
    }
    let calls = target
        .results
        .iter()
        .map(Measurement::calls)
        .sum::<u64>()
        .saturating_sub(calls_before);
    let mut cpu_per_request = None;
    if let (Some(before), Some(after)) = (cpu_before, target.cpu.read()) {
        let used = after.since(before);
        cpu_per_request = Some(used.total().as_secs_f64() * 1e6 / calls.max(1) as f64);
        target.cpu_used.add(used);
    }
    target.rounds.push(summary::RoundFigures {
        throughput,
        cpu_per_request,
    });
}
