//! The `gateway` binary: parse the command line, install the process's
//! `tracing` subscriber (the logs, and the OpenTelemetry layer when
//! routes.yaml turns traces on), run the library.

use std::process::ExitCode;

use clap::Parser;
use gateway::observe::otel::TracingPipeline;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = gateway::cli::Cli::parse();
    let traces = start_traces(&cli);
    gateway::logging::init(&cli.log_settings(), traces.as_ref());
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
