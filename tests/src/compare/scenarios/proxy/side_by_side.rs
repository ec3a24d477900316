//! The cost rows measured side by side with "observability off": both
//! children serve at the same time, each under its own closed loop, and
//! each one's CPU time per request is read over the same seconds.
//!
//! On a shared VM one 5-second window runs up to ±15% faster or slower
//! than the next (docs/latency-comparison.md), so rows measured one after
//! the other cannot resolve a cost of a few percent: the paired rounds'
//! costs spread over tens of points. Served at the same time, both
//! children meet the same swings, and the ratio of their CPU per request
//! holds within a few points. On a CPU-bound machine a child's throughput
//! is its share of the CPU over its CPU per request, so a CPU change of
//! `c` is a throughput cost of `1 - 1 / (1 + c)`, which the verdict uses.
//!
//! Every round starts both children afresh (the row's and an off child of
//! its own), warms both outside the CPU window, and stops them after. One
//! process can run a few percent cheaper or dearer than another of the
//! same build and config for its whole life (its memory layout, where its
//! threads land): with the same two processes in every round that luck
//! was one fixed term of every round, so a run's rounds agreed closely
//! while runs disagreed by several points. Fresh pairs put that luck in
//! the spread of the rounds, where the median averages it out, and the
//! twin row (an off child beside an off child) shows how large it is.

use std::time::Duration;

use super::observability::ObservabilityRow;
use super::summary::{COST_ROWS, OFF, budget_of};
use super::{FreshChildren, Target};
use crate::compare::loadgen::{LoadPlan, Measurement};
use crate::compare::scenarios::RunContext;
use crate::compare::scenarios::paired::median;
use crate::otlp::Collector;

/// How many rows this phase runs, each once per round (the progress
/// estimate).
pub const ROW_COUNT: usize = COST_ROWS.len() + 1;

/// An off child beside an off child, measured first.
const TWIN: &str = ObservabilityRow::OffTwin.name();

/// One row's rounds beside the off row.
#[derive(Debug, Clone, PartialEq)]
pub struct SideBySide {
    pub row: &'static str,
    /// Per round: the row's CPU per request over the off row's, minus one.
    pub changes: Vec<f64>,
}

/// Runs each row of `rows` (the cost rows whose children started in the
/// scenario's first phase) beside an off child, in fresh children every
/// round, with the closed loop of the scenario's plans; the twin first.
pub(super) async fn measure(
    ctx: &RunContext<'_>,
    rows: &[&'static str],
    children: &FreshChildren<'_>,
    spans: &Collector,
) -> Vec<SideBySide> {
    let plan = ctx.profile.proxy()[1];
    let rounds = ctx.profile.side_by_side_rounds();
    if !rows.contains(&OFF) {
        ctx.skipped(&vec![plan; ROW_COUNT * rounds]);
        return Vec::new();
    }
    let mut measured = Vec::new();
    let names = std::iter::once(TWIN).chain(COST_ROWS.iter().map(|(name, _)| *name));
    for name in names {
        if name != TWIN && !rows.contains(&name) {
            ctx.skipped(&vec![plan; rounds]);
            continue;
        }
        let mut changes = Vec::new();
        for _ in 0..rounds {
            ctx.progress.running(&format!(
                "{name} beside {OFF}, fresh children ({})",
                plan.mode
            ));
            let (off, row) = tokio::join!(children.start(OFF), children.start(name));
            match (off, row) {
                (Ok(off), Ok(row)) => changes.extend(one_round(&off, &row, plan).await),
                (Err(reason), _) | (_, Err(reason)) => {
                    tracing::warn!("side by side, {name}: a child did not start: {reason}");
                }
            }
            ctx.env.clear_recordings();
            ctx.progress.done(&plan);
            if name.contains("tracing") {
                // The exported spans are let in before the next round.
                spans
                    .settle(Duration::from_millis(300), Duration::from_secs(10))
                    .await;
            }
        }
        measured.push(SideBySide { row: name, changes });
    }
    measured
}

/// Both targets loaded at once: first the plan's warm-up, outside the CPU
/// window (fresh processes open their connections and fill their caches
/// there), then its measured seconds. The row's CPU per request over the
/// off row's, minus one (none when a CPU time cannot be read).
async fn one_round(off: &Target, row: &Target, plan: LoadPlan) -> Option<f64> {
    let warm_up = LoadPlan {
        duration: plan.warmup,
        warmup: Duration::ZERO,
        ..plan
    };
    let (mut off_warm, mut row_warm) = (Measurement::new(), Measurement::new());
    tokio::join!(
        off_warm.drive(&off.probe.probe, warm_up, || off.probe.wire.total()),
        row_warm.drive(&row.probe.probe, warm_up, || row.probe.wire.total()),
    );
    let measured = LoadPlan {
        warmup: Duration::ZERO,
        ..plan
    };
    let (off_before, row_before) = (off.cpu.read()?, row.cpu.read()?);
    let (mut off_load, mut row_load) = (Measurement::new(), Measurement::new());
    tokio::join!(
        off_load.drive(&off.probe.probe, measured, || off.probe.wire.total()),
        row_load.drive(&row.probe.probe, measured, || row.probe.wire.total()),
    );
    let (off_after, row_after) = (off.cpu.read()?, row.cpu.read()?);
    let off_cpu = per_request(off_after.since(off_before).total(), off_load.calls());
    let row_cpu = per_request(row_after.since(row_before).total(), row_load.calls());
    (off_cpu > 0.0).then(|| row_cpu / off_cpu - 1.0)
}

fn per_request(cpu: Duration, calls: u64) -> f64 {
    cpu.as_secs_f64() / calls.max(1) as f64
}

/// The rows with a side-by-side reading (their goals are judged on it).
pub fn judged(measured: &[SideBySide]) -> Vec<&'static str> {
    measured
        .iter()
        .filter(|one| !one.changes.is_empty())
        .map(|one| one.row)
        .collect()
}

