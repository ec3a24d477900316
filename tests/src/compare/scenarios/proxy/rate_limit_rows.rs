//! The proxy scenario's rate-limiter rows: the "observability off" gateway
//! child plus one global rate limit keyed on the client address, high
//! enough never to refuse (1 000 000/s, burst 1 000 000), so the rows
//! measure the limiter's cost alone: in local memory, and in a real
//! `redis-server` the suite starts (no persistence) for the Redis row.
//! Goals (issue 13): the local limiter costs ≤ 3% of throughput; the Redis
//! limiter adds ≤ 0.3 ms at p50.

use std::net::SocketAddr;
use std::path::Path;

use super::observability::{ObservabilityRow, row_dir, start_child};
use super::summary::{
    OFF, RATE_LIMIT_LOCAL, RATE_LIMIT_REDIS, budget_of, find, judged_where, throughput_cost,
};
use crate::compare::CompareError;
use crate::compare::gateway_process::GatewayProcess;
use crate::compare::report::ScenarioReport;

/// p50 the Redis limiter may add, in ms.
pub const REDIS_P50_BUDGET_MS: f64 = 0.3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimiterRow {
    Local,
    Redis,
}

impl LimiterRow {
    pub const ALL: [LimiterRow; 2] = [LimiterRow::Local, LimiterRow::Redis];

    pub fn name(self) -> &'static str {
        match self {
            LimiterRow::Local => RATE_LIMIT_LOCAL,
            LimiterRow::Redis => RATE_LIMIT_REDIS,
        }
    }

    fn file_stem(self) -> &'static str {
        match self {
            LimiterRow::Local => "rate-limit-local",
            LimiterRow::Redis => "rate-limit-redis",
        }
    }

    /// The observability-off sections plus the limit (`redis`: the
    /// server's address, for the Redis row).
    pub fn sections(self, redis: Option<SocketAddr>) -> String {
        let off = ObservabilityRow::Off.sections(Path::new("/dev/null"), unused_otlp());
        let limit = "    - { name: bench, key: client_ip, rate: 1000000/s, burst: 1000000";
        match (self, redis) {
            (LimiterRow::Redis, Some(redis)) => format!(
                "{off}rate_limits:\n  redis: {{ url: \"redis://{redis}\" }}\n  global:\n{limit}, store: redis }}\n"
            ),
            _ => format!("{off}rate_limits:\n  global:\n{limit} }}\n"),
        }
    }

    pub fn start(
        self,
        program: &Path,
        routes: &Path,
        out_dir: &Path,
        redis: Option<SocketAddr>,
    ) -> Result<GatewayProcess, CompareError> {
        let dir = row_dir(out_dir)?;
        start_child(
            program,
            routes,
            &dir,
            self.file_stem(),
            &self.sections(redis),
        )
    }
}

/// The off row has no tracing: its OTLP address is never used.
fn unused_otlp() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 4317))
}

/// Each limiter row against the observability-off row (the same child
/// gateway without the limit), with the goal's verdict.
/// A row in `judged_beside` is judged by the side-by-side phase.
pub fn notes(report: &ScenarioReport, judged_beside: &[&str]) -> Vec<String> {
    let (Some(off_closed), Some(off_open)) = (find(report, OFF, false), find(report, OFF, true))
    else {
        return Vec::new();
    };
    let mut notes = Vec::new();
    for row in LimiterRow::ALL {
        let (Some(closed), Some(open)) = (
            find(report, row.name(), false),
            find(report, row.name(), true),
        ) else {
            continue;
        };
        let (budget, judged) = judged_where(row.name(), budget_of(row.name()), judged_beside);
        let added = open.p50 - off_open.p50;
        let p50 = match row {
            LimiterRow::Redis => {
                let verdict = if added <= REDIS_P50_BUDGET_MS {
                    "met"
                } else {
                    "MISSED"
                };
                format!("added p50 {added:+.3} ms (goal <= {REDIS_P50_BUDGET_MS} ms: {verdict})")
            }
            LimiterRow::Local => format!("added p50 {added:+.3} ms"),
        };
        notes.push(format!(
            "{} vs observability off: {}{judged}; {p50}",
            row.name(),
            throughput_cost(closed.throughput, off_closed.throughput, budget)
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_is_a_valid_config_with_one_global_limit() {
        let redis: SocketAddr = "127.0.0.1:6399".parse().unwrap();
        for row in LimiterRow::ALL {
            let yaml = format!(
                "listen: 127.0.0.1:0\nroutes: []\n{}",
                row.sections(Some(redis))
            );
            let config = gateway::config::load_str(&yaml, "routes.yaml")
                .unwrap_or_else(|errors| panic!("{}: {errors}\n{yaml}", row.name()));
            assert_eq!(config.rate_limits.global.len(), 1);
            assert!(!config.metrics.enabled);
            assert_eq!(
                config.rate_limits.redis.is_some(),
                row == LimiterRow::Redis,
                "{yaml}"
            );
        }
    }
}
