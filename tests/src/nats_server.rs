//! A real `nats-server -js` for the NATS event-store tests: started on a
//! free port on 127.0.0.1 with a temporary JetStream store directory,
//! awaited until it greets a client (`INFO`), stopped gracefully
//! ([`NatsServer::stop`], SIGTERM: JetStream flushes) or killed
//! ([`NatsServer::kill`], SIGKILL), and started again on the same port and
//! directory ([`NatsServer::restart`]). Killed on drop. CI installs it from
//! the OS packages (`.ci/run`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// How long a server may take to greet its first client (JetStream
/// recovers its streams before it accepts clients).
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a graceful stop may take before the server is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// Set (by `.ci/run`) where a missing `nats-server` must fail the tests
/// that need it rather than skip them.
pub const REQUIRE_ENV: &str = "GATEWAY_TESTS_REQUIRE_NATS";

/// Where Debian installs it (root's `PATH` has `/usr/sbin`, a user's may not).
const DEBIAN_PATH: &str = "/usr/sbin/nats-server";

pub struct NatsServer {
    child: Option<Child>,
    pub addr: SocketAddr,
    program: PathBuf,
    store_dir: tempfile::TempDir,
}

impl NatsServer {
    /// The `nats-server` program: on `PATH`, else Debian's path.
    pub fn program() -> Option<PathBuf> {
        let runs = |program: &str| {
            Command::new(program)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success())
        };
        ["nats-server", DEBIAN_PATH]
            .into_iter()
            .find(|program| runs(program))
            .map(PathBuf::from)
    }

    /// For a test that needs a real NATS: a started server, or `None`
    /// (the test is skipped, saying so) when `nats-server` is not
    /// installed, so `cargo test` passes on a machine with only the Rust
    /// toolchain. CI installs it and sets [`REQUIRE_ENV`], where a missing
    /// server fails instead.
    pub async fn start_or_skip(test: &str) -> Option<NatsServer> {
        if let Some(program) = Self::program() {
            return Some(Self::start_with(program).await);
        }
        assert!(
            std::env::var_os(REQUIRE_ENV).is_none(),
            "{test}: nats-server is not installed and {REQUIRE_ENV} is set"
        );
        eprintln!("{test}: skipped: nats-server is not installed (CI installs it)");
        None
    }

    async fn start_with(program: PathBuf) -> NatsServer {
        let store_dir = tempfile::tempdir().expect("a temporary JetStream directory");
        // The port is found free, then handed to nats-server; another
        // process could take it in between, so a failed start is retried.
        let mut server = NatsServer {
            child: None,
            addr: free_port(),
            program,
            store_dir,
        };
        for _ in 0..5 {
            if server.spawn_and_wait().await {
                return server;
            }
            server.kill();
            server.addr = free_port();
        }
        panic!("nats-server did not come up on a free port");
    }

    /// `nats://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    /// Stops the server gracefully (SIGTERM), waiting until it exited.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + STOP_TIMEOUT;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Kills the server now (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port with the same store directory
    /// (after [`stop`](Self::stop) or [`kill`](Self::kill)).
    pub async fn restart(&mut self) {
        self.kill();
        // The old socket may linger a moment before the port is free.
        for _ in 0..50 {
            if self.spawn_and_wait().await {
                return;
            }
            self.kill();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("nats-server did not come back on {}", self.addr);
    }

    async fn spawn_and_wait(&mut self) -> bool {
        let child = Command::new(&self.program)
            .args([
                "-js",
                "-a",
                "127.0.0.1",
                "-p",
                &self.addr.port().to_string(),
            ])
            .arg("-sd")
            .arg(self.store_dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts (install the nats-server package)");
        self.child = Some(child);
        self.wait_until_it_greets().await
    }

    async fn wait_until_it_greets(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        while tokio::time::Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(_)) = child.try_wait()
            {
                return false;
            }
            if greets(self.addr).await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Whether a NATS server answers a connection with its `INFO` line.
async fn greets(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return false;
    };
    let mut greeting = [0u8; 5];
    let read = tokio::time::timeout(Duration::from_secs(1), stream.read_exact(&mut greeting)).await;
    matches!(read, Ok(Ok(_))) && &greeting == b"INFO "
}

fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address")
}