/// One line per row: the median CPU change, its range, the throughput
/// cost it means, and the verdict against the row's goal.
pub fn notes(measured: &[SideBySide]) -> Vec<String> {
    measured
        .iter()
        .filter_map(|one| {
            let change = median(&one.changes)?;
            let low = one.changes.iter().copied().fold(f64::MAX, f64::min);
            let high = one.changes.iter().copied().fold(f64::MIN, f64::max);
            let each = each_round(&one.changes);
            if one.row == TWIN {
                return Some(format!(
                    "{TWIN} side by side with {OFF} (same build and config, fresh children each \
                     round, {} rounds): CPU per request {:+.1}% (median; {:+.1}% to {:+.1}%; \
                     rounds: {each}): the noise of this measure in this run",
                    one.changes.len(),
                    change * 100.0,
                    low * 100.0,
                    high * 100.0,
                ));
            }
            let cost = throughput_cost(change);
            let budget = budget_of(one.row);
            let goal = budget.map_or(String::new(), |budget| {
                let verdict = if cost <= budget { "met" } else { "MISSED" };
                format!(" (goal <= {:.0}%: {verdict})", budget * 100.0)
            });
            Some(format!(
                "{} side by side with {OFF} (both served at once, fresh children each round, {} \
                 rounds): CPU per request {:+.1}% (median; {:+.1}% to {:+.1}%; rounds: \
                 {each}), a throughput cost of {:.1}% on a CPU-bound machine{goal}",
                one.row,
                one.changes.len(),
                change * 100.0,
                low * 100.0,
                high * 100.0,
                cost * 100.0,
            ))
        })
        .collect()
}

/// Every round's CPU change, in the order measured (`+1.2%, -0.4%`), so
/// that runs can be pooled.
fn each_round(changes: &[f64]) -> String {
    let each: Vec<String> = changes
        .iter()
        .map(|change| format!("{:+.1}%", change * 100.0))
        .collect();
    each.join(", ")
}

/// The throughput a CPU change of `change` costs when the CPU is the
/// limit.
fn throughput_cost(change: f64) -> f64 {
    1.0 - 1.0 / (1.0 + change)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notes_for_twin(changes: Vec<f64>) -> String {
        let notes = notes(&[SideBySide { row: TWIN, changes }]);
        notes.into_iter().next().expect("one note")
    }

    #[test]
    fn a_cpu_change_is_judged_as_the_throughput_it_costs() {
        assert!((throughput_cost(0.0)).abs() < 1e-12);
        assert!((throughput_cost(0.25) - 0.2).abs() < 1e-12);
        let notes = notes(&[
            SideBySide {
                row: "gateway, access log + metrics",
                changes: vec![0.04, 0.06, 0.05],
            },
            SideBySide {
                row: "gateway, tracing 1%",
                changes: vec![0.05, 0.04, 0.06],
            },
            SideBySide {
                row: "gateway, tracing 100%",
                changes: vec![0.40],
            },
            SideBySide {
                row: "gateway, rate limit local",
                changes: Vec::new(),
            },
        ]);
        assert_eq!(notes.len(), 3, "{notes:?}");
        let twin = notes_for_twin(vec![0.01, -0.02, 0.03]);
        assert!(
            twin.contains(
                "CPU per request +1.0% (median; -2.0% to +3.0%; rounds: +1.0%, -2.0%, +3.0%)"
            ),
            "{twin}"
        );
        assert!(twin.contains("noise") && !twin.contains("goal"), "{twin}");
        // +5.0% CPU is a 4.8% throughput cost: within 5%.
        assert!(notes[0].contains(
            "CPU per request +5.0% (median; +4.0% to +6.0%; rounds: +4.0%, +6.0%, +5.0%)"
        ));
        assert!(notes[0].contains("cost of 4.8%") && notes[0].contains("goal <= 5%: met"));
        assert!(notes[1].contains("goal <= 3%: MISSED"), "{}", notes[1]);
        assert!(!notes[2].contains("goal"), "{}", notes[2]);
    }
}
