//! `mock-backends`: runs every mock service on its default address (see
//! `docs/mock-backends.md`) until Ctrl-C.

use std::process::ExitCode;

use clap::Parser;
use mock_backends::ServiceKind;
use mock_backends::cli::Args;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let options = match Args::parse().into_options() {
        Ok(options) => options,
        Err(errors) => {
            errors.iter().for_each(|error| eprintln!("error: {error}"));
            return ExitCode::from(2);
        }
    };
    let backends = match mock_backends::start_all(options).await {
        Ok(backends) => backends,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    for kind in ServiceKind::ALL {
        let service = backends.service(kind);
        let faults = service.control.faults();
        println!(
            "{:<12} http://{}  latency={:?} jitter={:?} error_rate={}",
            kind.name(),
            service.addr,
            faults.latency,
            faults.jitter,
            faults.error_rate
        );
    }
    println!(
        "seeded: {} orders; first order {}",
        backends.store.order_count(),
        mock_backends::seed::FIRST_ORDER_ID
    );
    let _ = tokio::signal::ctrl_c().await;
    backends.shutdown().await;
    ExitCode::SUCCESS
}
