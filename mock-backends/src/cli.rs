//! Command-line flags of the `mock-backends` binary, and how they turn
//! into [`MockOptions`]. Per-service flags take `SERVICE=VALUE`, where
//! SERVICE is one listener (`orders-rest`, `orders-grpc`, `users-rest`,
//! `products-rest`, `payments-rest`, `orders-graphql`, `users-graphql`,
//! `products-graphql`, `payments-graphql`), a domain with every listener
//! that serves it (`orders` = REST + gRPC + GraphQL, `users`, `products`,
//! `payments` = REST + GraphQL), or `all`.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use http::StatusCode;

use crate::control::{FaultKind, Faults};
use crate::options::MockOptions;
use crate::services::ServiceKind;
use crate::subgraphs::SubgraphKind;

/// Runs every mock service on its default address.
#[derive(Debug, Parser)]
#[command(name = "mock-backends", version, about)]
pub struct Args {
    /// Fixed latency, e.g. `users=30ms` or `users=1.5s` (units: us, ms, s, m, h). Repeatable.
    #[arg(long, value_name = "SERVICE=DURATION")]
    pub latency: Vec<String>,
    /// Extra random latency in [0, jitter], e.g. `users=5ms`. Repeatable.
    #[arg(long, value_name = "SERVICE=DURATION")]
    pub jitter: Vec<String>,
    /// Fraction of requests that fail, e.g. `orders=0.1`. Repeatable.
    #[arg(long, value_name = "SERVICE=RATE")]
    pub error_rate: Vec<String>,
    /// How injected failures look: `500`, `503` or `unavailable` (gRPC). Repeatable.
    #[arg(long, value_name = "SERVICE=KIND")]
    pub error_kind: Vec<String>,
    /// The seed's latencies: orders 50 ms, users 30, products 40, payments 20.
    #[arg(long)]
    pub seed_latencies: bool,
    /// Extra generated orders, for benchmarks on a large store.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub generate_orders: usize,
    /// Every listener on 127.0.0.1 port 0 (a free port each), unless its
    /// own address flag says otherwise. The chosen addresses are printed.
    #[arg(long)]
    pub any_port: bool,
    #[arg(long, value_name = "ADDR", alias = "orders-rest-addr")]
    pub orders_addr: Option<SocketAddr>,
    #[arg(long, value_name = "ADDR")]
    pub orders_grpc_addr: Option<SocketAddr>,
    #[arg(long, value_name = "ADDR", alias = "users-rest-addr")]
    pub users_addr: Option<SocketAddr>,
    #[arg(long, value_name = "ADDR", alias = "products-rest-addr")]
    pub products_addr: Option<SocketAddr>,
    #[arg(long, value_name = "ADDR", alias = "payments-rest-addr")]
    pub payments_addr: Option<SocketAddr>,
    #[arg(long, value_name = "ADDR")]
    pub orders_graphql_addr: Option<SocketAddr>,
    #[arg(long, value_name = "ADDR")]
    pub users_graphql_addr: Option<SocketAddr>,
    #[arg(long, value_name = "ADDR")]
    pub products_graphql_addr: Option<SocketAddr>,
    #[arg(long, value_name = "ADDR")]
    pub payments_graphql_addr: Option<SocketAddr>,
}

/// What a SERVICE name in a flag selects: one listener.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Service(ServiceKind),
    Subgraph(SubgraphKind),
}

/// A flag value that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--{flag} {value:?}: {problem}")]
pub struct FlagError {
    pub flag: &'static str,
    pub value: String,
    pub problem: String,
}

impl Args {
    /// Turns the flags into options, reporting every bad flag at once.
    pub fn into_options(self) -> Result<MockOptions, Vec<FlagError>> {
        let mut opts = if self.any_port {
            MockOptions::ephemeral()
        } else {
            MockOptions::default_addrs()
        };
        if self.seed_latencies {
            opts = opts.with_seed_latencies();
        }
        opts.seed_orders = self.generate_orders;
        self.apply_addrs(&mut opts);
        let mut errors = Vec::new();
        apply_each(
            &mut opts,
            &mut errors,
            "latency",
            &self.latency,
            parse_duration,
            |f, d| f.latency = d,
        );
        apply_each(
            &mut opts,
            &mut errors,
            "jitter",
            &self.jitter,
            parse_duration,
            |f, d| f.jitter = d,
        );
        apply_each(
            &mut opts,
            &mut errors,
            "error-rate",
            &self.error_rate,
            parse_rate,
            |f, r| f.error_rate = r,
        );
        apply_each(
            &mut opts,
            &mut errors,
            "error-kind",
            &self.error_kind,
            parse_fault_kind,
            |f, k| f.error_kind = k,
        );
        if errors.is_empty() {
            Ok(opts)
        } else {
            Err(errors)
        }
    }
}

