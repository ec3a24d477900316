//! Shared harness for the end-to-end tests.

pub mod gateway;
pub mod mocks;
