//! The proxy scenario's observability rows: the same proxy route served by
//! four gateway child processes that differ only in their observability
//! sections (nothing, access log + metrics, traces at 1 %, traces at
//! 100 %), so the cost of each is measured against the first in the same
//! run. Each is its own process because traces are process-global (one
//! pipeline, one subscriber); the spans go to an OTLP/gRPC receiver in the
//! suite's process that counts them.

use std::net::SocketAddr;
use std::path::Path;

use crate::compare::CompareError;
use crate::compare::gateway_process::{GatewayProcess, with_own_event_store};

/// One observability setting of the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ObservabilityRow {
    Off,
    /// A second "off" child, measured only side by side with the first:
    /// the same build and config, so its reading is the measure's noise.
    OffTwin,
    AccessLogAndMetrics,
    TracingOnePercent,
    TracingAll,
}

impl ObservabilityRow {
    pub const ALL: [ObservabilityRow; 4] = [
        ObservabilityRow::Off,
        ObservabilityRow::AccessLogAndMetrics,
        ObservabilityRow::TracingOnePercent,
        ObservabilityRow::TracingAll,
    ];

    /// The row's target name in the report.
    pub const fn name(self) -> &'static str {
        match self {
            ObservabilityRow::Off => "gateway, observability off",
            ObservabilityRow::OffTwin => "gateway, observability off (twin)",
            ObservabilityRow::AccessLogAndMetrics => "gateway, access log + metrics",
            ObservabilityRow::TracingOnePercent => "gateway, tracing 1%",
            ObservabilityRow::TracingAll => "gateway, tracing 100%",
        }
    }

    fn file_stem(self) -> &'static str {
        match self {
            ObservabilityRow::Off => "observability-off",
            ObservabilityRow::OffTwin => "observability-off-twin",
            ObservabilityRow::AccessLogAndMetrics => "access-log-metrics",
            ObservabilityRow::TracingOnePercent => "tracing-1",
            ObservabilityRow::TracingAll => "tracing-100",
        }
    }

    /// The sections appended to the suite's routes.yaml (which has none of
    /// `log:`, `metrics:`, `tracing:`). Logs at `warn` so that the child's
    /// own log lines stay out of the measurement.
    pub fn sections(self, access_log: &Path, otlp: SocketAddr) -> String {
        let tracing = |ratio: f64| {
            format!(
                "tracing:\n  enabled: true\n  sampling: {{ ratio: {ratio} }}\n  \
                 exporter: {{ protocol: grpc, endpoint: \"http://{otlp}\" }}\n"
            )
        };
        let quiet = "log:\n  level: warn\n";
        match self {
            ObservabilityRow::Off | ObservabilityRow::OffTwin => {
                format!("{quiet}metrics:\n  enabled: false\n")
            }
            ObservabilityRow::AccessLogAndMetrics => format!(
                "log:\n  level: warn\n  access_log:\n    enabled: true\n    format: json\n    \
                 path: \"{}\"\nmetrics:\n  enabled: true\n",
                access_log.display()
            ),
            ObservabilityRow::TracingOnePercent => {
                format!("{quiet}metrics:\n  enabled: false\n{}", tracing(0.01))
            }
            ObservabilityRow::TracingAll => {
                format!("{quiet}metrics:\n  enabled: false\n{}", tracing(1.0))
            }
        }
    }

    /// Writes this row's config beside the suite's `routes` (same folder:
    /// the protos and the supergraph resolve alike) and starts its gateway.
    pub fn start(
        self,
        program: &Path,
        routes: &Path,
        out_dir: &Path,
        otlp: SocketAddr,
    ) -> Result<GatewayProcess, CompareError> {
        let dir = row_dir(out_dir)?;
        let access_log = dir.join(format!("{}.access.log", self.file_stem()));
        let sections = self.sections(&access_log, otlp);
        start_child(program, routes, &dir, self.file_stem(), &sections)
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CompareError {
    let shown = path.display().to_string();
    move |e: std::io::Error| CompareError::Output(shown, e)
}

/// The folder of the child gateways' files (`OUT/observability`).
pub(super) fn row_dir(out_dir: &Path) -> Result<std::path::PathBuf, CompareError> {
    let dir = out_dir.join("observability");
    std::fs::create_dir_all(&dir).map_err(io(&dir))?;
    std::fs::canonicalize(&dir).map_err(io(&dir))
}

/// Writes `routes` plus `sections` beside `routes` (same folder: the
/// protos and the supergraph resolve alike) as `routes-STEM.yaml`, and
/// starts a gateway child on it, its output in `dir/STEM.output.log`.
pub(super) fn start_child(
    program: &Path,
    routes: &Path,
    dir: &Path,
    stem: &str,
    sections: &str,
) -> Result<GatewayProcess, CompareError> {
    let folder = routes.parent().unwrap_or(Path::new("."));
    let base = std::fs::read_to_string(routes).map_err(io(routes))?;
    let base = with_own_event_store(&base, &dir.join(format!("{stem}.data")))?;
    let config = folder.join(format!("routes-{stem}.yaml"));
    let text = format!(
        "{}\n# Added by the comparison suite's proxy scenario.\n{sections}",
        base.trim_end(),
    );
    std::fs::write(&config, text).map_err(io(&config))?;
    let log = dir.join(format!("{stem}.output.log"));
    GatewayProcess::start(program, &config, &log)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_row_turns_on_only_its_own_observability() {
        let otlp: SocketAddr = "127.0.0.1:4317".parse().unwrap();
        let log = Path::new("/tmp/out/a.log");
        let off = ObservabilityRow::Off.sections(log, otlp);
        assert!(off.contains("metrics:\n  enabled: false"), "{off}");
        assert!(
            !off.contains("access_log") && !off.contains("tracing"),
            "{off}"
        );
        let logged = ObservabilityRow::AccessLogAndMetrics.sections(log, otlp);
        assert!(logged.contains("format: json"), "{logged}");
        assert!(logged.contains("path: \"/tmp/out/a.log\""), "{logged}");
        assert!(logged.contains("metrics:\n  enabled: true"), "{logged}");
        assert!(!logged.contains("tracing"), "{logged}");
        let sampled = ObservabilityRow::TracingOnePercent.sections(log, otlp);
        assert!(sampled.contains("ratio: 0.01 }"), "{sampled}");
        assert!(sampled.contains("endpoint: \"http://127.0.0.1:4317\""));
        let all = ObservabilityRow::TracingAll.sections(log, otlp);
        assert!(all.contains("ratio: 1 }"), "{all}");
        assert!(!all.contains("access_log"), "{all}");
    }

    /// The sections compile as the gateway's config.
    #[test]
    fn every_row_is_a_valid_config() {
        let otlp: SocketAddr = "127.0.0.1:4317".parse().unwrap();
        for row in ObservabilityRow::ALL {
            let yaml = format!(
                "listen: 127.0.0.1:0\nroutes: []\n{}",
                row.sections(Path::new("/tmp/access.log"), otlp)
            );
            if let Err(errors) = gateway::config::load_str(&yaml, "routes.yaml") {
                panic!("{}: {errors}", row.name());
            }
        }
    }
}
