//! The load generator's clients: HTTP/1.1 and h2c ([`HttpClient`], also
//! used for GraphQL over `POST`), HTTP/1.1 over TLS ([`tls`]), and gRPC ([`GrpcClient`], tonic). Every
//! client counts the bytes its sockets carry ([`wire`]).

mod grpc;
mod http;
pub mod tls;
pub mod wire;

pub use self::grpc::GrpcClient;
pub use self::http::{HttpClient, HttpVersion};
pub use wire::WireCounter;
