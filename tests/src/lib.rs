//! Shared harness for the end-to-end tests, and the latency comparison
//! suite behind the `compare` binary.

<<<<<<< HEAD
pub mod compare;
=======
pub mod federation;
>>>>>>> main
pub mod gateway;
pub mod grpc;
pub mod mocks;
