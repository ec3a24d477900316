//! `mock-backends`: runs every mock service on its default address (see
//! `docs/mock-backends.md`) until Ctrl-C.

use std::process::ExitCode;

use clap::Parser;
use mock_backends::cli::Args;
use mock_backends::{ServiceKind, SubgraphKind, Subgraphs};

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
    let store = std::sync::Arc::clone(&backends.store);
    let subgraphs = match Subgraphs::start(store, SubgraphKind::default_addr).await {
        Ok(subgraphs) => subgraphs,
        Err(error) => {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    };
    for kind in SubgraphKind::ALL {
        println!(
            "{:<12} {}",
            format!("{kind}-graphql"),
            subgraphs.get(kind).url()
        );
    }
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
    print_seed_ids(backends.store.order_count());
    let _ = tokio::signal::ctrl_c().await;
    backends.shutdown().await;
    ExitCode::SUCCESS
}

fn print_seed_ids(order_count: usize) {
    use mock_backends::seed;
    println!("store: {order_count} orders");
    for (what, id) in [
        ("first customer (John Doe)", seed::FIRST_CUSTOMER_ID),
        ("first product (Widget)", seed::FIRST_PRODUCT_ID),
        ("first order (shipped)", seed::FIRST_ORDER_ID),
        ("pending order", seed::PENDING_ORDER_ID),
    ] {
        println!("{what:<26} {id}");
    }
}
