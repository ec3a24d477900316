//! The TLS scenario's targets: one certificate (ECDSA P-256, issued by a
//! CA made for the run with rcgen, as the tests do) written into
//! `OUT/tls/`, then the gateway in a child process whose config is the
//! suite's routes.yaml with `server.tls` serving that certificate, and
//! nginx terminating TLS with the same files, both in front of the same
//! orders mock. Also: what each target negotiates with the load
//! generator's client (protocol, cipher suite, key exchange), for the
//! report's fairness note.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::compare::CompareError;
use crate::compare::gateway_process::{GatewayProcess, with_own_event_store};
use crate::compare::proxies::TlsFiles;
use crate::tls::{TestCa, client_config, connect};

/// The name in the certificate, sent as SNI by the load generator.
pub const SERVER_NAME: &str = "localhost";

/// The CA and the server certificate's files.
pub struct BenchCertificate {
    pub ca: TestCa,
    pub files: TlsFiles,
}

impl BenchCertificate {
    /// Generates the CA and a server certificate for [`SERVER_NAME`] and
    /// writes them into `out_dir/tls` (`ca.pem`, `server.pem`, `server.key`).
    pub fn write(out_dir: &Path) -> Result<BenchCertificate, CompareError> {
        let dir = out_dir.join("tls");
        let io = |e: std::io::Error| CompareError::Output(dir.display().to_string(), e);
        std::fs::create_dir_all(&dir).map_err(io)?;
        let dir = std::fs::canonicalize(&dir).map_err(io)?;
        let ca = TestCa::new("compare TLS CA");
        ca.write(&dir, "ca.pem");
        let (cert, key) = ca.server_cert(&[SERVER_NAME]).write(&dir, "server");
        Ok(BenchCertificate {
            ca,
            files: TlsFiles { cert, key },
        })
    }
}

/// `base` (the suite's routes.yaml text) with `server.tls` serving
/// `files`, and the log at `warn` (as the proxy scenario's child rows).
pub fn tls_config(base: &str, files: &TlsFiles) -> Result<String, String> {
    let tls = format!(
        "server:\n  tls:\n    certificates:\n      - cert: \"{}\"\n        key: \"{}\"\n",
        files.cert.display(),
        files.key.display()
    );
    let (before, after) = if let Some(rest) = base.strip_prefix("server:\n") {
        ("", rest)
    } else {
        let at = base
            .find("\nserver:\n")
            .ok_or("the suite's routes.yaml has no top-level `server:` section")?;
        (&base[..=at], &base[at + "\nserver:\n".len()..])
    };
    Ok(format!(
        "{before}{tls}{after}\n# Added by the comparison suite's TLS scenario.\nlog:\n  level: warn\n"
    ))
}

/// Writes the TLS config beside `routes` (protos and supergraph resolve
/// alike) and starts a gateway child on it; its output goes to
/// `out_dir/tls/gateway.output.log`.
pub fn start_gateway(
    program: &Path,
    routes: &Path,
    out_dir: &Path,
    files: &TlsFiles,
) -> Result<GatewayProcess, CompareError> {
    let output = |path: &Path| {
        let shown = path.display().to_string();
        move |e: std::io::Error| CompareError::Output(shown, e)
    };
    let base = std::fs::read_to_string(routes).map_err(output(routes))?;
    let base = with_own_event_store(&base, &out_dir.join("tls").join("gateway.data"))?;
    let text = tls_config(&base, files).map_err(CompareError::Start)?;
    let folder = routes.parent().unwrap_or(Path::new("."));
    let config: PathBuf = folder.join("routes-tls.yaml");
    std::fs::write(&config, text).map_err(output(&config))?;
    let log = out_dir.join("tls").join("gateway.output.log");
    GatewayProcess::start(program, &config, &log)
}

/// What one handshake with `addr` negotiated, e.g. `TLSv1_3,
/// TLS13_AES_256_GCM_SHA384, X25519, ALPN http/1.1`.
pub async fn negotiated(addr: SocketAddr, ca: &TestCa) -> String {
    let config = client_config(ca, &[b"http/1.1"], None);
    match connect(addr, SERVER_NAME, config).await {
        Ok(stream) => {
            let session = stream.get_ref().1;
            let show = |value: Option<String>| value.unwrap_or_else(|| "?".to_owned());
            format!(
                "{}, {}, {}, ALPN {}",
                show(session.protocol_version().map(|v| format!("{v:?}"))),
                show(
                    session
                        .negotiated_cipher_suite()
                        .map(|s| format!("{:?}", s.suite()))
                ),
                show(
                    session
                        .negotiated_key_exchange_group()
                        .map(|g| format!("{:?}", g.name()))
                ),
                show(
                    session
                        .alpn_protocol()
                        .map(|p| String::from_utf8_lossy(p).into_owned())
                ),
            )
        }
        Err(error) => format!("handshake failed: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> TlsFiles {
        TlsFiles {
            cert: "/tmp/out/tls/server.pem".into(),
            key: "/tmp/out/tls/server.key".into(),
        }
    }

    #[test]
    fn tls_goes_into_the_existing_server_section() {
        let base = "listen: 127.0.0.1:0\nserver:\n  max_body: 1MiB\nroutes: []\n";
        let text = tls_config(base, &files()).unwrap();
        assert_eq!(text.matches("server:").count(), 1, "{text}");
        assert!(
            text.contains("server:\n  tls:\n    certificates:\n      - cert: \"/tmp/out/tls/server.pem\"\n        key: \"/tmp/out/tls/server.key\"\n  max_body: 1MiB\n"),
            "{text}"
        );
        assert!(text.ends_with("log:\n  level: warn\n"), "{text}");
    }

    #[test]
    fn a_config_without_a_server_section_is_refused() {
        assert!(tls_config("routes: []\n", &files()).is_err());
    }

    /// The result compiles as the gateway's config, certificate included.
    #[test]
    fn the_tls_config_is_valid_with_a_generated_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let certificate = BenchCertificate::write(dir.path()).unwrap();
        let base = "listen: 127.0.0.1:0\nserver:\n  max_body: 1MiB\nroutes: []\n";
        let yaml = tls_config(base, &certificate.files).unwrap();
        if let Err(errors) = gateway::config::load_str(&yaml, "routes.yaml") {
            panic!("{errors}");
        }
    }
}
