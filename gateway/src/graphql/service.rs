//! The GraphQL endpoint's long-lived state: its settings, where its
//! supergraph comes from, and the supergraph it serves now. Loading and
//! reloading happen here, off the request path: a supergraph file is
//! watched and reloaded when it changes; a subgraph list is composed at
//! start and again on every gateway reload (SIGHUP, admin `POST /reload`,
//! a changed routes.yaml). A failed load or composition is logged and the
//! previous supergraph keeps serving. A new supergraph gets fresh caches,
//! warmed with the old one's hottest operations before it is swapped in.
//! The service owns the planning pool.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use arc_swap::ArcSwapOption;
use tokio::sync::watch;

use super::handler::GraphqlSettings;
use super::operation_cache::OperationCaches;
use super::persisted::PersistedQueries;
use super::planning::PlanningPool;
use super::source::{self, LoadError};
use super::subgraph_pools::SubgraphPools;
use super::supergraph::Supergraph;
use crate::config::model::{GraphqlConfig, SupergraphSource};

/// The endpoint's settings plus the supergraph it currently serves.
pub struct GraphqlService {
    pub settings: GraphqlSettings,
    /// Where operations are parsed, validated, normalized and planned.
    pub planning: PlanningPool,
    /// Registered APQ texts (kept across supergraph reloads).
    pub persisted: PersistedQueries,
    pub source: SupergraphSource,
    /// The subgraphs' pools (`graphql.traffic_shaping`).
    pub pools: Arc<SubgraphPools>,
    supergraph: ArcSwapOption<Supergraph>,
    /// Bumped on every successful load; tests and readiness wait on it.
    generation: watch::Sender<u64>,
    last_error: Mutex<Option<String>>,
    /// How many times the source was loaded again (file or subgraphs).
    loads: AtomicU64,
    _file_watch: Mutex<Option<crate::dir_watch::DirWatch>>,
}

impl std::fmt::Debug for GraphqlService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphqlService")
            .field("settings", &self.settings)
            .field("source", &self.source)
            .field("generation", &*self.generation.borrow())
            .finish_non_exhaustive()
    }
}

impl GraphqlService {
    /// A service with no supergraph yet (requests get 503 until one loads).
    pub fn new(
        settings: GraphqlSettings,
        source: SupergraphSource,
        pools: Arc<SubgraphPools>,
        supergraph: Option<Arc<Supergraph>>,
    ) -> Self {
        GraphqlService {
            pools,
            planning: PlanningPool::new(settings.planning),
            persisted: PersistedQueries::new(settings.persisted.clone()),
            settings,
            source,
            generation: watch::channel(u64::from(supergraph.is_some())).0,
            supergraph: ArcSwapOption::new(supergraph),
            last_error: Mutex::new(None),
            loads: AtomicU64::new(0),
            _file_watch: Mutex::new(None),
        }
    }

    /// The service for a new config snapshot. An unchanged `graphql:`
    /// section keeps the previous service (its supergraph, plan cache and
    /// watch); otherwise a new one starts from the previous supergraph
    /// (rebuilt over the new pools when `traffic_shaping` changed) and
    /// loads its source in the background. Pools whose subgraph URL and
    /// settings are unchanged are carried over.
    pub fn for_config(
        config: &GraphqlConfig,
        previous: Option<&Arc<GraphqlService>>,
    ) -> Arc<GraphqlService> {
        if let Some(previous) = previous.filter(|p| {
            p.settings == config.settings
                && p.source == config.source
                && p.pools.traffic() == &config.traffic
        }) {
            return Arc::clone(previous);
        }
        let pools = Arc::new(SubgraphPools::new(
            config.traffic.clone(),
            previous.map(|p| p.pools.as_ref()),
        ));
        let initial = match &config.source {
            SupergraphSource::File(path) => match source::load_file(path, &pools) {
                Ok(mut supergraph) => {
                    supergraph.caches = OperationCaches::new(&config.settings.cache);
                    Some(Arc::new(supergraph))
                }
                Err(error) => {
                    tracing::error!(%error, "supergraph not loaded; the previous one keeps serving");
                    previous.and_then(|p| p.current())
                }
            },
            SupergraphSource::Subgraphs(_) => previous.and_then(|p| {
                let current = p.current()?;
                if p.pools.traffic() == &config.traffic {
                    return Some(current);
                }
                let mut rebuilt = Supergraph::from_sdl(&current.sdl, &pools)
                    .map_err(|error| tracing::error!(%error, "supergraph not rebuilt"))
                    .ok()?;
                rebuilt.caches = OperationCaches::new(&config.settings.cache);
                Some(Arc::new(rebuilt))
            }),
        };
        let service = Arc::new(GraphqlService::new(
            config.settings.clone(),
            config.source.clone(),
            pools,
            initial,
        ));
        service.start_background_work();
        service
    }

    fn start_background_work(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        match &self.source {
            SupergraphSource::File(path) => {
                let watcher = source::watch_file(path, Arc::downgrade(self), runtime);
                *self
                    ._file_watch
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = watcher;
            }
            SupergraphSource::Subgraphs(_) => {
                let service = Arc::clone(self);
                runtime.spawn(async move {
                    let _ = service.reload_supergraph().await;
                });
            }
        }
    }

    /// The supergraph requests start on now.
    pub fn current(&self) -> Option<Arc<Supergraph>> {
        self.supergraph.load_full()
    }

    /// Swaps in a new supergraph; requests in flight keep the old one.
    pub fn replace(&self, supergraph: Arc<Supergraph>) {
        self.supergraph.store(Some(supergraph));
        self.generation.send_modify(|g| *g += 1);
    }

    /// How many supergraphs were loaded so far.
    pub fn generation(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// How many times the source was loaded again since start.
    pub fn reloads_attempted(&self) -> u64 {
        self.loads.load(Ordering::Relaxed)
    }

    /// The error of the last failed load, if the last attempt failed.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Prepares the current supergraph's hottest operations against
    /// `next` before it serves, so they do not all miss at once.
    async fn warm_up(&self, next: &Arc<Supergraph>) -> usize {
        let Some(previous) = self.current() else {
            return 0;
        };
        let settings = &self.settings;
        super::prepare::warm_up(
            &self.planning,
            &previous,
            next,
            settings.limits,
            settings.cache.warm_up,
        )
        .await
    }

    /// Loads the source again (re-reads the file or recomposes the
    /// subgraphs). Returns whether the supergraph changed; on error the
    /// current one keeps serving.
    pub async fn reload_supergraph(&self) -> Result<bool, LoadError> {
        self.loads.fetch_add(1, Ordering::Relaxed);
        let result = source::load(&self.source, &self.pools).await;
        let outcome = match result {
            Ok(next)
                if self
                    .current()
                    .is_some_and(|current| current.sdl == next.sdl) =>
            {
                Ok(false)
            }
            Ok(mut next) => {
                next.caches = OperationCaches::new(&self.settings.cache);
                let next = Arc::new(next);
                let warmed = self.warm_up(&next).await;
                self.replace(next);
                tracing::info!(warmed, "supergraph loaded");
                Ok(true)
            }
            Err(error) => {
                tracing::error!(%error, "supergraph reload failed; the previous one keeps serving");
                Err(error)
            }
        };
        *self
            .last_error
            .lock()
            .unwrap_or_else(PoisonError::into_inner) =
            outcome.as_ref().err().map(ToString::to_string);
        outcome
    }
}
