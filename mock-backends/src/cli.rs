//! Command-line flags of the `mock-backends` binary, and how they turn
//! into [`MockOptions`]. Per-service flags take `SERVICE=VALUE`, where
//! SERVICE is `orders` (REST and gRPC), `orders-rest`, `orders-grpc`,
//! `users`, `products`, `payments` or `all`.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use http::StatusCode;

use crate::control::FaultKind;
use crate::options::MockOptions;
use crate::services::ServiceKind;

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
    #[arg(long, value_name = "ADDR")]
    pub orders_addr: Option<SocketAddr>,
    #[arg(long, value_name = "ADDR")]
    pub orders_grpc_addr: Option<SocketAddr>,
    #[arg(long, value_name = "ADDR")]
    pub users_addr: Option<SocketAddr>,
    #[arg(long, value_name = "ADDR")]
    pub products_addr: Option<SocketAddr>,
    #[arg(long, value_name = "ADDR")]
    pub payments_addr: Option<SocketAddr>,
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
        let mut opts = if self.seed_latencies {
            MockOptions::default_addrs().with_seed_latencies()
        } else {
            MockOptions::default_addrs()
        };
        opts.seed_orders = self.generate_orders;
        let addrs = [
            (ServiceKind::OrdersRest, self.orders_addr),
            (ServiceKind::OrdersGrpc, self.orders_grpc_addr),
            (ServiceKind::Users, self.users_addr),
            (ServiceKind::Products, self.products_addr),
            (ServiceKind::Payments, self.payments_addr),
        ];
        for (kind, addr) in addrs {
            if let Some(addr) = addr {
                *opts.addrs.get_mut(kind) = addr;
            }
        }
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

fn apply_each<T: Copy>(
    opts: &mut MockOptions,
    errors: &mut Vec<FlagError>,
    flag: &'static str,
    values: &[String],
    parse: fn(&str) -> Result<T, String>,
    set: impl Fn(&mut crate::Faults, T),
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
            Ok((targets, value)) => targets
                .iter()
                .for_each(|kind| set(opts.faults.get_mut(*kind), value)),
            Err(problem) => errors.push(error(problem)),
        }
    }
}

/// The services a SERVICE name selects.
pub fn parse_targets(name: &str) -> Result<Vec<ServiceKind>, String> {
    match name.trim() {
        "all" => Ok(ServiceKind::ALL.to_vec()),
        "orders" => Ok(vec![ServiceKind::OrdersRest, ServiceKind::OrdersGrpc]),
        other => ServiceKind::ALL.into_iter().find(|k| k.name() == other).map(|k| vec![k]).ok_or_else(|| {
            format!("unknown service {other:?}: expected orders, orders-rest, orders-grpc, users, products, payments or all")
        }),
    }
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
mod tests {
    use super::*;

    fn args(flags: &[&str]) -> Args {
        Args::parse_from(std::iter::once("mock-backends").chain(flags.iter().copied()))
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30ms"), Ok(Duration::from_millis(30)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(
            parse_duration("30").unwrap_err(),
            "duration \"30\" needs a unit (us, ms, s, m or h), e.g. \"30ms\""
        );
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn flags_become_options() {
        let opts = args(&[
            "--latency",
            "users=30ms",
            "--jitter",
            "users=5ms",
            "--error-rate",
            "orders=0.1",
            "--error-kind",
            "payments=503",
            "--generate-orders",
            "7",
            "--users-addr",
            "127.0.0.1:9000",
        ])
        .into_options()
        .unwrap();
        assert_eq!(opts.faults.users.latency, Duration::from_millis(30));
        assert_eq!(opts.faults.users.jitter, Duration::from_millis(5));
        assert_eq!(
            (
                opts.faults.orders.error_rate,
                opts.faults.orders_grpc.error_rate
            ),
            (0.1, 0.1)
        );
        assert_eq!(
            opts.faults.orders_grpc.error_kind,
            FaultKind::Grpc(tonic::Code::Unavailable)
        );
        assert_eq!(
            opts.faults.payments.error_kind,
            FaultKind::Http(StatusCode::SERVICE_UNAVAILABLE)
        );
        assert_eq!(opts.seed_orders, 7);
        assert_eq!(opts.addrs.users.port(), 9000);
        assert_eq!(opts.addrs.orders.port(), 7101);
    }

    #[test]
    fn seed_latencies_preset() {
        let opts = args(&["--seed-latencies", "--latency", "users=1ms"])
            .into_options()
            .unwrap();
        assert_eq!(opts.faults.orders.latency, Duration::from_millis(50));
        assert_eq!(opts.faults.products.latency, Duration::from_millis(40));
        assert_eq!(opts.faults.users.latency, Duration::from_millis(1));
    }

    #[test]
    fn every_bad_flag_is_reported() {
        let errors = args(&[
            "--latency",
            "userz=1ms",
            "--error-rate",
            "orders=2",
            "--jitter",
            "users",
        ])
        .into_options()
        .unwrap_err();
        let flags: Vec<&str> = errors.iter().map(|e| e.flag).collect();
        assert_eq!(flags, ["latency", "jitter", "error-rate"]);
    }
}
