//! The `gateway` binary: parse the command line, install the process's
//! `tracing` subscriber (logs, and the OpenTelemetry layer when routes.yaml
//! turns traces on), run the library.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use gateway::observe::otel::{self, TracingPipeline};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = gateway::cli::Cli::parse();
    let traces = start_traces(&cli);
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_ansi(colour_on_stdout())
                .with_filter(log_filter()),
        )
        .with(traces.as_ref().map(TracingPipeline::layer))
        .init();
    let code = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(gateway::cli::run(cli)),
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    };
    // Exports the spans still queued.
    drop(traces);
    code
}

/// `RUST_LOG`, else `info,hyper=warn`. The trace spans' target is never
/// logged: those spans are for the OpenTelemetry layer alone.
fn log_filter() -> EnvFilter {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,hyper=warn"));
    match format!("{}=off", otel::TARGET).parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    }
}

/// The trace pipeline, when the config file's `tracing:` section turns it
/// on. Read once: changing `tracing:` takes a restart.
fn start_traces(cli: &gateway::cli::Cli) -> Option<TracingPipeline> {
    let settings = gateway::config::load_tracing(cli.config_path()?)?;
    if !settings.enabled {
        return None;
    }
    match TracingPipeline::start(&settings) {
        Ok(pipeline) => Some(pipeline),
        Err(error) => {
            eprintln!("traces are off: {error}");
            None
        }
    }
}

/// Logs (written to standard output) are coloured only for a person at a
/// terminal, and never with `NO_COLOR` set (no-color.org: present and not
/// empty); a file or a pipe gets plain text.
fn colour_on_stdout() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    std::io::stdout().is_terminal() && !no_color
}
