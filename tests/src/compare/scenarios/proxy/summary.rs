//! The proxy scenario's summary: one row per target (throughput and its
//! ratio to nginx, latency added over direct, CPU per request), and the
//! verdicts against the target of at least 1.25x nginx's throughput with
//! lower added p50 and p99, with the machine time that target leaves a
//! proxy per request.

use crate::compare::loadgen::{LoadMode, Stats};
use crate::compare::report::{ScenarioReport, Table};
use crate::compare::scenarios::paired::median;
pub use crate::compare::scenarios::paired::{PAIRED_VERDICT_ROUNDS, RoundFigures};

/// The target: the gateway's throughput at least this many times nginx's.
pub const THROUGHPUT_TARGET: f64 = 1.25;

/// A proxy's CPU time per request served, in µs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuPerRequest {
    pub user: f64,
    pub system: f64,
}

impl CpuPerRequest {
    fn total(self) -> f64 {
        self.user + self.system
    }
}

/// The measured stats of `name` under open (`true`) or closed load.
pub(super) fn find<'a>(report: &'a ScenarioReport, name: &str, open: bool) -> Option<&'a Stats> {
    report.measurements().find_map(|(series, stats)| {
        let is_open = matches!(series.plan.map(|p| p.mode), Some(LoadMode::Open { .. }));
        (series.name == name && is_open == open).then_some(stats)
    })
}

/// One row per target; `cpu` gives each target's CPU µs per request.
pub fn table(report: &ScenarioReport, cpu: &[(&str, Option<CpuPerRequest>)]) -> Table {
    let columns = [
        "target",
        "req/s (closed loop)",
        "x nginx",
        "added p50 ms (open loop)",
        "added p99 ms (open loop)",
        "proxy CPU µs/request (user + system)",
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
                cpu.map_or("-".to_owned(), |c| {
                    format!("{:.1} ({:.1} + {:.1})", c.total(), c.user, c.system)
                }),
            ]
        })
        .collect();
    Table {
        columns: columns.map(str::to_owned).to_vec(),
        rows,
    }
}

/// The verdicts against the target, when the gateway and nginx both ran,
/// and the machine time the target leaves a proxy.
pub fn verdicts(
    report: &ScenarioReport,
    rounds: usize,
    cpu: &[(&str, Option<CpuPerRequest>)],
) -> Vec<String> {
    let mut notes = vec![format!(
        "rounds: {rounds}, targets alternating forward and backward"
    )];
    if let (Some(gateway), Some(nginx)) =
        (find(report, "gateway", false), find(report, "nginx", false))
    {
        notes.push(throughput_verdict(gateway, nginx));
    }
    let cpu_of = |name: &str| cpu.iter().find(|(n, _)| *n == name).and_then(|(_, c)| *c);
    if let (Some(direct), Some(nginx), Some(nginx_cpu)) = (
        find(report, "direct", false),
        find(report, "nginx", false),
        cpu_of("nginx"),
    ) {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        notes.push(budget_note(
            cores,
            direct.throughput,
            nginx.throughput,
            nginx_cpu,
            cpu_of("gateway"),
        ));
    }
    let open = |name| find(report, name, true);
    if let (Some(gateway), Some(nginx), Some(direct)) =
        (open("gateway"), open("nginx"), open("direct"))
    {
        notes.push(latency_verdict(gateway, nginx, direct));
    }
    notes
}

