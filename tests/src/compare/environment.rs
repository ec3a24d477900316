//! The system under test: every mock backend, the federated GraphQL
//! subgraphs and the gateway, in this process but on runtimes of their own, so that the load generator (on
//! the caller's runtime) does not share worker threads with them, as it
//! would not with separate processes.
//!
//! The gateway serves the repository's own `routes.yaml`, its backend URLs
//! pointed at the mocks' ports, plus the suite's own routes
//! ([`suite_config`]): a feature that lands with its routes in that file
//! (gRPC bridge, composition, GraphQL) becomes measurable without touching
//! the suite.

pub mod suite_config;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use gateway::runtime::{self, RunningGateway, StartOptions};
use mock_backends::{MockBackends, MockOptions, ServiceKind, SubgraphKind, Subgraphs};
use tokio::runtime::Runtime;

use super::CompareError;

/// Worker threads of the gateway (nginx and HAProxy get the same number of
/// worker processes / threads), and of the mocks' runtime.
pub const SERVER_THREADS: usize = 2;

/// The name of the gateway's threads, workers and control plane (for their
/// CPU time).
pub const GATEWAY_THREADS: &str = "compare-gateway";

/// The running mocks and gateway.
pub struct Environment {
    pub mocks: MockBackends,
    /// The federated GraphQL subgraphs, on the mocks' store.
    pub subgraphs: Subgraphs,
    pub gateway: RunningGateway,
    /// The config file the gateway serves.
    pub config_path: PathBuf,
    /// Why the suite's own routes were left out of the config, if they were.
    pub rejected_routes: Option<String>,
    runtimes: Vec<Runtime>,
}

impl Environment {
    /// Starts the mocks (no injected latency), then the gateway on a copy
    /// of routes.yaml written into `dir`.
    pub async fn start(dir: &Path) -> Result<Environment, CompareError> {
        let mocks_runtime = runtime_named("compare-mocks", SERVER_THREADS)?;
        // The gateway's control plane (acceptor, admin); its own worker
        // threads, named alike, serve the requests.
        let gateway_runtime = match runtime_named(GATEWAY_THREADS, 1) {
            Ok(runtime) => runtime,
            Err(error) => {
                mocks_runtime.shutdown_background();
                return Err(error);
            }
        };
        match Self::start_on(dir, &mocks_runtime, &gateway_runtime).await {
            Ok((mocks, subgraphs, gateway, config)) => Ok(Environment {
                mocks,
                subgraphs,
                gateway,
                config_path: config.path,
                rejected_routes: config.rejected_routes,
                runtimes: vec![mocks_runtime, gateway_runtime],
            }),
            Err(error) => {
                // A runtime may not be dropped in async context: let go of
                // both without waiting.
                mocks_runtime.shutdown_background();
                gateway_runtime.shutdown_background();
                Err(error)
            }
        }
    }

    async fn start_on(
        dir: &Path,
        mocks_runtime: &Runtime,
        gateway_runtime: &Runtime,
    ) -> Result<
        (
            MockBackends,
            Subgraphs,
            RunningGateway,
            suite_config::SuiteConfig,
        ),
        CompareError,
    > {
        let mocks = mocks_runtime
            .spawn(mock_backends::start_all(MockOptions::ephemeral()))
            .await
            .map_err(|e| CompareError::Start(format!("mock backends: {e}")))?
            .map_err(|e| CompareError::Start(format!("mock backends: {e}")))?;
        let store = Arc::clone(&mocks.store);
        let any_port = |_| SocketAddr::from(([127, 0, 0, 1], 0));
        let subgraphs = mocks_runtime
            .spawn(Subgraphs::start(store, any_port))
            .await
            .map_err(|e| CompareError::Start(format!("subgraphs: {e}")))?
            .map_err(|e| CompareError::Start(format!("subgraphs: {e}")))?;
        let config = suite_config::write(dir, &mocks, &subgraphs)?;
        let mut options = StartOptions::new(&config.path).ephemeral();
        options.watch = false;
        options.workers = Some(SERVER_THREADS);
        options.thread_name = GATEWAY_THREADS.to_owned();
        let gateway = gateway_runtime
            .spawn(runtime::start(options))
            .await
            .map_err(|e| CompareError::Start(format!("gateway: {e}")))?
            .map_err(|e| CompareError::Start(format!("gateway: {e}")))?;
        Ok((mocks, subgraphs, gateway, config))
    }

    /// `http://gateway-addr`.
    pub fn gateway_base(&self) -> String {
        format!("http://{}", self.gateway.addr)
    }

    /// Turns the seed document's latencies (orders 50 ms, users 30,
    /// products 40, payments 20) on or off on every mock service and on
    /// the GraphQL subgraph of each domain.
    pub fn set_seed_latencies(&self, on: bool) {
        for kind in ServiceKind::ALL {
            let latency = if on {
                kind.seed_latency()
            } else {
                Duration::ZERO
            };
            self.mocks
                .service(kind)
                .control
                .set_latency(latency, Duration::ZERO);
        }
        for kind in SubgraphKind::ALL {
            let latency = if on {
                kind.seed_latency()
            } else {
                Duration::ZERO
            };
            let control = &self.subgraphs.get(kind).control;
            control.set_latency(latency, Duration::ZERO);
        }
    }

    /// Forgets what the mocks and subgraphs recorded (they log every
    /// request).
    pub fn clear_recordings(&self) {
        for kind in ServiceKind::ALL {
            self.mocks.service(kind).control.clear_requests();
        }
        for kind in SubgraphKind::ALL {
            self.subgraphs.get(kind).clear_operations();
        }
    }
}

impl Drop for Environment {
    fn drop(&mut self) {
        for runtime in self.runtimes.drain(..) {
            runtime.shutdown_background();
        }
    }
}

fn runtime_named(name: &str, threads: usize) -> Result<Runtime, CompareError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .thread_name(name)
        .enable_all()
        .build()
        .map_err(|e| CompareError::Start(format!("{name} runtime: {e}")))
}
