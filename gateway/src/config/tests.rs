//! Config loading tests: whole files in, a compiled config or every error
//! out. The error snapshots are the messages `gateway check` prints.

use std::time::Duration;

use super::model::{LoadBalancing, PathRewrite, RouteAction, UpstreamProtocol};
use super::*;

const DEFAULT_ROUTES: &str = include_str!("../../../routes.yaml");

/// The errors for `source`, one per line, as `gateway check` prints them.
fn errors_of(source: &str) -> String {
    match load_str(source, "routes.yaml") {
        Ok(_) => panic!("expected errors, but the config compiled"),
        Err(errors) => errors.to_string(),
    }
}

fn compiled(source: &str) -> GatewayConfig {
    // Relative paths (grpc.protos) resolve from the repository root, where
    // routes.yaml lives.
    let repo_root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    load_str_in(source, "routes.yaml", repo_root)
        .unwrap_or_else(|errors| panic!("config rejected:\n{errors}"))
}

fn proxy_of(config: &GatewayConfig, name: &str) -> super::model::ProxyAction {
    let route = config.routes.iter().find(|route| route.name == name);
    match route.map(|route| &route.action) {
        Some(RouteAction::Proxy(proxy)) => proxy.clone(),
        Some(other) => panic!("route {name} is not a proxy route: {other:?}"),
        None => panic!("no route named {name}"),
    }
}

#[test]
fn the_default_routes_yaml_compiles() {
    let config = compiled(DEFAULT_ROUTES);
    assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.admin.to_string(), "127.0.0.1:9901");
    let names: Vec<&str> = config.backends.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "inventory",
            "notification",
            "orders",
            "orders-grpc",
            "payment-processor",
            "payments",
            "products",
            "users"
        ]
    );
    let events = config.events.as_ref().expect("the events section");
    let topics: Vec<&str> = events.topic_names().collect();
    assert_eq!(topics, ["orders", "payments"]);
    let subscriptions: Vec<&str> = events
        .subscriptions
        .iter()
        .map(|subscription| subscription.name.as_str())
        .collect();
    assert_eq!(
        subscriptions,
        ["inventory", "notification", "payment-processor"]
    );
    assert_eq!(
        config.backends["orders-grpc"].protocol,
        UpstreamProtocol::H2c
    );
    assert_eq!(
        config.backends["users"].load_balancing,
        LoadBalancing::RoundRobin
    );
    assert_eq!(config.server.default_max_body, Some(16 << 20));
    let paths: Vec<&str> = config
        .routes
        .iter()
        .map(|route| route.path.as_str())
        .collect();
    for wanted in [
        "/v1/orders",
        "/v1/orders/{id}",
        "/v1/orders/{id}/status",
        "/v1/users/{id}",
        "/v1/products",
        "/v1/products/{id}",
        "/v1/payments/{order_id}",
        "/v1/events/orders",
        "/v1/events/payments",
    ] {
        assert!(paths.contains(&wanted), "routes.yaml lacks {wanted}");
    }
}

#[test]
fn the_default_routes_yaml_shows_every_route_feature() {
    let config = compiled(DEFAULT_ROUTES);
    let payments = config
        .routes
        .iter()
        .find(|route| route.name == "payments")
        .unwrap();
    assert_eq!(payments.timeout, Some(Duration::from_secs(5)));
    let create = config
        .routes
        .iter()
        .find(|route| route.name == "GET,POST /v1/orders")
        .unwrap();
    assert_eq!(create.max_body, Some(64 * 1024));
    let legacy = proxy_of(&config, "users-legacy-api");
    assert_eq!(legacy.rewrite, PathRewrite::StripPrefix("/api".to_owned()));
    assert_eq!(legacy.backend.name, "users");
    let shop = proxy_of(&config, "shop-items");
    assert_eq!(
        shop.rewrite,
        PathRewrite::Template("/v1/products/{id}".to_owned())
    );
    let products = config
        .routes
        .iter()
        .find(|route| route.name == "GET /v1/products")
        .unwrap();
    assert_eq!(products.headers.request_add.len(), 1);
    assert_eq!(products.headers.request_remove[0], "cookie");
    assert_eq!(products.headers.response_remove[0], "server");
}

