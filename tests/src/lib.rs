//! Shared harness for the end-to-end tests, and the latency comparison
//! suite behind the `compare` binary.

pub mod auth;
pub mod browser;
pub mod compare;
pub mod config_map;
pub mod event_store_suite;
pub mod federation;
pub mod federation_cases;
pub mod gateway;
pub mod graphql_http_audit;
pub mod grpc;
pub mod metrics;
pub mod mocks;
pub mod nats_server;
pub mod openssl;
pub mod otlp;
pub mod raw;
pub mod raw_http;
pub mod redis_server;
pub mod tls;
