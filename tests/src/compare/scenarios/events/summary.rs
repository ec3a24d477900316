//! The publish series' summary table and the verdicts against issue 14's
//! goals.

use super::{BATCH_EVENTS, EMBEDDED, EMBEDDED_BATCH, NATS, NATS_BATCH, RAW};
use crate::compare::loadgen::{LoadPlan, Stats};
use crate::compare::report::{ScenarioReport, Table};
use crate::compare::scenarios::paired::{PAIRED_VERDICT_ROUNDS, median};

/// Throughput, p50 and p99 per series, and the goals. `paired`: the
/// JetStream rounds' ratios (batched gateway over raw, per round), whose
/// median decides the batched verdict from [`PAIRED_VERDICT_ROUNDS`] on.
pub fn summarise(
    report: &mut ScenarioReport,
    plans: &[LoadPlan; 2],
    batch: &LoadPlan,
    paired: Option<&[f64]>,
) {
    let measured: Vec<(String, LoadPlan, Stats)> = report
        .measurements()
        .filter_map(|(series, stats)| Some((series.name.clone(), series.plan?, stats.clone())))
        .collect();
    let find = |name: &str, plan: &LoadPlan| -> Option<Stats> {
        measured
            .iter()
            .find(|(series, series_plan, _)| series == name && series_plan == plan)
            .map(|(_, _, stats)| stats.clone())
    };
    let [open, closed] = plans;
    let mut rows = Vec::new();
    for name in [EMBEDDED, NATS, RAW] {
        let (Some(o), Some(c)) = (find(name, open), find(name, closed)) else {
            continue;
        };
        rows.push(vec![
            name.to_owned(),
            format!("{:.0}", c.throughput),
            format!("{:.3}", o.p50),
            format!("{:.3}", o.p99),
            format!("{}", o.errors + c.errors),
        ]);
    }
    for name in [EMBEDDED_BATCH, NATS_BATCH] {
        let Some(c) = find(name, batch) else {
            continue;
        };
        rows.push(vec![
            format!("{name} ({BATCH_EVENTS} per request, {})", batch.mode),
            format!("{:.0}", batch_events(&c)),
            "-".to_owned(),
            "-".to_owned(),
            format!("{}", c.errors),
        ]);
    }
    report.summary = Some(Table {
        columns: [
            "series",
            "events/s (closed loop)",
            "p50 ms (open loop)",
            "p99 ms (open loop)",
            "errors",
        ]
        .map(str::to_owned)
        .to_vec(),
        rows,
    });
    if let (Some(o), Some(c)) = (find(EMBEDDED, open), find(EMBEDDED, closed)) {
        report.notes.push(format!(
            "embedded: {:.0} events/s (goal >= 20000: {}); p99 at {} {:.3} ms (goal < 5 ms: {})",
            c.throughput,
            verdict(c.throughput >= 20_000.0),
            open.mode,
            o.p99,
            verdict(o.p99 < 5.0)
        ));
    }
    if let (Some(gateway), Some(raw)) = (find(NATS, closed), find(RAW, closed)) {
        let ratio = gateway.throughput / raw.throughput.max(1.0);
        report.notes.push(format!(
            "JetStream through the gateway, one event per request: {:.0} vs raw {:.0} events/s = {ratio:.2}x (for reference: an HTTP/1.1 request per event against 64 pipelined publishes on one connection, bounded by the HTTP request's own cost; the 0.8x goal is judged on the batched series, below)",
            gateway.throughput,
            raw.throughput,
        ));
    }
    if let (Some(gateway), Some(raw)) = (find(NATS_BATCH, batch), find(RAW, closed)) {
        let events = batch_events(&gateway);
        let ratio = events / raw.throughput.max(1.0);
        let decided_by_rounds = paired.is_some_and(|r| r.len() >= PAIRED_VERDICT_ROUNDS);
        let goal = if decided_by_rounds {
            "goal: see the paired rounds".to_owned()
        } else {
            format!("goal >= 0.8x: {}", verdict(ratio >= 0.8))
        };
        report.notes.push(format!(
            "JetStream through the gateway, batches of {BATCH_EVENTS} ({} requests in flight, as many events in flight as the raw reference's {}): {events:.0} vs raw {:.0} events/s = {ratio:.2}x ({goal})",
            batch.mode,
            closed.mode,
            raw.throughput,
        ));
    }
    if let Some(note) = paired.and_then(paired_note) {
        report.notes.push(note);
    }
}

/// The JetStream rounds' note: every ratio, their median, and the verdict
/// on it once there are enough rounds.
fn paired_note(ratios: &[f64]) -> Option<String> {
    let middle = median(ratios)?;
    let listed: Vec<String> = ratios.iter().map(|r| format!("{r:.2}x")).collect();
    let goal = if ratios.len() >= PAIRED_VERDICT_ROUNDS {
        format!("goal >= 0.8x: {}", verdict(middle >= 0.8))
    } else {
        format!("fewer than {PAIRED_VERDICT_ROUNDS} rounds: no verdict")
    };
    Some(format!(
        "JetStream batches of {BATCH_EVENTS} against raw JetStream, paired by round (gateway, then raw, back to back): {}; median {middle:.2}x ({goal})",
        listed.join(", ")
    ))
}

/// A batched series' events per second.
fn batch_events(stats: &Stats) -> f64 {
    stats.throughput * BATCH_EVENTS as f64
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "MISSED" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_paired_verdict_is_on_the_median_and_only_with_enough_rounds() {
        assert_eq!(paired_note(&[]), None);
        let met = paired_note(&[0.7, 0.85, 0.82]).unwrap();
        assert!(met.contains("0.70x, 0.85x, 0.82x"), "{met}");
        assert!(met.ends_with("median 0.82x (goal >= 0.8x: met)"), "{met}");
        let missed = paired_note(&[0.9, 0.75, 0.79]).unwrap();
        assert!(
            missed.ends_with("median 0.79x (goal >= 0.8x: MISSED)"),
            "{missed}"
        );
        let few = paired_note(&[0.9]).unwrap();
        assert!(few.contains("no verdict"), "{few}");
    }
}
