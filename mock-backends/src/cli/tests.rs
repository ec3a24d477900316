//! Flags to options: every flag, every target name, every error at once.

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
    // A domain name reaches its GraphQL subgraph too.
    assert_eq!(
        opts.subgraph_faults.users.latency,
        Duration::from_millis(30)
    );
    assert_eq!(opts.subgraph_faults.orders.error_rate, 0.1);
    assert_eq!(opts.subgraph_faults.products.latency, Duration::ZERO);
}

#[test]
fn one_listener_can_be_targeted_alone() {
    let opts = args(&[
        "--latency",
        "users-graphql=200ms",
        "--latency",
        "products-rest=1.5s",
    ])
    .into_options()
    .unwrap();
    assert_eq!(
        opts.subgraph_faults.users.latency,
        Duration::from_millis(200)
    );
    assert_eq!(opts.faults.users.latency, Duration::ZERO);
    assert_eq!(opts.faults.products.latency, Duration::from_millis(1500));
    assert_eq!(opts.subgraph_faults.products.latency, Duration::ZERO);
}

#[test]
fn every_listener_has_an_address_flag_and_any_port_frees_them_all() {
    let opts = args(&["--users-graphql-addr", "127.0.0.1:9112"])
        .into_options()
        .unwrap();
    assert_eq!(opts.subgraph_addrs.users.port(), 9112);
    assert_eq!(opts.subgraph_addrs.orders.port(), 7111);
    let opts = args(&["--any-port", "--payments-graphql-addr", "127.0.0.1:9114"])
        .into_options()
        .unwrap();
    assert_eq!(opts.addrs.orders.port(), 0);
    assert_eq!(opts.subgraph_addrs.orders.port(), 0);
    assert_eq!(opts.subgraph_addrs.payments.port(), 9114);
}

#[test]
fn seed_latencies_preset() {
    let opts = args(&["--seed-latencies", "--latency", "users=1ms"])
        .into_options()
        .unwrap();
    assert_eq!(opts.faults.orders.latency, Duration::from_millis(50));
    assert_eq!(opts.faults.products.latency, Duration::from_millis(40));
    assert_eq!(opts.faults.users.latency, Duration::from_millis(1));
    assert_eq!(
        opts.subgraph_faults.orders.latency,
        Duration::from_millis(50)
    );
    assert_eq!(opts.subgraph_faults.users.latency, Duration::from_millis(1));
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
