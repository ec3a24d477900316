//! The general logs: one `tracing` subscriber for the process, assembled
//! here (the binary calls [`init`] once, before it starts the gateway).
//!
//! - **Level:** `RUST_LOG` when it is set, else `log.level` from the
//!   config file, else [`DEFAULT_FILTER`].
//! - **Format:** `log.format`: `text` (one line per event) or `json` (one
//!   object per line, the event's fields at the top level).
//! - **Colours:** text is coloured only for a person at a terminal, and
//!   never with `NO_COLOR` set (no-color.org: present and not empty).
//!
//! The subscriber is a registry with two layers: the format layer under
//! its filter (a per-layer filter that never enables the trace spans'
//! target, `otel`), and the OpenTelemetry layer when `tracing:` turns
//! traces on (it sees every `otel` span whatever the log level).
//! The access log is not a `tracing` layer: it is a sink of its own
//! (`access_log`), owned by each running gateway.

use std::io::IsTerminal;

use tracing::Subscriber;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::model::log::{LogFormat, LogSettings};
use crate::observe::otel::{self, TracingPipeline};

/// The filter when neither `RUST_LOG` nor `log.level` says otherwise.
pub const DEFAULT_FILTER: &str = "info,hyper=warn";

/// Installs the process's subscriber from `settings` (see the module
/// docs). Does nothing if one is installed already.
pub fn init(settings: &LogSettings, traces: Option<&TracingPipeline>) {
    let from_env = std::env::var(EnvFilter::DEFAULT_ENV).ok();
    let (filter, rejected_env) = filter(from_env.as_deref(), settings.level.as_deref());
    let filter = match format!("{}=off", otel::TARGET).parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    };
    let installed = tracing_subscriber::registry()
        .with(format_layer(settings.format, colour_on_stdout()).with_filter(filter))
        .with(traces.map(TracingPipeline::layer))
        .try_init()
        .is_ok();
    if installed && let Some(error) = rejected_env {
        tracing::warn!(%error, "RUST_LOG is not a valid filter and was ignored");
    }
}

/// `from_env` (`RUST_LOG`) if set and valid, else `level`, else the
/// default. The second value is why a set `RUST_LOG` was not used.
fn filter(from_env: Option<&str>, level: Option<&str>) -> (EnvFilter, Option<String>) {
    let configured = || {
        EnvFilter::builder()
            .parse(level.unwrap_or(DEFAULT_FILTER))
            .unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
    };
    match from_env {
        Some(directives) if !directives.trim().is_empty() => {
            match EnvFilter::builder().parse(directives) {
                Ok(filter) => (filter, None),
                Err(error) => (configured(), Some(error.to_string())),
            }
        }
        _ => (configured(), None),
    }
}

/// The layer that writes events to standard output in `format`.
pub fn format_layer<S>(format: LogFormat, ansi: bool) -> Box<dyn Layer<S> + Send + Sync>
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    match format {
        LogFormat::Text => tracing_subscriber::fmt::layer().with_ansi(ansi).boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .boxed(),
    }
}

fn colour_on_stdout() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    std::io::stdout().is_terminal() && !no_color
}

#[cfg(test)]
mod tests {
    use super::{DEFAULT_FILTER, filter};

    fn chosen(from_env: Option<&str>, level: Option<&str>) -> (String, bool) {
        let (filter, rejected) = filter(from_env, level);
        (filter.to_string(), rejected.is_some())
    }

    #[test]
    fn rust_log_wins_over_the_config_level() {
        assert_eq!(chosen(Some("debug"), Some("warn")), ("debug".into(), false));
    }

    #[test]
    fn the_config_level_applies_without_rust_log() {
        assert_eq!(chosen(None, Some("warn")), ("warn".into(), false));
        assert_eq!(chosen(Some(" "), Some("warn")), ("warn".into(), false));
    }

    #[test]
    fn the_default_applies_without_either() {
        let (filter, rejected) = chosen(None, None);
        assert!(!rejected);
        // Directives print most specific first.
        assert_eq!(filter, "hyper=warn,info");
        assert_eq!(DEFAULT_FILTER, "info,hyper=warn");
    }

    #[test]
    fn an_invalid_rust_log_is_reported_and_the_config_level_used() {
        assert_eq!(chosen(Some("info,=="), Some("warn")), ("warn".into(), true));
    }
}
