//! The anti-pattern 4 table: per route, the errors during the outage and
//! after it, the client's latency during it, what was accepted and lost,
//! the backlog at recovery and how long it took to drain; and its notes.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{Call, Figures, LANES};
use crate::compare::report::{Table, TitledTable};
use crate::compare::scenarios::events::chain::quantile;

/// Calls started within `[from, to)`.
fn within(calls: &[Call], from: Instant, to: Instant) -> impl Iterator<Item = &Call> {
    calls
        .iter()
        .filter(move |c| c.started >= from && c.started < to)
}

fn errors(calls: &[&Call]) -> usize {
    calls.iter().filter(|c| c.outcome.is_err()).count()
}

fn latency_ms(calls: &[&Call], q: f64) -> String {
    let mut values: Vec<f64> = calls
        .iter()
        .map(|c| c.latency.as_secs_f64() * 1000.0)
        .collect();
    values.sort_by(f64::total_cmp);
    quantile(&values, q).map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"))
}

fn rate(errors: usize, total: usize) -> String {
    format!(
        "{errors} / {total} ({:.1}%)",
        errors as f64 * 100.0 / total.max(1) as f64
    )
}

impl Figures {
    /// The table and its notes.
    pub fn table(&self) -> (TitledTable, Vec<String>) {
        let columns = [
            "route",
            "errors during the outage",
            "client p50 / p99 ms during the outage",
            "errors after recovery",
            "accepted (202)",
            "lost",
            "backlog at recovery",
            "drained after recovery (ms)",
        ];
        let table = Table {
            columns: columns.map(str::to_owned).to_vec(),
            rows: vec![self.sync_row(), self.async_row()],
        };
        let title = format!(
            "Anti-pattern 4: synchronous against async route, A down {:.0} s under {:.0} requests/s each",
            self.timeline.outage.as_secs_f64(),
            self.timeline.rate
        );
        (TitledTable { title, table }, self.notes())
    }

