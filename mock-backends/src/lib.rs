//! The seed's microservices, built to test and benchmark the gateway against.
