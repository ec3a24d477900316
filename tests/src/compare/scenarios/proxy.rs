//! Scenario 3, proxy overhead: GetOrder straight to the orders mock, and
//! through the gateway, nginx and HAProxy in front of that same mock. The
//! targets take turns in rounds whose order alternates (forward, then
//! backward), so drift on a shared machine is spread over all of them.

use std::time::Duration;

use mock_backends::ServiceKind;

use super::{RunContext, order_uris};
use crate::compare::clients::{HttpClient, HttpVersion};
use crate::compare::cpu;
use crate::compare::environment::GATEWAY_THREADS;
use crate::compare::loadgen::{LoadMode, Measurement, Stats};
use crate::compare::needs::Need;
use crate::compare::probes::{Counted, HttpGet};
use crate::compare::proxies::{ExternalProxy, ProxyKind};
use crate::compare::report::ScenarioReport;

/// Direct, gateway, nginx, HAProxy (for the progress estimate).
pub const TARGETS: usize = 4;

/// The target: the gateway's throughput at least this many times nginx's.
pub const THROUGHPUT_TARGET: f64 = 1.25;

const MEASURES: &str = "GET /v1/orders/{id} over HTTP/1.1 keep-alive, straight to the orders \
mock and through each proxy in front of it: the gateway (its plain proxy route), nginx and \
HAProxy (configs written by the suite: same worker count as the gateway's runtime, upstream \
keep-alive, no access log). Open loop at a fixed rate for the added latency, closed loop for \
the most throughput; targets alternate over several rounds.";

/// One thing to send load to.
struct Target {
    name: &'static str,
    probe: Counted<HttpGet>,
    results: Vec<Measurement>,
    /// Where the proxy's CPU time is read (none for direct).
    cpu: CpuSource,
    /// The proxy's CPU time over this target's runs.
    cpu_used: Duration,
    _proxy: Option<ExternalProxy>,
}

/// Whose CPU time a target's runs cost.
#[derive(Clone, Copy)]
enum CpuSource {
    None,
    GatewayThreads,
    Process(u32),
}

impl CpuSource {
    fn read(self) -> Option<Duration> {
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
                let cpu = CpuSource::Process(proxy.pid());
                targets.push(target(kind.program(), proxy.base(), cpu, Some(proxy)));
            }
            Err(reason) => {
                ctx.skipped(&vec![ctx.profile.proxy(); ctx.profile.proxy_rounds()].concat());
                report.skip(kind.program(), "HTTP/1.1", reason);
            }
        }
    }
    run_rounds(ctx, &mut targets).await;
    for target in &targets {
        for (plan, measurement) in ctx.profile.proxy().into_iter().zip(&target.results) {
            report.measured(target.name, "HTTP/1.1", plan, measurement.stats());
        }
    }
    report.notes = comparison_notes(&report, ctx.profile.proxy_rounds());
    report.notes.extend(targets.iter().filter_map(cpu_note));
    report
}

fn target(
    name: &'static str,
    base: String,
    cpu: CpuSource,
    proxy: Option<ExternalProxy>,
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
        cpu_used: Duration::ZERO,
        _proxy: proxy,
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
async fn run_rounds(ctx: &RunContext<'_>, targets: &mut [Target]) {
    for round in 0..ctx.profile.proxy_rounds() {
        let mut order: Vec<usize> = (0..targets.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for index in order {
            run_target(ctx, &mut targets[index]).await;
        }
    }
}

/// One target under every plan, with the proxy's CPU time around it.
async fn run_target(ctx: &RunContext<'_>, target: &mut Target) {
    let cpu_before = target.cpu.read();
    for (plan, measurement) in ctx.profile.proxy().into_iter().zip(&mut target.results) {
        ctx.measure_into(measurement, target.name, &target.probe, plan)
            .await;
    }
    if let (Some(before), Some(after)) = (cpu_before, target.cpu.read()) {
        target.cpu_used += after.saturating_sub(before);
    }
}

/// Throughput ratios to nginx and latency added over direct.
fn comparison_notes(report: &ScenarioReport, rounds: usize) -> Vec<String> {
    let find = |name: &str, open: bool| {
        report.measurements().find_map(|(series, stats)| {
            let is_open = matches!(series.plan.map(|p| p.mode), Some(LoadMode::Open { .. }));
            (series.name == name && is_open == open).then_some(stats)
        })
    };
    let mut notes = vec![format!(
        "rounds: {rounds}, targets alternating forward and backward"
    )];
    let Some(direct) = find("direct", true) else {
        return notes;
    };
    for name in ["gateway", "nginx", "haproxy"] {
        if let Some(open) = find(name, true) {
            notes.push(added_latency(name, open, direct));
        }
    }
    if let (Some(gateway), Some(nginx)) = (find("gateway", false), find("nginx", false)) {
        notes.push(throughput_verdict(gateway, nginx));
    }
    if let (Some(gateway), Some(nginx)) = (find("gateway", true), find("nginx", true)) {
        notes.push(latency_verdict(gateway, nginx, direct));
    }
    notes
}

/// The proxy's CPU time per request it served (warm-up included).
fn cpu_note(target: &Target) -> Option<String> {
    target.cpu.read()?;
    let calls: u64 = target.results.iter().map(Measurement::calls).sum();
    let micros = target.cpu_used.as_secs_f64() * 1e6 / calls.max(1) as f64;
    Some(format!(
        "{} CPU per request: {micros:.1} µs ({:.2} s of CPU over {calls} requests, user + system, from /proc)",
        target.name,
        target.cpu_used.as_secs_f64()
    ))
}

fn added_latency(name: &str, stats: &Stats, direct: &Stats) -> String {
    format!(
        "{name} added latency over direct: p50 {:+.3} ms, p99 {:+.3} ms",
        stats.p50 - direct.p50,
        stats.p99 - direct.p99
    )
}

fn throughput_verdict(gateway: &Stats, nginx: &Stats) -> String {
    let ratio = gateway.throughput / nginx.throughput.max(f64::EPSILON);
    let verdict = if ratio >= THROUGHPUT_TARGET {
        "met"
    } else {
        "MISSED"
    };
    format!(
        "gateway throughput / nginx throughput: {ratio:.2}x (target >= {THROUGHPUT_TARGET}x: {verdict}; \
         gateway {:.0} req/s, nginx {:.0} req/s)",
        gateway.throughput, nginx.throughput
    )
}

fn latency_verdict(gateway: &Stats, nginx: &Stats, direct: &Stats) -> String {
    let lower = |g: f64, n: f64| {
        if g < n {
            "lower (met)"
        } else {
            "not lower (MISSED)"
        }
    };
    let (g50, n50) = (gateway.p50 - direct.p50, nginx.p50 - direct.p50);
    let (g99, n99) = (gateway.p99 - direct.p99, nginx.p99 - direct.p99);
    format!(
        "added latency, gateway vs nginx: p50 {g50:+.3} vs {n50:+.3} ms: {}; p99 {g99:+.3} vs {n99:+.3} ms: {}",
        lower(g50, n50),
        lower(g99, n99)
    )
}
