//! How hard and how long each scenario drives its targets: the normal
//! profile (minutes, for figures worth quoting) and `--quick` (a few
//! seconds, for the smoke test).

use std::time::Duration;

use super::loadgen::LoadPlan;

/// The load settings of one run of the suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Profile {
    pub quick: bool,
    /// Rounds of the round-based scenarios (proxy, tls, federation), when
    /// set (`compare --rounds N`): more rounds, more paired samples.
    pub rounds: Option<usize>,
}

impl Profile {
    pub fn name(self) -> &'static str {
        if self.quick { "quick" } else { "normal" }
    }

    fn seconds(self, normal: f64, quick: f64) -> Duration {
        Duration::from_secs_f64(if self.quick { quick } else { normal })
    }

    /// Chatty vs BFF, seed latencies: a steady 20 requests/s (each is
    /// 90 ms or more, so about two in flight).
    pub fn chatty(self) -> LoadPlan {
        LoadPlan::open(20.0, self.seconds(15.0, 0.6), self.seconds(2.0, 0.3))
    }

    /// Protocols, no injected latency: latency at a fixed rate every
    /// target sustains, then the most throughput at a fixed concurrency.
    pub fn protocols(self) -> [LoadPlan; 2] {
        let (duration, warmup) = (self.seconds(8.0, 0.4), self.seconds(1.0, 0.2));
        let rate = if self.quick { 200.0 } else { 1000.0 };
        let concurrency = if self.quick { 8 } else { 32 };
        [
            LoadPlan::open(rate, duration, warmup),
            LoadPlan::closed(concurrency, duration, warmup),
        ]
    }

    /// Proxy overhead: the same two plans, repeated over rounds in which
    /// the targets take turns.
    pub fn proxy(self) -> [LoadPlan; 2] {
        let (duration, warmup) = (self.seconds(5.0, 0.4), self.seconds(1.0, 0.2));
        let rate = if self.quick { 200.0 } else { 2000.0 };
        let concurrency = if self.quick { 8 } else { 32 };
        [
            LoadPlan::open(rate, duration, warmup),
            LoadPlan::closed(concurrency, duration, warmup),
        ]
    }

    /// Resilience under injected faults: open loop at a rate both
    /// endpoints sustain easily, so what differs is the faults' effect.
    pub fn resilience(self) -> LoadPlan {
        let rate = if self.quick { 100.0 } else { 500.0 };
        LoadPlan::open(rate, self.seconds(5.0, 0.4), self.seconds(1.0, 0.2))
    }

    /// TLS termination: kept-alive connections (open loop for latency,
    /// closed for throughput), a full handshake per request (open loop at
    /// a rate both proxies sustain, then closed), and a resumed handshake
    /// per request (closed). Same durations as the proxy scenario.
    pub fn tls(self) -> [LoadPlan; 5] {
        let (duration, warmup) = (self.seconds(5.0, 0.4), self.seconds(1.0, 0.2));
        let (rate, handshake_rate) = if self.quick {
            (200.0, 50.0)
        } else {
            (2000.0, 500.0)
        };
        let concurrency = if self.quick { 8 } else { 32 };
        [
            LoadPlan::open(rate, duration, warmup),
            LoadPlan::closed(concurrency, duration, warmup),
            LoadPlan::open(handshake_rate, duration, warmup),
            LoadPlan::closed(concurrency, duration, warmup),
            LoadPlan::closed(concurrency, duration, warmup),
        ]
    }

    /// How many rounds of the round-based scenarios (proxy, tls,
    /// federation): `--rounds`, else 1 quick and 3 normally.
    pub fn proxy_rounds(self) -> usize {
        match self.rounds {
            Some(rounds) => rounds.max(1),
            None if self.quick => 1,
            None => 3,
        }
    }

    /// How many rounds the proxy scenario's side-by-side phase runs per
    /// cost row: twice [`Self::proxy_rounds`], because each round starts
    /// both children afresh and so also samples how lucky one process is
    /// (docs/latency-comparison.md, "Fresh children for every side-by-side
    /// round").
    pub fn side_by_side_rounds(self) -> usize {
        2 * self.proxy_rounds()
    }
}