#[test]
fn every_mistake_is_reported_at_once_with_its_position() {
    insta::assert_snapshot!(errors_of(include_str!("testdata/many_mistakes.yaml")));
}

#[test]
fn errors_are_sorted_by_position() {
    let errors = load_str(include_str!("testdata/many_mistakes.yaml"), "x.yaml").unwrap_err();
    let positions: Vec<_> = errors.iter().map(|error| error.position).collect();
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted);
    assert!(errors.len() > 20, "only {} errors found", errors.len());
}

#[test]
fn durations_take_decimals_and_minutes() {
    let config = compiled(
        "backends:\n  a:\n    url: http://127.0.0.1:1\n    connect_timeout: 1.5s\n    request_timeout: 1m\n",
    );
    let backend = &config.backends["a"];
    assert_eq!(backend.connect_timeout, Duration::from_millis(1500));
    assert_eq!(backend.request_timeout, Duration::from_secs(60));
}

#[test]
fn bad_durations_say_what_is_wrong() {
    insta::assert_snapshot!(errors_of(
        "backends:
  a:
    url: http://127.0.0.1:1
    connect_timeout: 1.5x
    request_timeout: \"30\"
    ejection:
      cooldown: 1..5s
  b:
    url: http://127.0.0.1:2
    connect_timeout: 2sec
    request_timeout: 99999999999999999999h
"
    ));
}

#[test]
fn an_empty_file_is_all_defaults() {
    let config = compiled("# nothing yet\n");
    assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.admin.to_string(), "127.0.0.1:9901");
    assert_eq!(config.server, super::model::ServerSettings::default());
    assert!(config.routes.is_empty() && config.backends.is_empty());
}

#[test]
fn backend_defaults_apply_to_absent_keys() {
    let config = compiled("backends:\n  a:\n    url: http://127.0.0.1:1\n");
    let backend = &config.backends["a"];
    assert_eq!(backend.protocol, UpstreamProtocol::Http1);
    assert_eq!(backend.load_balancing, LoadBalancing::LeastRequest);
    assert_eq!(backend.connect_timeout, Duration::from_secs(2));
    assert_eq!(backend.request_timeout, Duration::from_secs(30));
    assert_eq!(backend.max_connections, 1024);
    assert_eq!(backend.ejection.consecutive_failures, 5);
    assert_eq!(backend.ejection.cooldown, Duration::from_secs(10));
}

#[test]
fn hash_is_the_sha256_of_the_file_bytes() {
    let config = compiled("listen: 127.0.0.1:0\n");
    // `printf 'listen: 127.0.0.1:0\n' | sha256sum`
    assert_eq!(
        config.hash,
        "e196f11918549ce29aeee7f81e73286ad813151f5986936f164c2fb8d2812264"
    );
}

#[test]
fn unnamed_routes_are_named_by_methods_and_path() {
    let source = "backends: {a: {url: 'http://127.0.0.1:1'}}\nroutes:\n  - {path: /x, methods: [GET, POST], backend: a}\n  - {path: /y, backend: a}\n";
    let names: Vec<String> = compiled(source)
        .routes
        .iter()
        .map(|route| route.name.clone())
        .collect();
    assert_eq!(names, ["GET,POST /x", "* /y"]);
}

#[test]
fn invalid_yaml_is_one_error_at_the_syntax_mistake() {
    insta::assert_snapshot!(errors_of("routes:\n  - path: /x\n     backend: a\n"));
}

#[test]
fn a_duplicate_key_points_at_the_second_one() {
    let source =
        "backends:\n  a:\n    url: http://127.0.0.1:1\n  a:\n    url: http://127.0.0.1:2\n";
    assert_eq!(
        errors_of(source),
        "routes.yaml:4:3: duplicate key \"a\" (first defined on line 2)"
    );
}

#[test]
fn a_top_level_list_is_refused() {
    insta::assert_snapshot!(errors_of("- path: /x\n"));
}

#[test]
fn an_unreadable_file_is_one_error_without_position() {
    let path = std::path::Path::new("/nonexistent/routes.yaml");
    let errors = load_file(path).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert!(
        errors
            .to_string()
            .starts_with("/nonexistent/routes.yaml: cannot read file: "),
        "{errors}"
    );
}

