//! nginx and HAProxy as reference proxies: the suite writes their loopback
//! configs into the output folder, starts them as child processes on free
//! ports in front of one backend, and stops them when done.
//!
//! Both get the settings a fair benchmark gives them and nothing more:
//! as many workers (nginx processes, HAProxy threads) as the gateway has
//! runtime threads, keep-alive to the backend, no access log (the gateway
//! writes none either), and the headers the gateway adds: the backend
//! receives the same header names from each proxy (`x-request-id`, the
//! forwarding family, `Host`), and the client gets a request id back
//! (e2e test `compare_reference_headers`).
//! nginx can also terminate TLS with a given certificate
//! ([`ExternalProxy::start_nginx_tls`], the TLS scenario).

mod haproxy;
mod nginx;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::CompareError;
use super::needs::find_program;

/// A reference proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyKind {
    Nginx,
    Haproxy,
}

impl ProxyKind {
    pub fn program(self) -> &'static str {
        match self {
            ProxyKind::Nginx => "nginx",
            ProxyKind::Haproxy => "haproxy",
        }
    }

    /// The first line the program prints about its version.
    pub fn version(self) -> Option<String> {
        let output = Command::new(find_program(self.program())?)
            .arg("-v")
            .output()
            .ok()?;
        let text = [output.stdout, output.stderr].concat();
        String::from_utf8_lossy(&text)
            .lines()
            .next()
            .map(str::to_owned)
    }
}

/// A certificate chain and its key, as PEM files.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A running reference proxy; dropping it stops it.
#[derive(Debug)]
pub struct ExternalProxy {
    pub kind: ProxyKind,
    pub addr: SocketAddr,
    /// Whether its listener terminates TLS.
    tls: bool,
    child: Child,
}

impl ExternalProxy {
    /// Writes the config into `dir` and starts `kind` in front of
    /// `backend`, waiting until it accepts connections.
    pub fn start(
        kind: ProxyKind,
        dir: &Path,
        backend: SocketAddr,
    ) -> Result<ExternalProxy, CompareError> {
        Self::start_in(kind, &dir.join(kind.program()), backend, None)
    }

    /// nginx terminating TLS with `files`, its config in `dir/nginx-tls`.
    pub fn start_nginx_tls(
        dir: &Path,
        backend: SocketAddr,
        files: &TlsFiles,
    ) -> Result<ExternalProxy, CompareError> {
        Self::start_in(
            ProxyKind::Nginx,
            &dir.join("nginx-tls"),
            backend,
            Some(files),
        )
    }

    fn start_in(
        kind: ProxyKind,
        dir: &Path,
        backend: SocketAddr,
        tls: Option<&TlsFiles>,
    ) -> Result<ExternalProxy, CompareError> {
        let program = find_program(kind.program())
            .ok_or_else(|| CompareError::Start(format!("{} is not installed", kind.program())))?;
        let io = |e: std::io::Error| CompareError::Output(dir.display().to_string(), e);
        std::fs::create_dir_all(dir).map_err(io)?;
        // nginx reads relative paths from its prefix: give it absolute ones.
        let dir = std::fs::canonicalize(dir).map_err(io)?;
        let addr = free_port().map_err(io)?;
        let mut command = match kind {
            ProxyKind::Nginx => nginx::command(&program, &dir, addr, backend, tls),
            ProxyKind::Haproxy => haproxy::command(&program, &dir, addr, backend),
        }
        .map_err(io)?;
        let log = std::fs::File::create(dir.join("output.log")).map_err(io)?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io)?)
            .stderr(log)
            .spawn()
            .map_err(|e| CompareError::Start(format!("{}: {e}", kind.program())))?;
        let mut proxy = ExternalProxy {
            kind,
            addr,
            tls: tls.is_some(),
            child,
        };
        proxy.wait_until_accepting(&dir)?;
        Ok(proxy)
    }

    /// The child's process id (nginx's master).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn base(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    fn wait_until_accepting(&mut self, dir: &Path) -> Result<(), CompareError> {
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(self.addr).is_err() {
            let exited = self.child.try_wait().ok().flatten();
            if exited.is_some() || Instant::now() > deadline {
                return Err(CompareError::Start(format!(
                    "{} did not start (exit: {exited:?}); see {}",
                    self.kind.program(),
                    dir.join("output.log").display()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }
}

impl Drop for ExternalProxy {
    /// SIGTERM to our child (nginx's master then stops its workers), then
    /// SIGKILL if it is still there after a second.
    fn drop(&mut self) {
        stop_child(&mut self.child, Duration::from_secs(1));
    }
}

/// Stops a child process of the suite: SIGTERM, then SIGKILL if it is
/// still there after `grace`.
pub(crate) fn stop_child(child: &mut Child, grace: Duration) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .stderr(Stdio::null())
        .status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A loopback address whose port was free a moment ago.
fn free_port() -> std::io::Result<SocketAddr> {
    std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()
}

/// Writes `text` to `dir/name` and returns the path.
fn write_file(dir: &Path, name: &str, text: &str) -> std::io::Result<PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTEN: &str = "127.0.0.1:18080";
    const BACKEND: &str = "127.0.0.1:17101";

    fn addrs() -> (SocketAddr, SocketAddr) {
        (LISTEN.parse().unwrap(), BACKEND.parse().unwrap())
    }

    #[test]
    fn nginx_config_proxies_the_listener_to_the_backend_with_keepalive() {
        let (listen, backend) = addrs();
        let text = nginx::config(Path::new("/tmp/x"), listen, backend, None);
        assert!(text.contains(&format!("listen {LISTEN};")));
        assert!(!text.contains("ssl"));
        assert!(text.contains(&format!("server {BACKEND};")));
        assert!(text.contains("keepalive 256;"));
        assert!(text.contains("access_log off;"));
        assert!(text.contains("worker_processes 2;"));
    }

    #[test]
    fn nginx_tls_config_terminates_tls_with_the_given_files_and_protocols() {
        let (listen, backend) = addrs();
        let files = TlsFiles {
            cert: "/tmp/x/server.pem".into(),
            key: "/tmp/x/server.key".into(),
        };
        let text = nginx::config(Path::new("/tmp/x"), listen, backend, Some(&files));
        assert!(text.contains(&format!("listen {LISTEN} ssl;")), "{text}");
        assert!(
            text.contains("ssl_certificate /tmp/x/server.pem;"),
            "{text}"
        );
        assert!(
            text.contains("ssl_certificate_key /tmp/x/server.key;"),
            "{text}"
        );
        assert!(text.contains("ssl_protocols TLSv1.2 TLSv1.3;"), "{text}");
        assert!(text.contains("keepalive 256;"));
    }

    #[test]
    fn haproxy_config_proxies_the_listener_to_the_backend_with_reuse() {
        let (listen, backend) = addrs();
        let text = haproxy::config(listen, backend);
        assert!(text.contains(&format!("bind {LISTEN}")));
        assert!(text.contains(&format!("server orders {BACKEND}")));
        assert!(text.contains("http-reuse always"));
        assert!(text.contains("nbthread 2"));
    }
}
