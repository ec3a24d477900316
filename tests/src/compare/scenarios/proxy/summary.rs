//! The proxy scenario's summary: one row per target (throughput and its
//! ratio to nginx, latency added over direct, CPU per request), and the
//! verdicts against the target of at least 1.25x nginx's throughput with
//! lower added p50 and p99.

use crate::compare::loadgen::{LoadMode, Stats};
use crate::compare::report::{ScenarioReport, Table};

/// The target: the gateway's throughput at least this many times nginx's.
pub const THROUGHPUT_TARGET: f64 = 1.25;

/// The measured stats of `name` under open (`true`) or closed load.
fn find<'a>(report: &'a ScenarioReport, name: &str, open: bool) -> Option<&'a Stats> {
    report.measurements().find_map(|(series, stats)| {
        let is_open = matches!(series.plan.map(|p| p.mode), Some(LoadMode::Open { .. }));
        (series.name == name && is_open == open).then_some(stats)
    })
}

/// One row per target; `cpu` gives each target's CPU µs per request.
pub fn table(report: &ScenarioReport, cpu: &[(&str, Option<f64>)]) -> Table {
    let columns = [
        "target",
        "req/s (closed loop)",
        "x nginx",
        "added p50 ms (open loop)",
        "added p99 ms (open loop)",
        "proxy CPU µs/request",
    ];
    let nginx = find(report, "nginx", false).map(|s| s.throughput);
    let direct = find(report, "direct", true);
    let rows = cpu
        .iter()
        .map(|(name, cpu)| {
            let closed = find(report, name, false);
            let open = find(report, name, true);
            let added = |at: fn(&Stats) -> f64| match (open, direct) {
                (Some(open), Some(direct)) if *name != "direct" => {
                    format!("{:+.3}", at(open) - at(direct))
                }
                _ => "-".to_owned(),
            };
            vec![
                (*name).to_owned(),
                closed.map_or("-".to_owned(), |s| format!("{:.0}", s.throughput)),
                match (closed, nginx) {
                    (Some(s), Some(n)) => format!("{:.2}", s.throughput / n.max(f64::EPSILON)),
                    _ => "-".to_owned(),
                },
                added(|s| s.p50),
                added(|s| s.p99),
                cpu.map_or("-".to_owned(), |c| format!("{c:.1}")),
            ]
        })
        .collect();
    Table {
        columns: columns.map(str::to_owned).to_vec(),
        rows,
    }
}

/// The verdicts against the target, when the gateway and nginx both ran.
pub fn verdicts(report: &ScenarioReport, rounds: usize) -> Vec<String> {
    let mut notes = vec![format!(
        "rounds: {rounds}, targets alternating forward and backward"
    )];
    if let (Some(gateway), Some(nginx)) =
        (find(report, "gateway", false), find(report, "nginx", false))
    {
        notes.push(throughput_verdict(gateway, nginx));
    }
    let open = |name| find(report, name, true);
    if let (Some(gateway), Some(nginx), Some(direct)) =
        (open("gateway"), open("nginx"), open("direct"))
    {
        notes.push(latency_verdict(gateway, nginx, direct));
    }
    notes
}

fn throughput_verdict(gateway: &Stats, nginx: &Stats) -> String {
    let ratio = gateway.throughput / nginx.throughput.max(f64::EPSILON);
    let verdict = if ratio >= THROUGHPUT_TARGET {
        "met"
    } else {
        "MISSED"
    };
    format!(
        "gateway throughput / nginx throughput: {ratio:.2}x (target >= {THROUGHPUT_TARGET}x: {verdict})"
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