impl Args {
    fn apply_addrs(&self, opts: &mut MockOptions) {
        let services = [
            (ServiceKind::OrdersRest, self.orders_addr),
            (ServiceKind::OrdersGrpc, self.orders_grpc_addr),
            (ServiceKind::Users, self.users_addr),
            (ServiceKind::Products, self.products_addr),
            (ServiceKind::Payments, self.payments_addr),
        ];
        for (kind, addr) in services {
            if let Some(addr) = addr {
                *opts.addrs.get_mut(kind) = addr;
            }
        }
        let subgraphs = [
            (SubgraphKind::Orders, self.orders_graphql_addr),
            (SubgraphKind::Users, self.users_graphql_addr),
            (SubgraphKind::Products, self.products_graphql_addr),
            (SubgraphKind::Payments, self.payments_graphql_addr),
        ];
        for (kind, addr) in subgraphs {
            if let Some(addr) = addr {
                *opts.subgraph_addrs.get_mut(kind) = addr;
            }
        }
    }
}

fn apply_each<T: Copy>(
    opts: &mut MockOptions,
    errors: &mut Vec<FlagError>,
    flag: &'static str,
    values: &[String],
    parse: fn(&str) -> Result<T, String>,
    set: impl Fn(&mut Faults, T),
) {
    for raw in values {
        let error = |problem: String| FlagError {
            flag,
            value: raw.clone(),
            problem,
        };
        let parsed = raw
            .split_once('=')
            .ok_or_else(|| "expected SERVICE=VALUE".to_owned())
            .and_then(|(service, value)| Ok((parse_targets(service)?, parse(value.trim())?)));
        match parsed {
            Ok((targets, value)) => {
                for target in targets {
                    let faults = match target {
                        Target::Service(kind) => opts.faults.get_mut(kind),
                        Target::Subgraph(kind) => opts.subgraph_faults.get_mut(kind),
                    };
                    set(faults, value);
                }
            }
            Err(problem) => errors.push(error(problem)),
        }
    }
}

/// The listeners a SERVICE name selects.
pub fn parse_targets(name: &str) -> Result<Vec<Target>, String> {
    let services = ServiceKind::ALL.map(Target::Service);
    let subgraphs = SubgraphKind::ALL.map(Target::Subgraph);
    let targets = match name.trim() {
        "all" => services.iter().chain(&subgraphs).copied().collect(),
        "orders" => vec![
            Target::Service(ServiceKind::OrdersRest),
            Target::Service(ServiceKind::OrdersGrpc),
            Target::Subgraph(SubgraphKind::Orders),
        ],
        "users" => domain(ServiceKind::Users, SubgraphKind::Users),
        "products" => domain(ServiceKind::Products, SubgraphKind::Products),
        "payments" => domain(ServiceKind::Payments, SubgraphKind::Payments),
        "orders-rest" => vec![Target::Service(ServiceKind::OrdersRest)],
        "orders-grpc" => vec![Target::Service(ServiceKind::OrdersGrpc)],
        "users-rest" => vec![Target::Service(ServiceKind::Users)],
        "products-rest" => vec![Target::Service(ServiceKind::Products)],
        "payments-rest" => vec![Target::Service(ServiceKind::Payments)],
        other => {
            let subgraph = SubgraphKind::ALL
                .into_iter()
                .find(|kind| kind.service_name() == other);
            match subgraph {
                Some(kind) => vec![Target::Subgraph(kind)],
                None => {
                    return Err(format!(
                        "unknown service {other:?}: expected all, orders, users, products, payments \
                     (every listener of that domain), or one listener: orders-rest, orders-grpc, \
                     users-rest, products-rest, payments-rest, orders-graphql, users-graphql, \
                     products-graphql or payments-graphql"
                    ));
                }
            }
        }
    };
    Ok(targets)
}

fn domain(service: ServiceKind, subgraph: SubgraphKind) -> Vec<Target> {
    vec![Target::Service(service), Target::Subgraph(subgraph)]
}

/// Parses a duration in the syntax `routes.yaml` uses too (crate
/// `durations`): `30ms`, `1.5s`, `250us`, `1m`, `0`.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    durations::parse(raw).map_err(|error| error.to_string())
}

/// Parses a rate in `[0, 1]`.
pub fn parse_rate(raw: &str) -> Result<f64, String> {
    match raw.parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err(format!("expected a rate between 0 and 1, got {raw:?}")),
    }
}

/// Parses `500`, `503` (HTTP) or `unavailable` (gRPC).
pub fn parse_fault_kind(raw: &str) -> Result<FaultKind, String> {
    match raw {
        "unavailable" => Ok(FaultKind::Grpc(tonic::Code::Unavailable)),
        _ => raw
            .parse::<u16>()
            .ok()
            .and_then(|code| StatusCode::from_u16(code).ok())
            .filter(|status| status.is_server_error() || status.is_client_error())
            .map(FaultKind::Http)
            .ok_or_else(|| format!("expected an HTTP error status such as 500 or 503, or `unavailable`, got {raw:?}")),
    }
}

#[cfg(test)]
mod tests;
