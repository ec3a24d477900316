//! Where a supergraph comes from: a file of supergraph SDL, or subgraphs
//! whose `_service { sdl }` is fetched and composed; and the watch that
//! reloads a file when it changes.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{Method, Request};
use http_body_util::BodyExt;
use serde_json::Value;

use super::service::GraphqlService;
use super::subgraph_pools::SubgraphPools;
use super::supergraph::{Supergraph, SupergraphError, subgraph_client};
use super::supergraph_compose::{SubgraphSdl, SupergraphComposeError, compose_supergraph};
use crate::body;
use crate::config::model::{SubgraphEndpoint, SupergraphSource};
use crate::dir_watch::{Change, DirWatch};

/// Why a supergraph could not be loaded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read supergraph file {path}: {message}")]
    Read { path: PathBuf, message: String },
    #[error("cannot fetch the SDL of subgraph {name:?} from {url}: {message}")]
    Fetch {
        name: String,
        url: String,
        message: String,
    },
    #[error("composition failed: {0}")]
    Composition(#[from] SupergraphComposeError),
    #[error(transparent)]
    Supergraph(#[from] SupergraphError),
}

/// Loads `source`, its subgraph clients over `pools`.
pub async fn load(
    source: &SupergraphSource,
    pools: &Arc<SubgraphPools>,
) -> Result<Supergraph, LoadError> {
    match source {
        SupergraphSource::File(path) => {
            let (path, pools) = (path.clone(), Arc::clone(pools));
            tokio::task::spawn_blocking(move || load_file(&path, &pools))
                .await
                .map_err(|e| LoadError::Read {
                    path: PathBuf::new(),
                    message: e.to_string(),
                })?
        }
        SupergraphSource::Subgraphs(list) => {
            let sdl = compose_subgraphs(list, pools).await?;
            Ok(Supergraph::from_sdl(&sdl, pools)?)
        }
    }
}

/// Reads and builds a supergraph file.
pub fn load_file(path: &Path, pools: &SubgraphPools) -> Result<Supergraph, LoadError> {
    let sdl = std::fs::read_to_string(path).map_err(|e| LoadError::Read {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    Ok(Supergraph::from_sdl(&sdl, pools)?)
}

/// Fetches every subgraph's SDL (concurrently) and composes them.
pub async fn compose_subgraphs(
    list: &[SubgraphEndpoint],
    pools: &SubgraphPools,
) -> Result<String, LoadError> {
    let fetches = list.iter().map(|endpoint| async move {
        let sdl = fetch_sdl(endpoint, pools).await?;
        Ok::<_, LoadError>(SubgraphSdl {
            name: endpoint.name.clone(),
            url: endpoint.url.clone(),
            sdl,
        })
    });
    let subgraphs = futures::future::try_join_all(fetches).await?;
    Ok(compose_supergraph(&subgraphs)?)
}

/// `{ _service { sdl } }` of one subgraph, through its pool.
pub async fn fetch_sdl(
    endpoint: &SubgraphEndpoint,
    pools: &SubgraphPools,
) -> Result<String, LoadError> {
    let error = |message: String| LoadError::Fetch {
        name: endpoint.name.clone(),
        url: endpoint.url.clone(),
        message,
    };
    let client = subgraph_client(&endpoint.name, &endpoint.url, pools)?;
    let request = Request::builder()
        .method(Method::POST)
        .uri(client.path.clone())
        .header(CONTENT_TYPE, "application/json")
        .body(body::full(Bytes::from_static(
            br#"{"query":"{ _service { sdl } }"}"#,
        )))
        .map_err(|e| error(e.to_string()))?;
    let response = client
        .pool
        .send(request, client.timeout)
        .await
        .map_err(|e| error(e.to_string()))?;
    if !response.status().is_success() {
        return Err(error(format!("HTTP {}", response.status().as_u16())));
    }
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| error(e.to_string()))?
        .to_bytes();
    let json: Value =
        serde_json::from_slice(&bytes).map_err(|e| error(format!("not JSON: {e}")))?;
    json.pointer("/data/_service/sdl")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| error("the response has no data._service.sdl".to_owned()))
}

/// Watches the directory of `path` (editors replace files rather than
/// write them) and reloads the service when the file changes.
pub(crate) fn watch_file(
    path: &Path,
    service: Weak<GraphqlService>,
    runtime: tokio::runtime::Handle,
) -> Option<DirWatch> {
    let file_name = path.file_name()?.to_owned();
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    let reload_runtime = runtime.clone();
    let on_change = move |change: Change<'_>| {
        // Reading the file is no change (the watch does not report it), so
        // the reload's own read does not fire the watch again.
        let relevant = change.may_change(|changed| changed.file_name() == Some(&*file_name));
        if relevant && let Some(service) = service.upgrade() {
            reload_runtime.spawn(async move {
                let _ = service.reload_supergraph().await;
            });
        }
    };
    let _entered = runtime.enter();
    let watcher = DirWatch::start(on_change)
        .and_then(|watcher| watcher.watch(&dir).map(|()| watcher))
        .map_err(|error| tracing::warn!(%error, "cannot watch the supergraph file"))
        .ok()?;
    Some(watcher)
}
