//! The federation scenario's summary: per operation and router,
//! throughput, latency and CPU per request, with the gateway's ratios to
//! Hive Router's; and the verdicts against the goal (throughput at least
//! Hive Router's, CPU per request at most Hive Router's). From
//! [`PAIRED_VERDICT_ROUNDS`] rounds on, the verdict is on the ratios paired
//! by round (median, with their range), which a slow or fast spell of the
//! machine moves far less than the pooled figures.

use crate::compare::loadgen::{LoadMode, Stats};
use crate::compare::report::{ScenarioReport, Table};
use crate::compare::routers::HIVE_ROUTER;
use crate::compare::scenarios::paired::{PAIRED_VERDICT_ROUNDS, RoundFigures, median, ratios};

/// A router's CPU µs per request, per operation.
pub struct RouterCpu {
    pub name: &'static str,
    pub per_operation: Vec<Option<f64>>,
    /// Per operation, each round's closed-loop throughput and CPU.
    pub rounds: Vec<Vec<RoundFigures>>,
}

/// The stats of `router` on `operation` under open (`true`) or closed load.
fn find<'a>(
    report: &'a ScenarioReport,
    router: &str,
    operation: &str,
    open: bool,
) -> Option<&'a Stats> {
    report.measurements().find_map(|(series, stats)| {
        let is_open = matches!(series.plan.map(|p| p.mode), Some(LoadMode::Open { .. }));
        (series.name == router && series.client == operation && is_open == open).then_some(stats)
    })
}

fn ratio(ours: Option<f64>, theirs: Option<f64>) -> String {
    match (ours, theirs) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "-".to_owned(),
    }
}

/// One row per operation and router.
pub fn table(report: &ScenarioReport, operations: &[&str], cpu: &[RouterCpu]) -> Table {
    let columns = [
        "operation",
        "router",
        "req/s (closed loop)",
        "p50 ms (open loop)",
        "p99 ms (open loop)",
        "CPU µs/request",
        "throughput x Hive Router",
        "CPU x Hive Router",
    ];
    let hive = cpu.iter().find(|r| r.name == HIVE_ROUTER);
    let mut rows = Vec::new();
    for (op, operation) in operations.iter().enumerate() {
        let hive_throughput = find(report, HIVE_ROUTER, operation, false).map(|s| s.throughput);
        let hive_cpu = hive.and_then(|h| h.per_operation[op]);
        for router in cpu {
            let closed = find(report, router.name, operation, false);
            let open = find(report, router.name, operation, true);
            let own_cpu = router.per_operation[op];
            let compared = router.name != HIVE_ROUTER;
            rows.push(vec![
                (*operation).to_owned(),
                router.name.to_owned(),
                closed.map_or("-".to_owned(), |s| format!("{:.0}", s.throughput)),
                open.map_or("-".to_owned(), |s| format!("{:.3}", s.p50)),
                open.map_or("-".to_owned(), |s| format!("{:.3}", s.p99)),
                own_cpu.map_or("-".to_owned(), |c| format!("{c:.0}")),
                if compared {
                    ratio(closed.map(|s| s.throughput), hive_throughput)
                } else {
                    "-".to_owned()
                },
                if compared {
                    ratio(own_cpu, hive_cpu)
                } else {
                    "-".to_owned()
                },
            ]);
        }
    }
    Table {
        columns: columns.map(str::to_owned).to_vec(),
        rows,
    }
}

