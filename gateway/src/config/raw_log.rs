//! Raw serde types for the top-level `log:` section: the general logs'
//! format and level, and the access log. Compiled in `compile/log.rs`.

use marked_yaml::Spanned;
use serde::Deserialize;

use super::raw::Text;

/// `log:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLog {
    pub format: Option<Spanned<RawLogFormat>>,
    /// `RUST_LOG` syntax; `RUST_LOG` itself wins when set.
    pub level: Option<Text>,
    pub access_log: Option<RawAccessLog>,
}

/// `log.access_log:`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAccessLog {
    pub enabled: Option<Spanned<bool>>,
    pub format: Option<Spanned<RawLogFormat>>,
    /// `stdout`, `stderr` or a file path (relative to the config file).
    pub path: Option<Text>,
    pub buffer_records: Option<Spanned<u64>>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RawLogFormat {
    Text,
    Json,
}
