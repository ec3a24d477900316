//! Small federations written for one test: async-graphql subgraphs
//! served in-process on 127.0.0.1 port 0 that record every request they
//! receive, and a gateway on a hand-written supergraph naming them.
//!
//! A test writes only its `join__Graph` values and its types; the
//! supergraph's fixed preamble (the `@link`s and the join directives) is
//! [`SUPERGRAPH_SCHEMA`] and [`SUPERGRAPH_DEFINITIONS`]. In the graph values, `$NAME` stands for the URL
//! of the subgraph registered under `NAME`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::{ObjectType, Schema, SubscriptionType};
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use gateway::graphql::supergraph_compose::SUPERGRAPH_DEFINITIONS;

use crate::gateway::TestGateway;

/// The schema block every test supergraph starts with; the definitions
/// after it are the composer's own ([`SUPERGRAPH_DEFINITIONS`]).
pub const SUPERGRAPH_SCHEMA: &str = r#"
schema
  @link(url: "https://specs.apollo.dev/link/v1.0")
  @link(url: "https://specs.apollo.dev/join/v0.3", for: EXECUTION)
  @link(url: "https://specs.apollo.dev/inaccessible/v0.2", for: SECURITY)
{
  query: Query
}

"#;

/// One subgraph of a test federation. Dropping it stops the server.
pub struct RecordingSubgraph {
    pub url: String,
    requests: Arc<Mutex<Vec<Value>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RecordingSubgraph {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl RecordingSubgraph {
    /// Serves `schema` on `POST /graphql`.
    pub async fn start<Q, M, S>(schema: Schema<Q, M, S>) -> RecordingSubgraph
    where
        Q: ObjectType + 'static,
        M: ObjectType + 'static,
        S: SubscriptionType + 'static,
    {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind a test subgraph");
        let url = format!(
            "http://{}/graphql",
            listener
                .local_addr()
                .expect("a bound listener has an address")
        );
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = Arc::clone(&requests);
        let app = Router::new().route(
            "/graphql",
            post(
                move |State(schema): State<Schema<Q, M, S>>, Json(body): Json<Value>| {
                    let recorded = Arc::clone(&recorded);
                    async move {
                        lock(&recorded).push(body.clone());
                        let response = match serde_json::from_value::<async_graphql::Request>(body)
                        {
                            Ok(request) => schema.execute(request).await,
                            Err(error) => async_graphql::Response::from_errors(vec![
                                async_graphql::ServerError::new(error.to_string(), None),
                            ]),
                        };
                        Json(serde_json::to_value(response).unwrap_or(Value::Null))
                    }
                },
            )
            .with_state(schema),
        );
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        RecordingSubgraph {
            url,
            requests,
            server,
        }
    }

    /// Every request body received (`query` and `variables`), oldest first.
    pub fn requests(&self) -> Vec<Value> {
        lock(&self.requests)
            .iter()
            .map(|body| json!({ "query": body["query"], "variables": body["variables"] }))
            .collect()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A gateway serving `/graphql` on a supergraph written for the test.
pub struct CaseGateway {
    pub gw: TestGateway,
    _dir: tempfile::TempDir,
}

impl CaseGateway {
    /// `types` is the supergraph after the preamble; `$NAME` in it is
    /// replaced by the URL of `subgraphs`' entry `NAME`.
    pub async fn start(types: &str, subgraphs: &[(&str, &RecordingSubgraph)]) -> CaseGateway {
        let mut supergraph = format!("{SUPERGRAPH_SCHEMA}{SUPERGRAPH_DEFINITIONS}{types}");
        for (name, subgraph) in subgraphs {
            supergraph = supergraph.replace(&format!("${name}"), &subgraph.url);
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("supergraph.graphql");
        std::fs::write(&path, supergraph).expect("write supergraph");
        let yaml = format!(
            "graphql:\n  supergraph: {}\n  expose_subgraph_errors: true\n",
            path.display()
        );
        let gw = TestGateway::start(&yaml).await;
        CaseGateway { gw, _dir: dir }
    }

    /// POSTs `query`; returns the JSON body (the status must be 200).
    pub async fn query(&self, query: &str) -> Value {
        let response = self
            .gw
            .client
            .post(self.gw.url("/graphql"))
            .json(&json!({ "query": query }))
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status().as_u16(), 200);
        response.json().await.expect("a JSON body")
    }
}
