//! `FederatedGateway`: the gateway serving `/graphql` over the four mock
//! subgraphs, which share the store of the REST and gRPC mocks — all
//! in-process on 127.0.0.1 port 0.
//!
//! A test's routes.yaml may use `$SUPERGRAPH` (a supergraph file composed
//! from the live subgraphs, written next to the config) and
//! `$ORDERS_GRAPHQL`, `$USERS_GRAPHQL`, `$PRODUCTS_GRAPHQL`,
//! `$PAYMENTS_GRAPHQL` (the subgraphs' URLs), `$ORDERS_SUBGRAPH` and so on
//! (their origins, `http://addr`, for use as a backend), plus the
//! placeholders of [`TestGateway`].

use std::net::SocketAddr;
use std::sync::Arc;

use gateway::config::model::SubgraphEndpoint;
use gateway::graphql::source::fetch_sdl;
use gateway::graphql::subgraph_pools::SubgraphPools;
use gateway::graphql::supergraph_compose::{SubgraphSdl, compose_supergraph};
use mock_backends::{MockOptions, SubgraphKind, Subgraphs};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::handshake::client::Response as WsResponse;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::gateway::TestGateway;

/// The GraphQL-over-HTTP media type.
pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// The simplest config: the endpoint on a composed supergraph file.
pub const SUPERGRAPH_FILE_CONFIG: &str = "graphql:\n  supergraph: $SUPERGRAPH\n";

pub struct FederatedGateway {
    pub gw: TestGateway,
    pub subgraphs: Subgraphs,
    /// Holds the supergraph file; removed when the gateway is dropped.
    _dir: tempfile::TempDir,
}

impl FederatedGateway {
    /// Starts mocks, subgraphs and a gateway on `yaml`.
    pub async fn start(yaml: &str) -> FederatedGateway {
        let mocks = mock_backends::start_all(MockOptions::ephemeral())
            .await
            .expect("mock backends start");
        let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
        let subgraphs = Subgraphs::start(Arc::clone(&mocks.store), |_| any_port)
            .await
            .expect("subgraphs start");
        let endpoints = endpoints(&subgraphs);
        let supergraph = composed_supergraph(&endpoints).await;
        let dir = tempfile::tempdir().expect("temp dir");
        let supergraph_path = dir.path().join("supergraph.graphql");
        std::fs::write(&supergraph_path, supergraph).expect("write supergraph");
        let mut yaml = yaml.replace("$SUPERGRAPH", &supergraph_path.display().to_string());
        for endpoint in &endpoints {
            let name = endpoint.name.to_uppercase();
            yaml = yaml.replace(&format!("${name}_GRAPHQL"), &endpoint.url);
            let origin = endpoint.url.trim_end_matches("/graphql");
            yaml = yaml.replace(&format!("${name}_SUBGRAPH"), origin);
        }
        let gw = TestGateway::start_with(mocks, &yaml).await;
        // Tests count subgraph calls; composition's SDL fetches are not theirs.
        SubgraphKind::ALL
            .iter()
            .for_each(|kind| subgraphs.get(*kind).clear_operations());
        FederatedGateway {
            gw,
            subgraphs,
            _dir: dir,
        }
    }

    /// POSTs `query` with `variables` (no `Accept`: the answer is
    /// `application/json`); returns status and JSON body.
    pub async fn post(&self, query: &str, variables: Value) -> (u16, Value) {
        self.post_with(None, query, variables).await
    }

    /// Like [`post`](Self::post), asking for
    /// `application/graphql-response+json`, whose document and variable
    /// errors are 400 (with `application/json` they are 200).
    pub async fn post_strict(&self, query: &str, variables: Value) -> (u16, Value) {
        self.post_with(Some(GRAPHQL_RESPONSE_JSON), query, variables)
            .await
    }

    async fn post_with(&self, accept: Option<&str>, query: &str, variables: Value) -> (u16, Value) {
        let mut request = self
            .gw
            .client
            .post(self.gw.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(accept) = accept {
            request = request.header("accept", accept);
        }
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// POSTs `query` and returns its `data`, failing on any error.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self.post(query, variables).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// POSTs a subscription asking for `text/event-stream`; checks it was
    /// accepted with 200 and returns the streaming response.
    pub async fn subscribe_sse(&self, query: &str, variables: Value) -> reqwest::Response {
        let response = self
            .gw
            .client
            .post(self.gw.url("/graphql"))
            .header("accept", "text/event-stream")
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("subscription request sent");
        assert_eq!(response.status(), 200, "subscription accepted");
        response
    }

    /// Opens a WebSocket on `/graphql` offering `graphql-transport-ws`;
    /// returns the socket and the handshake response.
    pub async fn connect_graphql_ws(&self) -> (GraphqlSocket, WsResponse) {
        let mut request = self
            .gw
            .url("/graphql")
            .replacen("http", "ws", 1)
            .into_client_request()
            .expect("a valid WebSocket URL");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        tokio_tungstenite::connect_async(request)
            .await
            .expect("WebSocket handshake")
    }
}

/// A client WebSocket to the gateway.
pub type GraphqlSocket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Every subgraph's name and URL.
pub fn endpoints(subgraphs: &Subgraphs) -> Vec<SubgraphEndpoint> {
    SubgraphKind::ALL
        .iter()
        .map(|kind| SubgraphEndpoint {
            name: kind.name().to_owned(),
            url: subgraphs.get(*kind).url(),
        })
        .collect()
}

/// Fetches each live subgraph's SDL and composes them; `url_of` picks the
/// URL written into the supergraph.
pub async fn compose_live(
    endpoints: &[SubgraphEndpoint],
    url_of: impl Fn(&SubgraphEndpoint) -> String,
) -> String {
    let mut sdls = Vec::new();
    for endpoint in endpoints {
        let pools = SubgraphPools::default();
        let sdl = fetch_sdl(endpoint, &pools).await.expect("subgraph SDL");
        sdls.push(SubgraphSdl {
            name: endpoint.name.clone(),
            url: url_of(endpoint),
            sdl,
        });
    }
    compose_supergraph(&sdls).expect("subgraphs compose")
}

async fn composed_supergraph(endpoints: &[SubgraphEndpoint]) -> String {
    compose_live(endpoints, |e| e.url.clone()).await
}

/// The `extensions.code` of the first error.
pub fn first_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("")
}
