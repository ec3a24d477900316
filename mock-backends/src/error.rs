//! Errors of starting and controlling the mock services.

use std::net::SocketAddr;

/// Why a mock service could not start or come back up.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    #[error("cannot listen on {addr} for the {service} service: {source}")]
    Bind {
        service: &'static str,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the {service} service was shut down and cannot come back up")]
    ShutDown { service: &'static str },
}