#[test]
fn check_file_reads_the_same_file_as_load_file() {
    let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../routes.yaml"));
    let checked = check_file(path).unwrap_or_else(|errors| panic!("{errors}"));
    assert_eq!(checked.hash, compiled(DEFAULT_ROUTES).hash);
}

#[test]
fn bad_path_patterns_point_at_the_path() {
    let source = "backends: {a: {url: 'http://127.0.0.1:1'}}\nroutes:\n  - path: v1/x\n    backend: a\n  - path: /v1/{id}/{id}\n    backend: a\n  - path: /v1/{*rest}/more\n    backend: a\n  - path: /v1/a{id}\n    backend: a\n";
    insta::assert_snapshot!(errors_of(source));
}

#[test]
fn exclusive_keys_are_refused_together() {
    let source = "backends:\n  a:\n    url: http://127.0.0.1:1\n    urls: [http://127.0.0.1:2]\nroutes:\n  - path: /x\n    method: GET\n    methods: [POST]\n    backend: a\n  - path: /y\n    backend: a\n    rewrite: {strip_prefix: /y, template: /z}\n  - path: /z\n    backend: a\n    rewrite: {}\n";
    insta::assert_snapshot!(errors_of(source));
}

#[test]
fn listen_and_admin_must_differ() {
    let source = "listen: 127.0.0.1:8080\nadmin: 127.0.0.1:8080\n";
    assert_eq!(
        errors_of(source),
        "routes.yaml:2:8: admin: 127.0.0.1:8080 is also the main listener address"
    );
    compiled("listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\n");
}

#[test]
fn wrong_types_name_the_key() {
    let source =
        "server: [1, 2]\nbackends:\n  a:\n    url: [http://127.0.0.1:1]\nroutes: {path: /x}\n";
    insta::assert_snapshot!(errors_of(source));
}

#[test]
fn a_literal_segment_beside_a_parameter_is_no_conflict() {
    let source = "backends: {a: {url: 'http://127.0.0.1:1'}}\nroutes:\n  - {path: '/v1/orders/search', backend: a}\n  - {path: '/v1/orders/{id}', backend: a}\n  - {path: '/v1/orders/{id}', host: API.example.com, backend: a}\n";
    let config = compiled(source);
    assert_eq!(config.routes.len(), 3);
    assert_eq!(config.routes[2].host.as_deref(), Some("api.example.com"));
}

#[test]
fn ipv6_listen_addresses_are_accepted() {
    assert_eq!(
        compiled("listen: '[::1]:8080'\n").listen.to_string(),
        "[::1]:8080"
    );
}

#[test]
fn worker_count_is_one_to_the_maximum_or_one_per_core() {
    assert_eq!(compiled("server: {workers: 3}\n").server.workers, Some(3));
    let default = compiled("").server;
    assert_eq!(default.workers, None);
    assert!(default.worker_count() >= 1);
    assert_eq!(
        errors_of("server:\n  workers: 0\n"),
        "routes.yaml:2:12: server.workers: must be between 1 and 256 (or left out for one per CPU core)"
    );
    assert_eq!(
        errors_of("server:\n  workers: 257\n"),
        "routes.yaml:2:12: server.workers: must be between 1 and 256 (or left out for one per CPU core)"
    );
}

#[test]
fn methods_may_be_a_single_string() {
    let source = "backends: {a: {url: 'http://127.0.0.1:1'}}\nroutes:\n  - path: /x\n    methods: PATCH\n    backend: a\n";
    let config = compiled(source);
    assert_eq!(config.routes[0].methods, Some(vec![http::Method::PATCH]));
}

#[test]
fn server_drain_delay_defaults_to_zero() {
    assert_eq!(compiled("").server.drain_delay, Duration::ZERO);
    let config = compiled("server: { drain_delay: 5s }\n");
    assert_eq!(config.server.drain_delay, Duration::from_secs(5));
}