/// On a CPU-bound machine (load generator, backend and proxy sharing
/// `cores`), a request costs `cores / throughput` of machine time; the
/// target's throughput leaves a proxy its cost minus a direct request's.
fn budget_note(
    cores: usize,
    direct: f64,
    nginx: f64,
    nginx_cpu: CpuPerRequest,
    gateway_cpu: Option<CpuPerRequest>,
) -> String {
    let machine_us = |throughput: f64| cores as f64 * 1e6 / throughput.max(f64::EPSILON);
    let budget = machine_us(THROUGHPUT_TARGET * nginx) - machine_us(direct);
    let gateway = gateway_cpu.map_or(String::new(), |g| {
        format!(", the gateway's {:.1} µs", g.system)
    });
    format!(
        "budget: if this machine is CPU-bound ({cores} cores shared by load generator, backend and proxy), \
         {THROUGHPUT_TARGET}x nginx's throughput leaves a proxy {budget:.1} µs of machine time per request; \
         nginx's system time alone is {:.1} µs per request{gateway}",
        nginx_cpu.system
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

/// The goals for observability, against the "observability off"
/// row: access log + metrics cost at most this share of throughput.
pub const ACCESS_LOG_METRICS_BUDGET: f64 = 0.05;
/// Traces at 1 % sampling cost at most this share of throughput.
pub const TRACING_ONE_PERCENT_BUDGET: f64 = 0.03;
/// The local rate limiter costs at most this share (issue 13).
pub const LOCAL_BUDGET: f64 = 0.03;

/// The rate-limiter rows' names (`rate_limit_rows::LimiterRow`).
pub const RATE_LIMIT_LOCAL: &str = "gateway, rate limit local";
pub const RATE_LIMIT_REDIS: &str = "gateway, rate limit Redis";

pub(super) const OFF: &str = "gateway, observability off";

/// The observability rows, each measured against [`OFF`].
const OBSERVABILITY_ROWS: [&str; 3] = [
    "gateway, access log + metrics",
    "gateway, tracing 1%",
    "gateway, tracing 100%",
];

/// Every cost row of the scenario and the throughput cost its issue
/// allows it (none: reported only): the one list the sequential notes and
/// the side-by-side phase read.
pub const COST_ROWS: [(&str, Option<f64>); 5] = [
    (OBSERVABILITY_ROWS[0], Some(ACCESS_LOG_METRICS_BUDGET)),
    (OBSERVABILITY_ROWS[1], Some(TRACING_ONE_PERCENT_BUDGET)),
    (OBSERVABILITY_ROWS[2], None),
    (RATE_LIMIT_LOCAL, Some(LOCAL_BUDGET)),
    (RATE_LIMIT_REDIS, None),
];

/// The throughput cost `row` may have (none: reported only).
pub fn budget_of(row: &str) -> Option<f64> {
    COST_ROWS
        .iter()
        .find(|(name, _)| *name == row)
        .and_then(|(_, budget)| *budget)
}

/// The row's throughput cost against off in each round both measured.
fn paired_costs(row: &[RoundFigures], off: &[RoundFigures]) -> Vec<f64> {
    row.iter()
        .zip(off)
        .filter_map(|(row, off)| {
            let (row, off) = (row.throughput?, off.throughput?);
            (off > 0.0).then(|| 1.0 - row / off)
        })
        .collect()
}

/// The row's CPU µs per request minus off's, in each round both measured.
fn paired_cpu(row: &[RoundFigures], off: &[RoundFigures]) -> Vec<f64> {
    row.iter()
        .zip(off)
        .filter_map(|(row, off)| Some(row.cpu_per_request? - off.cpu_per_request?))
        .collect()
}

/// "paired by round: cost median 2.1% (-3.0% to 6.2% over 5 rounds; goal
/// <= 5%: met), CPU +1.2 µs/request (median)"; none below
/// [`PAIRED_VERDICT_ROUNDS`] pairs.
fn paired_note(row: &[RoundFigures], off: &[RoundFigures], budget: Option<f64>) -> Option<String> {
    let costs = paired_costs(row, off);
    if costs.len() < PAIRED_VERDICT_ROUNDS {
        return None;
    }
    let cost = median(&costs)?;
    let low = costs.iter().copied().fold(f64::MAX, f64::min);
    let high = costs.iter().copied().fold(f64::MIN, f64::max);
    let goal = budget.map_or(String::new(), |budget| {
        let verdict = if cost <= budget { "met" } else { "MISSED" };
        format!("; goal <= {:.0}%: {verdict}", budget * 100.0)
    });
    let cpu = median(&paired_cpu(row, off)).map_or(String::new(), |cpu| {
        format!(", CPU {cpu:+.1} µs/request (median)")
    });
    Some(format!(
        "paired by round: cost median {:.1}% ({:.1}% to {:.1}% over {} rounds{goal}){cpu}",
        cost * 100.0,
        low * 100.0,
        high * 100.0,
        costs.len()
    ))
}

/// The observability rows against the "off" row: each one's throughput
/// cost (with the goal where the issue sets one: on the costs paired by
/// round from [`PAIRED_VERDICT_ROUNDS`] rounds on, else on the pooled
/// figures) and its added p50 change against the direct series' noise (the
/// spread of its per-round p50s). `rounds` gives each target's figures
/// round by round.
/// A row in `judged_beside` (measured side by side with the off row) is
/// judged there: its sequential figures are given without a verdict.
pub fn observability_notes(
    report: &ScenarioReport,
    direct_p50s: &[f64],
    rounds: &[(&str, &[RoundFigures])],
    judged_beside: &[&str],
) -> Vec<String> {
    let (Some(off_closed), Some(off_open)) = (find(report, OFF, false), find(report, OFF, true))
    else {
        return Vec::new();
    };
    let noise = spread(direct_p50s);
    let rounds_of = |name: &str| {
        rounds
            .iter()
            .find(|(target, _)| *target == name)
            .map_or(&[][..], |(_, figures)| *figures)
    };
    let off_rounds = rounds_of(OFF);
    OBSERVABILITY_ROWS
        .iter()
        .filter_map(|name| {
            let closed = find(report, name, false)?;
            let open = find(report, name, true)?;
            let (budget, judged) = judged_where(name, budget_of(name), judged_beside);
            let paired = paired_note(rounds_of(name), off_rounds, budget);
            let pooled_budget = if paired.is_some() { None } else { budget };
            let paired = paired.map_or(String::new(), |note| format!("; {note}"));
            Some(format!(
                "{name} vs observability off: {}{paired}{judged}; {}",
                throughput_cost(closed.throughput, off_closed.throughput, pooled_budget),
                p50_change(open.p50 - off_open.p50, noise)
            ))
        })
        .collect()
}

/// The budget a sequential reading of `row` is judged on: none when the
/// row was measured side by side (then the text that says so).
pub(super) fn judged_where(
    row: &str,
    budget: Option<f64>,
    judged_beside: &[&str],
) -> (Option<f64>, &'static str) {
    match budget {
        Some(_) if judged_beside.contains(&row) => (None, " (goal judged side by side, below)"),
        _ => (budget, ""),
    }
}

/// `max - min` of the values, when there are at least two.
fn spread(values: &[f64]) -> Option<f64> {
    if values.len() < 2 {
        return None;
    }
    let max = values.iter().copied().fold(f64::MIN, f64::max);
    let min = values.iter().copied().fold(f64::MAX, f64::min);
    Some(max - min)
}

pub(super) fn throughput_cost(row: f64, off: f64, budget: Option<f64>) -> String {
    let cost = 1.0 - row / off.max(f64::EPSILON);
    let goal = budget.map_or(String::new(), |budget| {
        let verdict = if cost <= budget { "met" } else { "MISSED" };
        format!(" (goal <= {:.0}%: {verdict})", budget * 100.0)
    });
    format!(
        "throughput {row:.0} vs {off:.0} req/s, cost {:.1}%{goal}",
        cost * 100.0
    )
}

/// The row's added p50 minus the off row's, against the direct series'
/// round-to-round p50 spread.
fn p50_change(change: f64, noise: Option<f64>) -> String {
    match noise {
        Some(noise) => {
            let verdict = if change <= noise {
                "within the noise (met)"
            } else {
                "beyond the noise (MISSED)"
            };
            format!(
                "added p50 {change:+.3} ms vs the direct series' noise {noise:.3} ms: {verdict}"
            )
        }
        None => format!(
            "added p50 {change:+.3} ms (the direct series' noise needs 2 rounds or more: no verdict)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(throughputs: &[f64], cpu: &[f64]) -> Vec<RoundFigures> {
        throughputs
            .iter()
            .zip(cpu)
            .map(|(&t, &c)| RoundFigures {
                throughput: Some(t),
                cpu_per_request: Some(c),
            })
            .collect()
    }

    #[test]
    fn paired_costs_compare_rows_within_each_round() {
        // Round 2 is slow for both: pooled, that spell would hide; paired,
        // each round says 10%, 10%, 0%.
        let off = figures(&[10_000.0, 5_000.0, 10_000.0], &[30.0, 60.0, 30.0]);
        let row = figures(&[9_000.0, 4_500.0, 10_000.0], &[33.0, 66.0, 30.0]);
        let costs = paired_costs(&row, &off);
        assert_eq!(costs.len(), 3);
        assert!((costs[0] - 0.1).abs() < 1e-9 && (costs[1] - 0.1).abs() < 1e-9);
        assert_eq!(median(&costs).map(|c| (c * 1000.0).round()), Some(100.0));
        assert_eq!(
            paired_note(&row, &off, Some(0.05)).unwrap(),
            "paired by round: cost median 10.0% (0.0% to 10.0% over 3 rounds; goal <= 5%: MISSED), CPU +3.0 µs/request (median)"
        );
        assert!(
            paired_note(&row, &off, Some(0.15))
                .unwrap()
                .contains("goal <= 15%: met")
        );
    }

    #[test]
    fn a_row_measured_side_by_side_is_judged_there() {
        let judged = " (goal judged side by side, below)";
        assert_eq!(judged_where("a", Some(0.05), &["a"]), (None, judged));
        assert_eq!(judged_where("a", Some(0.05), &["b"]), (Some(0.05), ""));
        assert_eq!(judged_where("a", None, &["a"]), (None, ""));
    }

    #[test]
    fn medians_of_even_and_empty_sets() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[5.0, 1.0, 3.0]), Some(3.0));
    }

    #[test]
    fn rounds_without_a_throughput_are_not_paired() {
        let off = figures(&[10_000.0], &[30.0]);
        let row = vec![RoundFigures::default()];
        assert!(paired_costs(&row, &off).is_empty());
        assert!(paired_note(&row, &off, None).is_none());
    }

    #[test]
    fn observability_cost_is_the_throughput_lost_against_off() {
        assert_eq!(
            throughput_cost(9_600.0, 10_000.0, Some(0.05)),
            "throughput 9600 vs 10000 req/s, cost 4.0% (goal <= 5%: met)"
        );
        assert!(throughput_cost(9_600.0, 10_000.0, Some(0.03)).ends_with("MISSED)"));
        assert!(!throughput_cost(5_000.0, 10_000.0, None).contains("goal"));
        assert_eq!(
            spread(&[0.21, 0.25, 0.19]).map(|s| (s * 100.0).round()),
            Some(6.0)
        );
        assert_eq!(spread(&[0.2]), None);
        assert!(p50_change(0.05, Some(0.06)).ends_with("(met)"));
        assert!(p50_change(0.07, Some(0.06)).ends_with("(MISSED)"));
        assert!(p50_change(0.07, None).contains("no verdict"));
    }

    #[test]
    fn the_budget_is_the_target_cost_minus_a_direct_request() {
        // 2 cores: direct 50 000/s costs 40 µs, 1.25 x 20 000/s costs 80 µs.
        let nginx = CpuPerRequest {
            user: 8.0,
            system: 21.5,
        };
        let gateway = CpuPerRequest {
            user: 22.7,
            system: 21.4,
        };
        let note = budget_note(2, 50_000.0, 20_000.0, nginx, Some(gateway));
        assert!(note.contains("leaves a proxy 40.0 µs"), "{note}");
        assert!(
            note.contains("nginx's system time alone is 21.5 µs"),
            "{note}"
        );
        assert!(note.contains("the gateway's 21.4 µs"), "{note}");
        let without_gateway = budget_note(2, 50_000.0, 20_000.0, nginx, None);
        assert!(!without_gateway.contains("gateway's"), "{without_gateway}");
    }
}
