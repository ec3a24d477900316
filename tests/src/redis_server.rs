//! A real `redis-server` for the rate-limit tests: started on a free port
//! on 127.0.0.1 with no persistence (`--save '' --appendonly no`), awaited
//! until it answers `PING`, killed on drop (or mid-test by [`RedisServer::kill`]).
//! CI installs it from the OS packages (`.ci/run`).

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a server may take to answer its first `PING`.
const START_TIMEOUT: Duration = Duration::from_secs(10);

pub struct RedisServer {
    child: Option<Child>,
    pub addr: SocketAddr,
}

/// Set (by `.ci/run`) where a missing `redis-server` must fail the tests
/// that need it rather than skip them.
pub const REQUIRE_ENV: &str = "GATEWAY_TESTS_REQUIRE_REDIS";

impl RedisServer {
    /// Whether a `redis-server` program is on `PATH`.
    pub fn installed() -> bool {
        Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// For a test that needs a real Redis: a started server, or `None`
    /// (the test is skipped, saying so) when `redis-server` is not
    /// installed, so `cargo test` passes on a machine with only the Rust
    /// toolchain. CI installs it and sets [`REQUIRE_ENV`], where a missing
    /// server fails instead.
    pub async fn start_or_skip(test: &str) -> Option<RedisServer> {
        if Self::installed() {
            return Some(Self::start().await);
        }
        assert!(
            std::env::var_os(REQUIRE_ENV).is_none(),
            "{test}: redis-server is not installed and {REQUIRE_ENV} is set"
        );
        eprintln!("{test}: skipped: redis-server is not installed (CI installs it)");
        None
    }

    /// Starts a server and waits until it answers.
    pub async fn start() -> RedisServer {
        // The port is found free, then handed to redis-server; another
        // process could take it in between, so a failed start is retried.
        for _ in 0..5 {
            let addr = free_port();
            let child = Command::new("redis-server")
                .args(["--port", &addr.port().to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .args(["--protected-mode", "no", "--loglevel", "warning"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server starts (install the redis-server package)");
            let mut server = RedisServer {
                child: Some(child),
                addr,
            };
            if server.wait_until_it_answers().await {
                return server;
            }
            server.kill();
        }
        panic!("redis-server did not come up on a free port");
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    /// Kills the server now (SIGKILL) and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    async fn wait_until_it_answers(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + START_TIMEOUT;
        while tokio::time::Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(_)) = child.try_wait()
            {
                return false;
            }
            if ping(self.addr).await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn ping(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return false;
    };
    if stream.write_all(b"PING\r\n").await.is_err() {
        return false;
    }
    let mut reply = [0u8; 7];
    stream.read_exact(&mut reply).await.is_ok() && &reply == b"+PONG\r\n"
}

fn free_port() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address")
}
