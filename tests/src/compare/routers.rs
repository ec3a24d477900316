//! Hive Router as the reference federation router: started as a child
//! process on a free loopback port, on the same supergraph file (and so
//! the same mock subgraphs) as the gateway, with as many HTTP workers as
//! the gateway has worker threads, and stopped when dropped. Installed
//! with `cargo install hive-router@0.2.0 --locked`; the scenario skips it
//! with a reason when it is not on `PATH`.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::CompareError;
use super::needs::find_program;

/// The router's name in the report.
pub const HIVE_ROUTER: &str = "hive-router";

/// The executable `cargo install hive-router` puts on `PATH`.
pub const HIVE_ROUTER_PROGRAM: &str = "hive_router";

/// A running Hive Router; dropping it stops it.
#[derive(Debug)]
pub struct HiveRouter {
    pub addr: SocketAddr,
    child: Child,
}

impl HiveRouter {
    /// Starts it in `dir` (its log goes to `dir/output.log`) serving
    /// `supergraph` with `workers` HTTP workers, and waits until it
    /// accepts connections and has loaded the supergraph.
    pub fn start(
        dir: &Path,
        supergraph: &Path,
        workers: usize,
    ) -> Result<HiveRouter, CompareError> {
        let program = find_program(HIVE_ROUTER_PROGRAM).ok_or_else(|| {
            CompareError::Start(format!("{HIVE_ROUTER_PROGRAM} is not installed"))
        })?;
        let io = |e: std::io::Error| CompareError::Output(dir.display().to_string(), e);
        std::fs::create_dir_all(dir).map_err(io)?;
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(io)?;
        let log = std::fs::File::create(dir.join("output.log")).map_err(io)?;
        // Configured through its environment variables only; run in `dir`,
        // so no `router.config.yaml` of the caller's is picked up.
        let child = Command::new(program)
            .current_dir(dir)
            .env("HOST", addr.ip().to_string())
            .env("PORT", addr.port().to_string())
            .env("ROUTER_HTTP_WORKERS", workers.to_string())
            .env("SUPERGRAPH_FILE_PATH", supergraph)
            .env("LOG_LEVEL", "error")
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io)?)
            .stderr(log)
            .spawn()
            .map_err(|e| CompareError::Start(format!("{HIVE_ROUTER}: {e}")))?;
        let mut router = HiveRouter { addr, child };
        router.wait_until_accepting(dir)?;
        Ok(router)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `http://addr/graphql`.
    pub fn graphql_url(&self) -> String {
        format!("http://{}/graphql", self.addr)
    }

    fn wait_until_accepting(&mut self, dir: &Path) -> Result<(), CompareError> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(self.addr).is_err() {
            let exited = self.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                return Err(CompareError::Start(format!(
                    "{HIVE_ROUTER} did not start (exit: {exited:?}); see {}",
                    dir.join("output.log").display()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl Drop for HiveRouter {
    /// SIGTERM, then SIGKILL if it is still there after a second.
    fn drop(&mut self) {
        super::proxies::stop_child(&mut self.child, Duration::from_secs(1));
    }
}
