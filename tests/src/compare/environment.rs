//! The system under test: every mock backend and the gateway, in this
//! process but on runtimes of their own, so that the load generator (on
//! the caller's runtime) does not share worker threads with them, as it
//! would not with separate processes.
//!
//! The gateway serves the repository's own `routes.yaml`, its backend URLs
//! pointed at the mocks' ports: a feature that lands with its routes in
//! that file (gRPC bridge, composition, GraphQL) becomes measurable without
//! touching the suite.

use std::path::{Path, PathBuf};
use std::time::Duration;

use gateway::runtime::{self, RunningGateway, StartOptions};
use mock_backends::{MockBackends, MockOptions, ServiceKind};
use tokio::runtime::Runtime;

use super::CompareError;

/// Worker threads of the gateway's runtime (nginx and HAProxy get the same
/// number of worker processes / threads), and of the mocks' runtime.
pub const SERVER_THREADS: usize = 2;

/// The running mocks and gateway.
pub struct Environment {
    pub mocks: MockBackends,
    pub gateway: RunningGateway,
    pub config_path: PathBuf,
    runtimes: Vec<Runtime>,
}

impl Environment {
    /// Starts the mocks (no injected latency), then the gateway on a copy
    /// of routes.yaml written into `dir`.
    pub async fn start(dir: &Path) -> Result<Environment, CompareError> {
        let mocks_runtime = server_runtime("mocks")?;
        let gateway_runtime = server_runtime("gateway")?;
        let mocks = mocks_runtime
            .spawn(mock_backends::start_all(MockOptions::ephemeral()))
            .await
            .map_err(|e| CompareError::Start(format!("mock backends: {e}")))?
            .map_err(|e| CompareError::Start(format!("mock backends: {e}")))?;
        let config_path = write_config(dir, &mocks)?;
        let mut options = StartOptions::new(&config_path).ephemeral();
        options.watch = false;
        let gateway = gateway_runtime
            .spawn(runtime::start(options))
            .await
            .map_err(|e| CompareError::Start(format!("gateway: {e}")))?
            .map_err(|e| CompareError::Start(format!("gateway: {e}")))?;
        Ok(Environment {
            mocks,
            gateway,
            config_path,
            runtimes: vec![mocks_runtime, gateway_runtime],
        })
    }

    /// `http://gateway-addr`.
    pub fn gateway_base(&self) -> String {
        format!("http://{}", self.gateway.addr)
    }

    /// Turns the seed document's latencies (orders 50 ms, users 30,
    /// products 40, payments 20) on or off on every mock service.
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
    }

    /// Forgets what the mocks recorded (they log every request).
    pub fn clear_recordings(&self) {
        for kind in ServiceKind::ALL {
            self.mocks.service(kind).control.clear_requests();
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

fn server_runtime(name: &str) -> Result<Runtime, CompareError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(SERVER_THREADS)
        .thread_name(format!("compare-{name}"))
        .enable_all()
        .build()
        .map_err(|e| CompareError::Start(format!("{name} runtime: {e}")))
}

/// Copies routes.yaml into `dir` with every default mock URL replaced by
/// the running mock's, and links the repository's `proto/` beside it
/// (the gRPC bridge resolves its .proto paths from the config's folder).
fn write_config(dir: &Path, mocks: &MockBackends) -> Result<PathBuf, CompareError> {
    let repo = crate::gateway::repo_path("");
    let source = std::fs::read_to_string(repo.join("routes.yaml"))
        .map_err(|e| CompareError::Start(format!("read routes.yaml: {e}")))?;
    let yaml = ServiceKind::ALL.iter().fold(source, |text, kind| {
        text.replace(
            &format!("http://{}", kind.default_addr()),
            &format!("http://{}", mocks.service(*kind).addr),
        )
    });
    let write = |e: std::io::Error| CompareError::Output(dir.display().to_string(), e);
    std::fs::create_dir_all(dir).map_err(write)?;
    let proto_link = dir.join("proto");
    if !proto_link.exists() {
        std::os::unix::fs::symlink(repo.join("proto"), &proto_link).map_err(write)?;
    }
    let path = dir.join("routes.yaml");
    std::fs::write(&path, yaml).map_err(write)?;
    Ok(path)
}
