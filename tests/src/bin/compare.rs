//! `compare`: the latency comparison suite. Starts the mock backends and
//! the gateway in-process, drives load, writes `report.md`, SVG charts and
//! `report.json`. See docs/latency-comparison.md.
//!
//! `cargo run --release -p tests --bin compare -- [--quick] [--rounds N] [--scenario NAME] [--out target/compare]`

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

/// The gateway binary's allocator, so the in-process gateway measures as
/// it deploys (the mocks and the load generator share it).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tests::compare::{self, CompareOptions, gateway_process};

/// Measures the seed's claims: chatty client vs BFF, REST vs gRPC vs
/// GraphQL, and the gateway's overhead against nginx and HAProxy.
#[derive(Debug, Parser)]
#[command(name = "compare")]
struct Cli {
    /// Run every scenario for a few seconds only (smoke test).
    #[arg(long)]
    quick: bool,
    /// Rounds of the proxy, tls and federation scenarios (default 3, 1
    /// with --quick): the targets take turns in each round, and the
    /// proxy scenario's observability notes pair each row with the
    /// observability-off row of the same round.
    #[arg(long, value_name = "N")]
    rounds: Option<usize>,
    /// Run only this scenario: chatty, protocols, proxy, federation, events,
    /// resilience or tls.
    #[arg(long, value_name = "NAME")]
    scenario: Option<String>,
    /// Where to write report.md, report.json and the charts.
    #[arg(long, value_name = "DIR", default_value = "target/compare")]
    out: PathBuf,
    /// Internal: serve a gateway on this config in this process until
    /// killed (the proxy scenario's observability rows).
    #[arg(long = "serve-gateway", value_name = "ROUTES", hide = true)]
    serve_gateway: Option<PathBuf>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(config) = &cli.serve_gateway {
        return gateway_process::serve(config);
    }
    let options = CompareOptions {
        quick: cli.quick,
        rounds: cli.rounds,
        scenario: cli.scenario,
        out: cli.out,
        progress: true,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        gateway_program: std::env::current_exe().ok(),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("compare: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(compare::run(&options)) {
        Ok(_) => {
            println!(
                "report written to {}",
                options.out.join("report.md").display()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("compare: {error}");
            ExitCode::FAILURE
        }
    }
}
