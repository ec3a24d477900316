//! Shared harness for the end-to-end tests.

pub mod federation;
pub mod gateway;
pub mod grpc;
pub mod mocks;
