//! The load generator's clients: HTTP/1.1 and h2c ([`HttpClient`], also
//! used for GraphQL over `POST`), and gRPC ([`GrpcClient`], tonic). Every
//! client counts the bytes its sockets carry ([`wire`]).

mod grpc;
mod http;
pub mod wire;

pub use self::grpc::GrpcClient;
pub use self::http::{HttpClient, HttpVersion};
pub use wire::WireCounter;