    fn windows<'a>(&self, calls: &'a [Call]) -> (Vec<&'a Call>, Vec<&'a Call>) {
        let far = self.outage.up_at + Duration::from_secs(3600);
        let during: Vec<&Call> = within(calls, self.outage.down_at, self.outage.up_at).collect();
        let after: Vec<&Call> = within(calls, self.outage.up_at, far).collect();
        (during, after)
    }

    fn sync_row(&self) -> Vec<String> {
        let (during, after) = self.windows(&self.sync);
        let failed = self.sync.iter().filter(|c| c.outcome.is_err()).count();
        vec![
            "sync proxy route".to_owned(),
            rate(errors(&during), during.len()),
            format!(
                "{} / {}",
                latency_ms(&during, 0.5),
                latency_ms(&during, 0.99)
            ),
            rate(errors(&after), after.len()),
            "-".to_owned(),
            format!("{failed} (failed: lost unless the client retries)"),
            "-".to_owned(),
            "- (nothing queued)".to_owned(),
        ]
    }

    fn accepted(&self) -> Vec<(u64, Instant)> {
        self.asynchronous
            .iter()
            .filter(|c| matches!(c.outcome, Ok(Some(_))))
            .map(|c| (c.seq, c.started))
            .collect()
    }

    fn async_row(&self) -> Vec<String> {
        let (during, after) = self.windows(&self.asynchronous);
        let accepted = self.accepted();
        let up_at = self.outage.up_at;
        let before_recovery: Vec<u64> = accepted
            .iter()
            .filter(|(_, started)| *started < up_at)
            .map(|(seq, _)| *seq)
            .collect();
        let backlog = before_recovery
            .iter()
            .filter(|seq| self.completed_at.get(seq).is_none_or(|at| *at > up_at))
            .count();
        let drained = before_recovery
            .iter()
            .map(|seq| self.completed_at.get(seq).copied())
            .collect::<Option<Vec<Instant>>>()
            .and_then(|done| done.into_iter().max())
            .map_or_else(
                || "not within the deadline".to_owned(),
                |last| {
                    format!(
                        "{:.0}",
                        last.saturating_duration_since(up_at).as_secs_f64() * 1000.0
                    )
                },
            );
        vec![
            "async route (202)".to_owned(),
            rate(errors(&during), during.len()),
            format!(
                "{} / {}",
                latency_ms(&during, 0.5),
                latency_ms(&during, 0.99)
            ),
            rate(errors(&after), after.len()),
            accepted.len().to_string(),
            accepted.len().saturating_sub(self.verified).to_string(),
            backlog.to_string(),
            drained,
        ]
    }

    fn notes(&self) -> Vec<String> {
        let accepted = self.accepted().len();
        let at_backend = self
            .accepted()
            .iter()
            .filter(|(seq, _)| self.completed_at.contains_key(seq))
            .count();
        let mut notes = vec![format!(
            "anti-pattern 4: A's listener closed (connections refused) for {:?}, load {:?} before and {:?} after; \
             async route: order_key over {LANES} lanes, backoff 100 ms to 1 s, 50 attempts; \
             of {accepted} requests accepted, {at_backend} answered 2xx by A and {} show A's 201 at /v1/requests/{{id}}; \
             the drain includes the wait for each key's next retry (up to the 1 s backoff cap)",
            self.timeline.outage, self.timeline.before, self.timeline.after, self.verified
        )];
        let mut kinds: HashMap<&str, usize> = HashMap::new();
        for call in &self.sync {
            if let Err(kind) = &call.outcome {
                *kinds.entry(kind.as_str()).or_default() += 1;
            }
        }
        let mut kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} × {k}")).collect();
        kinds.sort();
        if !kinds.is_empty() {
            notes.push(format!(
                "anti-pattern 4, sync route errors: {}",
                kinds.join(", ")
            ));
        }
        notes
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Outage, Timeline};
    use super::*;

    fn call(seq: u64, started: Instant, outcome: Result<Option<String>, String>) -> Call {
        Call {
            seq,
            started,
            latency: Duration::from_millis(5),
            outcome,
        }
    }

    /// A down from 1 s to 2 s; each route called before, twice during and
    /// after; two async requests wait out the outage.
    fn figures() -> Figures {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let refused = || Err("HTTP 502 UPSTREAM_UNAVAILABLE".to_owned());
        let id = |n: u64| Ok(Some(format!("r-{n}")));
        Figures {
            timeline: Timeline::new(true),
            sync: vec![
                call(0, at(500), Ok(None)),
                call(1, at(1100), refused()),
                call(2, at(1500), refused()),
                call(3, at(2100), Ok(None)),
            ],
            asynchronous: (0..4)
                .map(|n| call(n, at([500, 1100, 1500, 2100][n as usize]), id(n)))
                .collect(),
            outage: Outage {
                down_at: at(1000),
                up_at: at(2000),
            },
            completed_at: HashMap::from([
                (0, at(560)),
                (1, at(2300)),
                (2, at(2500)),
                (3, at(2160)),
            ]),
            verified: 4,
        }
    }

    #[test]
    fn the_sync_route_loses_what_failed_during_the_outage() {
        let row = figures().sync_row();
        assert_eq!(row[1], "2 / 2 (100.0%)");
        assert_eq!(row[3], "0 / 1 (0.0%)");
        assert!(row[5].starts_with("2 "), "{row:?}");
    }

    #[test]
    fn the_async_backlog_drains_when_its_last_request_is_answered() {
        let row = figures().async_row();
        assert_eq!(row[1], "0 / 2 (0.0%)");
        assert_eq!(row[4], "4", "accepted");
        assert_eq!(row[5], "0", "lost");
        assert_eq!(row[6], "2", "backlog at recovery");
        assert_eq!(row[7], "500", "drained 500 ms after recovery");
    }

    #[test]
    fn an_unverified_request_is_lost_and_an_unanswered_one_never_drains() {
        let mut figures = figures();
        figures.verified = 3;
        figures.completed_at.remove(&2);
        let row = figures.async_row();
        assert_eq!(row[5], "1", "lost");
        assert_eq!(row[7], "not within the deadline");
    }
}