/// Per operation, the gateway against the goal, when both routers ran:
/// on the ratios paired by round when there are enough rounds, else on
/// the pooled figures.
pub fn verdicts(report: &ScenarioReport, operations: &[&str], cpu: &[RouterCpu]) -> Vec<String> {
    let (Some(gateway), Some(hive)) = (
        cpu.iter().find(|r| r.name == "gateway"),
        cpu.iter().find(|r| r.name == HIVE_ROUTER),
    ) else {
        return Vec::new();
    };
    operations
        .iter()
        .enumerate()
        .filter_map(|(op, operation)| {
            let ours = find(report, "gateway", operation, false)?.throughput;
            let theirs = find(report, HIVE_ROUTER, operation, false)?.throughput;
            let (our_cpu, their_cpu) = (gateway.per_operation[op]?, hive.per_operation[op]?);
            let pooled = (
                ours / theirs.max(f64::EPSILON),
                our_cpu / their_cpu.max(f64::EPSILON),
            );
            let (ours, theirs) = (&gateway.rounds[op], &hive.rounds[op]);
            Some(verdict(operation, pooled, ours, theirs))
        })
        .collect()
}

/// "ten orders: paired by round over 5 rounds, throughput 1.04x Hive
/// Router's (median; 0.91x to 1.20x), CPU per request 0.86x (0.80x to
/// 0.95x); pooled 1.01x / 0.88x: goal (≥ 1x, ≤ 1x) met".
fn verdict(
    operation: &str,
    (pooled_throughput, pooled_cpu): (f64, f64),
    ours: &[RoundFigures],
    theirs: &[RoundFigures],
) -> String {
    let throughput = ratios(ours, theirs, |r| r.throughput);
    let cpu = ratios(ours, theirs, |r| r.cpu_per_request);
    let paired = throughput.len().min(cpu.len()) >= PAIRED_VERDICT_ROUNDS;
    let (judged_throughput, judged_cpu) = match (median(&throughput), median(&cpu)) {
        (Some(t), Some(c)) if paired => (t, c),
        _ => (pooled_throughput, pooled_cpu),
    };
    let met = judged_throughput >= 1.0 && judged_cpu <= 1.0;
    let outcome = if met { "met" } else { "not met" };
    let range = |values: &[f64]| {
        let low = values.iter().copied().fold(f64::INFINITY, f64::min);
        let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        format!("{low:.2}x to {high:.2}x")
    };
    if paired {
        format!(
            "{operation}: paired by round over {} rounds, throughput {judged_throughput:.2}x Hive Router's (median; {}), CPU per request {judged_cpu:.2}x ({}); pooled {pooled_throughput:.2}x / {pooled_cpu:.2}x: goal (≥ 1x, ≤ 1x) {outcome}",
            throughput.len(),
            range(&throughput),
            range(&cpu),
        )
    } else {
        format!(
            "{operation}: throughput {pooled_throughput:.2}x Hive Router's, CPU per request {pooled_cpu:.2}x: goal (≥ 1x, ≤ 1x) {outcome}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rounds(figures: &[(f64, f64)]) -> Vec<RoundFigures> {
        figures
            .iter()
            .map(|&(throughput, cpu)| RoundFigures {
                throughput: Some(throughput),
                cpu_per_request: Some(cpu),
            })
            .collect()
    }

    #[test]
    fn the_verdict_is_on_paired_medians_from_enough_rounds() {
        // Round 2 ran in a slow spell for Hive Router only: pooled, the
        // gateway looks faster; paired, the median says it is not.
        let ours = rounds(&[(90.0, 11.0), (95.0, 10.5), (92.0, 10.8)]);
        let theirs = rounds(&[(100.0, 10.0), (50.0, 20.0), (100.0, 10.0)]);
        let note = verdict("op", (1.1, 0.9), &ours, &theirs);
        assert!(note.contains("over 3 rounds"), "{note}");
        assert!(note.contains("throughput 0.92x"), "{note}");
        assert!(note.ends_with("not met"), "{note}");
        // Too few rounds: the pooled figures decide.
        let note = verdict("op", (1.1, 0.9), &ours[..2], &theirs[..2]);
        assert!(note.starts_with("op: throughput 1.10x"), "{note}");
        assert!(
            note.ends_with(" met") && !note.ends_with("not met"),
            "{note}"
        );
    }
}