#[test]
fn a_reload_may_drop_every_route_only_when_the_file_says_routes_empty() {
    let serving = compiled(
        "backends: {a: {url: 'http://127.0.0.1:1'}}\nroutes:\n  - {path: /x, backend: a}\n",
    );
    for truncated in ["", "backends: {}\n", "routes:\n"] {
        let errors = check_reload(&compiled(truncated), &serving, "routes.yaml").unwrap_err();
        assert!(errors.to_string().contains("`routes: []`"), "{errors}");
    }
    check_reload(&compiled("routes: []\n"), &serving, "routes.yaml").unwrap();
    check_reload(&compiled(""), &compiled(""), "routes.yaml").unwrap();
}

#[test]
fn edge_settings_have_documented_defaults() {
    let config = compiled("");
    let server = &config.server;
    assert_eq!(server.default_max_body, Some(1024 * 1024));
    assert!(server.trusted_proxies.is_empty());
    assert_eq!(
        server.headers_with_underscores,
        super::model::UnderscoreHeaders::Drop
    );
    assert_eq!(server.request_limits.max_uri_length, 8 * 1024);
    assert_eq!(server.request_limits.max_header_bytes, 64 * 1024);
    assert_eq!(server.request_limits.max_headers, 100);
}

#[test]
fn edge_settings_are_read_and_checked() {
    let config = compiled(
        "server:\n  max_body: unlimited\n  trusted_proxies: [10.0.0.0/8, 192.168.1.7, \"fd00::/8\"]\n  headers_with_underscores: reject\n  max_uri_length: 2KiB\n  max_headers: 50\n  max_header_bytes: 32KiB\nroutes:\n  - { path: /up, backend: b, max_body: unlimited }\nbackends:\n  b: { url: \"http://127.0.0.1:1\" }\n",
    );
    let server = &config.server;
    assert_eq!(server.default_max_body, None);
    assert_eq!(server.trusted_proxies.len(), 3);
    assert_eq!(server.trusted_proxies[1].to_string(), "192.168.1.7/32");
    assert_eq!(server.request_limits.max_uri_length, 2048);
    assert_eq!(server.request_limits.max_headers, 50);
    assert_eq!(config.routes[0].max_body, Some(u64::MAX));
    let errors = errors_of(
        "server:\n  trusted_proxies: [10.0.0.0/33, nonsense]\n  max_header_bytes: 1KiB\n  max_headers: 0\n",
    );
    assert!(
        errors.contains("routes.yaml:2:21: server.trusted_proxies: \"10.0.0.0/33\""),
        "{errors}"
    );
    assert!(
        errors.contains("\"nonsense\" is not an IP address or CIDR"),
        "{errors}"
    );
    assert!(
        errors.contains("server.max_header_bytes: must be between 8192 bytes"),
        "{errors}"
    );
    assert!(
        errors.contains("server.max_headers: must be between 1 and 10000"),
        "{errors}"
    );
    let bad_policy = errors_of("server:\n  headers_with_underscores: maybe\n");
    assert!(
        bad_policy.contains("headers_with_underscores"),
        "{bad_policy}"
    );
}

