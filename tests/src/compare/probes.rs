//! The probes: what one logical request is, for each kind of client.
//! Each probe rotates through its inputs by the request's sequence number,
//! so every target sees the same requests in the same order.

mod chatty;
mod jetstream;

pub use chatty::{ChattyClient, Fanout};
pub use jetstream::{RAW_STREAM, RawJetStreamPublish, measure_raw_jetstream_publish};

use std::sync::Arc;

use bytes::Bytes;
use http::Uri;
use mock_backends::proto::GetOrderRequest;

use hyper_util::client::legacy::connect::Connect;

use crate::compare::clients::wire::CountingConnector;
use crate::compare::clients::{GrpcClient, HttpClient, WireCounter};
use crate::compare::loadgen::{CallError, Probe};

/// `GET` one of `uris`, over plain TCP or (with a TLS connector `C`) TLS.
#[derive(Debug)]
pub struct HttpGet<C = CountingConnector> {
    pub client: HttpClient<C>,
    pub uris: Vec<Uri>,
}

impl<C: Connect + Clone + Send + Sync + 'static> Probe for HttpGet<C> {
    async fn call(&self, seq: u64) -> Result<(), CallError> {
        self.client.get(pick(&self.uris, seq)).await.map(drop)
    }
}

/// `GET` one of `uris` on a connection of its own, closed after the
/// answer (`Connection: close`): with a TLS client whose pool keeps no
/// connection, every request pays a TLS handshake.
#[derive(Debug)]
pub struct HttpGetNewConnection<C> {
    pub client: HttpClient<C>,
    pub uris: Vec<Uri>,
}

impl<C: Connect + Clone + Send + Sync + 'static> Probe for HttpGetNewConnection<C> {
    async fn call(&self, seq: u64) -> Result<(), CallError> {
        self.client
            .get_and_close(pick(&self.uris, seq))
            .await
            .map(drop)
    }
}

/// `orders.OrderService/GetOrder` for one of `order_ids`.
#[derive(Debug)]
pub struct GrpcGetOrder {
    pub client: GrpcClient,
    pub order_ids: Vec<String>,
}

impl Probe for GrpcGetOrder {
    async fn call(&self, seq: u64) -> Result<(), CallError> {
        let request = GetOrderRequest {
            order_id: pick(&self.order_ids, seq).clone(),
        };
        let mut client = self.client.orders.clone();
        match client.get_order(request).await {
            Ok(_) => Ok(()),
            Err(status) => Err(CallError::new(format!("grpc {:?}", status.code()))),
        }
    }
}

/// `POST` one of `bodies` (GraphQL requests) to `uri`; a response with a
/// non-empty `errors` list is a failure.
#[derive(Debug)]
pub struct GraphqlPost {
    pub client: HttpClient,
    pub uri: Uri,
    pub bodies: Vec<Bytes>,
}

impl Probe for GraphqlPost {
    async fn call(&self, seq: u64) -> Result<(), CallError> {
        let body = pick(&self.bodies, seq).clone();
        let response = self.client.post_json(&self.uri, body).await?;
        let json: serde_json::Value = serde_json::from_slice(&response)
            .map_err(|e| CallError::new(format!("graphql: response is not JSON: {e}")))?;
        match json["errors"].as_array() {
            Some(errors) if !errors.is_empty() => {
                let code = errors[0]["extensions"]["code"]
                    .as_str()
                    .unwrap_or("no code");
                Err(CallError::new(format!("graphql error {code}")))
            }
            _ if json["data"].is_null() => Err(CallError::new("graphql: no data")),
            _ => Ok(()),
        }
    }
}

/// The item for request `seq`, round robin.
pub fn pick<T>(items: &[T], seq: u64) -> &T {
    &items[(seq % items.len() as u64) as usize]
}

/// A probe with the byte counter of the client it uses.
pub struct Counted<P> {
    pub probe: Arc<P>,
    pub wire: WireCounter,
}

impl<P> Counted<P> {
    pub fn new(probe: P, wire: &WireCounter) -> Counted<P> {
        Counted {
            probe: Arc::new(probe),
            wire: wire.clone(),
        }
    }
}
