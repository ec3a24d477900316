//! The end-to-end test binary: one module per topic, every test through
//! real sockets on 127.0.0.1 port 0.

// Test-only crate: an `unwrap` that fails is a failed test, which is what
// it should be (clippy.toml allows unwrap in #[test] functions; this also
// covers the helpers they call).
#![allow(clippy::unwrap_used)]

mod access_log;
mod auth_api_keys;
mod auth_jwt;
mod compare_smoke;
mod compose_caching;
mod compose_failures;
mod compose_graphql;
mod compose_kinds;
mod compose_reload;
mod compose_results;
mod compose_support;
mod compose_timing;
mod cors;
mod edge_http2_abuse;
mod edge_slow_clients;
mod edge_stream_liveness;
mod edge_strict_client_ip;
mod edge_strict_errors;
mod edge_strict_framing;
mod edge_strict_host;
mod edge_strict_limits;
mod edge_tls;
mod edge_tls_rotation;
mod edge_tls_upstream;
mod edge_upstream_stall;
mod event_store_embedded;
mod federation_aliased_requires;
mod federation_batch_fetch;
mod federation_interface_object;
mod federation_missing_key;
mod federation_public_schema;
mod graphql_authorization;
mod graphql_dedupe;
mod graphql_defer;
mod graphql_errors;
mod graphql_graphiql;
mod graphql_introspection;
mod graphql_persisted;
mod graphql_protection;
mod graphql_queries;
mod graphql_reload;
mod graphql_subgraph_pools;
mod graphql_subscriptions;
mod graphql_supergraph;
mod grpc_bad_input;
mod grpc_client_stream;
mod grpc_native;
mod grpc_reload;
mod grpc_server_stream;
mod grpc_unary;
mod grpc_websocket;
mod health_checks;
mod load_shedding;
mod metrics_handlers;
mod metrics_http;
mod mock_catalog;
mod mock_debug;
mod mock_health;
mod mock_injection;
mod mock_orders_grpc;
mod mock_orders_rest;
mod mock_subgraph_injection;
mod proxy_balancing;
mod proxy_errors;
mod proxy_headers;
mod proxy_routing;
mod proxy_streaming;
mod proxy_workers;
mod rate_limits;
mod rate_limits_redis;
mod readme_ids;
mod reload;
mod resilience;
mod shutdown;
mod shutdown_streams;
mod upstream_headers;
