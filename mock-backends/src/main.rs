//! `mock-backends`: runs every mock service and GraphQL subgraph (see
//! `docs/mock-backends.md`) until Ctrl-C.
//!
//! Standard output is machine-readable: once every listener is bound, one
//! `NAME=ADDR` line per listener (`orders-rest=127.0.0.1:7101`, ...,
//! `payments-graphql=127.0.0.1:7114`), so `--any-port` can be scripted.
//! Everything for people (settings, seeded ids, logs) goes to standard
//! error.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use mock_backends::cli::Args;
use mock_backends::{MockBackends, MockError, ServiceKind, SubgraphKind, Subgraphs};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(colour_on_stderr())
        .init();
    let options = match Args::parse().into_options() {
        Ok(options) => options,
        Err(errors) => {
            errors.iter().for_each(|error| eprintln!("error: {error}"));
            return ExitCode::from(2);
        }
    };
    let backends = match mock_backends::start_all(options.clone()).await {
        Ok(backends) => backends,
        Err(error) => return start_failed(&error),
    };
    let store = std::sync::Arc::clone(&backends.store);
    let subgraphs = match options.start_subgraphs(store).await {
        Ok(subgraphs) => subgraphs,
        Err(error) => return start_failed(&error),
    };
    print_addresses(&backends, &subgraphs);
    print_settings(&backends, &subgraphs);
    print_seed_ids(backends.store.order_count());
    let _ = tokio::signal::ctrl_c().await;
    backends.shutdown().await;
    ExitCode::SUCCESS
}

/// Colour only for a person at a terminal, and never with `NO_COLOR` set
/// (no-color.org: present and not empty).
fn colour_on_stderr() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
    std::io::stderr().is_terminal() && !no_color
}

fn start_failed(error: &MockError) -> ExitCode {
    eprintln!("error: {error}");
    if let MockError::Bind { service, .. } = error {
        eprintln!(
            "hint: move it with --{}-addr ADDR, or start every listener on a free port with --any-port",
            flag_stem(service)
        );
    }
    ExitCode::FAILURE
}

/// The address flag of a listener: `orders-rest` listens with
/// `--orders-addr` (or `--orders-rest-addr`), the rest by their name.
fn flag_stem(service: &str) -> &str {
    service.strip_suffix("-rest").unwrap_or(service)
}

fn print_addresses(backends: &MockBackends, subgraphs: &Subgraphs) {
    for kind in ServiceKind::ALL {
        println!("{}={}", listing_name(kind), backends.service(kind).addr);
    }
    for kind in SubgraphKind::ALL {
        println!("{}={}", kind.service_name(), subgraphs.get(kind).addr);
    }
}

/// The REST services by their `-rest` names, so no listing name is also
/// a domain name (`users` targets REST and GraphQL in flags).
fn listing_name(kind: ServiceKind) -> String {
    match kind {
        ServiceKind::OrdersRest | ServiceKind::OrdersGrpc => kind.name().to_owned(),
        other => format!("{}-rest", other.name()),
    }
}

fn print_settings(backends: &MockBackends, subgraphs: &Subgraphs) {
    let rows = ServiceKind::ALL
        .into_iter()
        .map(|kind| {
            let service = backends.service(kind);
            (listing_name(kind), service.url(), service.control.faults())
        })
        .chain(SubgraphKind::ALL.into_iter().map(|kind| {
            let subgraph = subgraphs.get(kind);
            let name = kind.service_name().to_owned();
            (name, subgraph.url(), subgraph.control.faults())
        }));
    for (name, url, faults) in rows {
        eprintln!(
            "{name:<17} {url:<34} latency={:?} jitter={:?} error_rate={}",
            faults.latency, faults.jitter, faults.error_rate
        );
    }
}

fn print_seed_ids(order_count: usize) {
    use mock_backends::seed;
    eprintln!("store: {order_count} orders");
    for (what, id) in [
        ("first customer (John Doe)", seed::FIRST_CUSTOMER_ID),
        ("first product (Widget)", seed::FIRST_PRODUCT_ID),
        ("first order (shipped)", seed::FIRST_ORDER_ID),
        ("pending order", seed::PENDING_ORDER_ID),
    ] {
        eprintln!("{what:<26} {id}");
    }
}