#[test]
fn connection_limits_and_timeouts_are_read_and_checked() {
    let config = compiled(
        "server:\n  idle_timeout: 5s\n  max_connections: 100\n  max_connections_per_worker: 50\n  listen_backlog: 1024\n  http2: { keepalive_interval: 1s, keepalive_timeout: 2s, max_concurrent_streams: 10, max_header_list_size: 8KiB, max_pending_accept_reset_streams: 5, max_local_error_reset_streams: 6 }\n  streams: { sse_heartbeat: 3s, websocket_ping_interval: 4s, websocket_pong_timeout: 5s }\nbackends:\n  a: { url: http://127.0.0.1:1, body_idle_timeout: 7s }\nroutes:\n  - { path: /a, backend: a, body_idle_timeout: 8s }\n",
    );
    let server = &config.server;
    assert_eq!(
        (
            server.idle_timeout,
            server.max_connections,
            server.max_connections_per_worker,
            server.listen_backlog
        ),
        (Duration::from_secs(5), 100, 50, 1024)
    );
    assert_eq!(server.http2.max_header_list_size, 8 * 1024);
    assert_eq!(server.http2.max_concurrent_streams, 10);
    assert_eq!(server.http2.max_local_error_reset_streams, 6);
    assert_eq!(
        server.streams.websocket_pong_timeout,
        Duration::from_secs(5)
    );
    assert_eq!(
        config.backends["a"].body_idle_timeout,
        Duration::from_secs(7)
    );
    assert_eq!(
        config.routes[0].body_idle_timeout,
        Some(Duration::from_secs(8))
    );

    let errors = errors_of(
        "server:\n  max_connections: 0\n  listen_backlog: 70000\n  idle_timeout: 0s\n  http2: { max_header_list_size: 10, max_concurrent_streams: 0 }\n  streams: { sse_heartbeat: soon }\n",
    );
    for expected in [
        "routes.yaml:2:20: server.max_connections: must be between 1 and 10000000",
        "routes.yaml:3:19: server.listen_backlog: must be between 1 and 65535",
        "routes.yaml:4:17: server.idle_timeout: must be greater than zero",
        "server.http2.max_header_list_size: must be between 1KiB and 1MiB",
        "server.http2.max_concurrent_streams: must be between 1 and 4294967295",
        "server.streams.sse_heartbeat:",
    ] {
        assert!(
            errors.contains(expected),
            "missing {expected:?} in:\n{errors}"
        );
    }
}

#[test]
fn tracing_is_off_by_default_and_compiles_every_key() {
    assert_eq!(compiled("").tracing, model::TracingSettings::default());
    assert!(!compiled("").tracing.enabled);
    let config = compiled(
        "tracing:\n  enabled: true\n  service_name: edge\n  resource: { deployment.environment: prod }\n  sampling: { ratio: 0.25 }\n  exporter: { protocol: http, endpoint: \"http://collector:4318\", timeout: 2s, headers: { X-Scope-OrgID: shop } }\n  batch: { max_queue_size: 100, max_export_batch_size: 10, scheduled_delay: 200ms }\n",
    );
    let tracing = config.tracing;
    assert!(tracing.enabled);
    assert_eq!(tracing.service_name, "edge");
    assert_eq!(
        tracing.resource,
        [("deployment.environment".to_owned(), "prod".to_owned())]
    );
    assert!((tracing.sampling_ratio - 0.25).abs() < f64::EPSILON);
    assert_eq!(tracing.exporter.protocol, model::OtlpProtocol::HttpProtobuf);
    assert_eq!(tracing.exporter.endpoint, "http://collector:4318/v1/traces");
    assert_eq!(tracing.exporter.timeout, Duration::from_secs(2));
    assert_eq!(
        tracing.exporter.headers,
        [("x-scope-orgid".to_owned(), "shop".to_owned())]
    );
    assert_eq!(tracing.batch.max_queue_size, 100);
    assert_eq!(tracing.batch.scheduled_delay, Duration::from_millis(200));
}

/// Unset, a finished span waits at most 250 ms for its batch, not the
/// SDK's 5 s (see `DEFAULT_SCHEDULED_DELAY`).
#[test]
fn spans_wait_a_quarter_second_for_their_batch_by_default() {
    let tracing =
        compiled("tracing:\n  enabled: true\n  batch: { max_queue_size: 4096 }\n").tracing;
    assert_eq!(tracing.batch.scheduled_delay, Duration::from_millis(250));
    assert_eq!(tracing.batch.max_export_batch_size, 512);
}

#[test]
fn tracing_errors_are_all_reported_with_positions() {
    insta::assert_snapshot!(errors_of(
        "tracing:\n  service_name: \" \"\n  sampling: { ratio: -0.5 }\n  exporter: { protocol: grpc, endpoint: \"ftp://collector:4317\", timeout: 0s }\n  batch: { max_queue_size: 10, max_export_batch_size: 20 }\n"
    ));
}

#[test]
fn an_https_exporter_endpoint_is_told_by_its_scheme_in_any_case() {
    use super::model::is_https_url;
    assert!(is_https_url("https://collector:4317"));
    assert!(is_https_url("HTTPS://collector:4317"));
    assert!(!is_https_url("http://collector:4317"));
    assert!(!is_https_url("collector:4317"));
}
