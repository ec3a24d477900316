//! `openssl s_client` as an independent TLS client for the listener tests
//! (`edge_tls`): protocol versions, ALPN, the certificate SNI picks and its
//! verification, read from the tool's own output.
//!
//! CI installs the `openssl` OS package (`.ci/run`) and sets
//! [`REQUIRE_ENV`]; elsewhere a machine without it skips those tests,
//! saying so, like the Redis and browser tests.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rustls::pki_types::CertificateDer;

/// Set (by `.ci/run`) where a missing `openssl` must fail the tests that
/// use it rather than skip them.
pub const REQUIRE_ENV: &str = "GATEWAY_TESTS_REQUIRE_OPENSSL";

/// The `openssl` program, found on `PATH`.
#[derive(Debug, Clone, Copy)]
pub struct OpenSsl;

/// One `s_client` session's output (stdout and stderr together).
#[derive(Debug)]
pub struct Session {
    pub output: String,
}

impl OpenSsl {
    /// Whether an `openssl` program runs.
    pub fn installed() -> bool {
        Command::new("openssl")
            .arg("version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// `Some` when `openssl` is installed; `None` (the test is skipped,
    /// saying so) when it is not, unless [`REQUIRE_ENV`] is set, where
    /// that fails the test.
    pub fn or_skip(test: &str) -> Option<OpenSsl> {
        if Self::installed() {
            return Some(OpenSsl);
        }
        assert!(
            std::env::var_os(REQUIRE_ENV).is_none(),
            "{test}: openssl is not installed and {REQUIRE_ENV} is set"
        );
        eprintln!("{test}: skipped: openssl is not installed (CI installs it)");
        None
    }

    /// `openssl s_client -connect ADDR` with `args`, its stdin closed (so
    /// it ends right after the handshake).
    pub async fn s_client(self, addr: SocketAddr, args: &[&str]) -> Session {
        let output = tokio::process::Command::new("openssl")
            .args(["s_client", "-connect", &addr.to_string()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .expect("openssl s_client runs");
        Session {
            output: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        }
    }

    /// `s_client` as `server_name` (no SNI when `None`), verifying the
    /// chain against `ca_file` and the name against `server_name`.
    pub async fn verified_session(
        self,
        addr: SocketAddr,
        server_name: Option<&str>,
        ca_file: &Path,
    ) -> Session {
        let ca = ca_file.display().to_string();
        let mut args = vec!["-CAfile", ca.as_str()];
        match server_name {
            Some(name) => args.extend(["-servername", name, "-verify_hostname", name]),
            None => args.push("-noservername"),
        }
        self.s_client(addr, &args).await
    }
}

impl Session {
    /// The protocol version the session negotiated (`TLSv1.3`), if any.
    pub fn protocol(&self) -> Option<&str> {
        let version = self
            .output
            .lines()
            .find_map(|line| line.strip_prefix("New, ")?.split(',').next())?;
        (version != "(NONE)").then_some(version)
    }

    /// The ALPN protocol the server chose, if any.
    pub fn alpn(&self) -> Option<&str> {
        self.output
            .lines()
            .find_map(|line| line.strip_prefix("ALPN protocol: "))
            .map(str::trim)
    }

    /// The leaf certificate the server sent (the PEM block after
    /// `Server certificate`), as DER.
    pub fn server_certificate(&self) -> Option<CertificateDer<'static>> {
        let after = self.output.split("Server certificate").nth(1)?;
        let body = after
            .split("-----BEGIN CERTIFICATE-----")
            .nth(1)?
            .split("-----END CERTIFICATE-----")
            .next()?;
        let base64: String = body.split_whitespace().collect();
        let der = STANDARD.decode(base64).ok()?;
        Some(CertificateDer::from(der))
    }

    /// The verification result (`0 (ok)` when the chain and the name were
    /// good), if the handshake got that far.
    pub fn verify_result(&self) -> Option<&str> {
        self.output
            .lines()
            .find_map(|line| line.trim().strip_prefix("Verify return code: "))
    }
}
