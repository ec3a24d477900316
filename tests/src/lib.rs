//! Shared harness for the end-to-end tests.

pub mod mocks;
