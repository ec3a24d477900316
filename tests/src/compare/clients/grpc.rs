//! The gRPC client of the load generator: tonic's generated
//! `OrderServiceClient` on a channel whose connection is counted.

use http::Uri;
use mock_backends::proto::order_service_client::OrderServiceClient;
use tonic::transport::{Channel, Endpoint};

use super::wire::{CountingConnector, WireCounter};

/// A connected, byte-counting orders gRPC client.
#[derive(Clone, Debug)]
pub struct GrpcClient {
    pub orders: OrderServiceClient<Channel>,
    counter: WireCounter,
}

impl GrpcClient {
    /// Connects to `base` (`http://host:port`) over HTTP/2.
    pub async fn connect(base: Uri) -> Result<GrpcClient, tonic::transport::Error> {
        let connector = CountingConnector::default();
        let counter = connector.counter.clone();
        let channel = Endpoint::from(base)
            .tcp_nodelay(true)
            .connect_with_connector(connector)
            .await?;
        Ok(GrpcClient {
            orders: OrderServiceClient::new(channel),
            counter,
        })
    }

    /// The bytes this client's connection carried so far.
    pub fn wire(&self) -> &WireCounter {
        &self.counter
    }
}
