//! `log:`: how the gateway writes its general logs and its access log.

use std::path::PathBuf;

/// The general logs and the access log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LogSettings {
    /// The general logs' format.
    pub format: LogFormat,
    /// Filter directives in `RUST_LOG` syntax (`info,hyper=warn`); `None`
    /// means the default. `RUST_LOG`, when set, wins.
    pub level: Option<String>,
    pub access_log: AccessLogSettings,
}

/// A log's line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// `log.access_log:`: one record per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessLogSettings {
    /// `None` when the file does not say: `serve` then leaves the access
    /// log off and `demo` turns it on.
    pub enabled: Option<bool>,
    pub format: LogFormat,
    pub target: AccessLogTarget,
    /// Records one worker's buffer holds between two rounds of the writer
    /// thread at most; past that, records are dropped and counted.
    pub buffer_records: usize,
}

/// Records a worker's access-log buffer holds by default (a few MiB of
/// text at a few hundred bytes a record).
pub const DEFAULT_ACCESS_LOG_BUFFER: usize = 16_384;

impl Default for AccessLogSettings {
    fn default() -> Self {
        Self {
            enabled: None,
            format: LogFormat::Text,
            target: AccessLogTarget::Stdout,
            buffer_records: DEFAULT_ACCESS_LOG_BUFFER,
        }
    }
}

impl std::fmt::Display for AccessLogTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Stdout => f.write_str("stdout"),
            Self::Stderr => f.write_str("stderr"),
            Self::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Where access-log records go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessLogTarget {
    Stdout,
    Stderr,
    /// Appended to (created if missing).
    File(PathBuf),
}
