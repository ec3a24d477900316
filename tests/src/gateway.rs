//! `TestGateway`: the real gateway and the real mock backends, in-process,
//! on 127.0.0.1 port 0.
//!
//! A test writes a routes.yaml in which `$ORDERS`, `$ORDERS_GRPC`,
//! `$USERS`, `$PRODUCTS` and `$PAYMENTS` stand for the mock backends' base
//! URLs, or starts from the repository's own routes.yaml with
//! [`TestGateway::with_default_routes`]. The config lives in a temporary
//! directory, so [`TestGateway::update_config`] exercises the real file
//! watcher.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use gateway::runtime::{self, RunningGateway, StartOptions};
use mock_backends::{
    MockBackends, MockOptions, ServiceKind, SubscriberKind, SubscriberOptions, Subscribers,
};

/// How long `eventually` waits before failing a test.
pub const EVENTUALLY: Duration = Duration::from_secs(15);

/// The routes.yaml literal of [`ECHO_ROUTES`], for `concat!` with more
/// routes: `/echo/{*rest}` proxied to the users mock's `/debug/echo/{rest}`.
#[macro_export]
macro_rules! echo_routes {
    () => {
        r#"
backends:
  users: { url: $USERS }
routes:
  - path: /echo/{*rest}
    backend: users
    rewrite: { template: "/debug/echo/{rest}" }
"#
    };
}

/// One route, `/echo/{*rest}`, answered by the users mock's echo of the
/// request it received.
pub const ECHO_ROUTES: &str = echo_routes!();

pub struct TestGateway {
    pub gateway: RunningGateway,
    pub mocks: MockBackends,
    /// The event subscribers (inventory, notification, payment-processor),
    /// started by the default-routes constructors on free ports.
    pub subscribers: Option<Subscribers>,
    pub client: reqwest::Client,
    config_path: PathBuf,
    layout: Layout,
    _dir: tempfile::TempDir,
}

/// How the test's routes.yaml is written.
#[derive(Debug, Clone, Copy)]
enum Layout {
    /// A file, replaced by a rename.
    File,
    /// A Kubernetes ConfigMap volume.
    ConfigMap,
}

impl TestGateway {
    /// Starts fresh mocks and a gateway on `yaml` (with `$SERVICE`
    /// placeholders).
    pub async fn start(yaml: &str) -> TestGateway {
        let mocks = mock_backends::start_all(MockOptions::ephemeral())
            .await
            .expect("mock backends start");
        Self::start_with(mocks, yaml).await
    }

    /// Starts a gateway over mocks the test already configured.
    pub async fn start_with(mocks: MockBackends, yaml: &str) -> TestGateway {
        Self::start_configured(mocks, yaml, true).await
    }

    /// Starts fresh mocks and a gateway that does not watch its file, so
    /// only SIGHUP or an explicit reload picks up a change.
    pub async fn start_unwatched(yaml: &str) -> TestGateway {
        let mocks = mock_backends::start_all(MockOptions::ephemeral())
            .await
            .expect("mock backends start");
        Self::start_configured(mocks, yaml, false).await
    }

    async fn start_configured(mocks: MockBackends, yaml: &str, watch: bool) -> TestGateway {
        Self::start_in(mocks, yaml, watch, Layout::File).await
    }

    /// Starts fresh mocks and a gateway whose routes.yaml is mounted as
    /// Kubernetes mounts a ConfigMap volume ([`crate::config_map`]);
    /// [`Self::update_config`] then updates it as Kubernetes does.
    pub async fn start_config_map(yaml: &str) -> TestGateway {
        let mocks = mock_backends::start_all(MockOptions::ephemeral())
            .await
            .expect("mock backends start");
        Self::start_in(mocks, yaml, true, Layout::ConfigMap).await
    }

    async fn start_in(mocks: MockBackends, yaml: &str, watch: bool, layout: Layout) -> TestGateway {
        init_tracing();
        let dir = tempfile::tempdir().expect("temp dir");
        // Relative paths in the config (grpc.protos, graphql.supergraph)
        // resolve from its directory: give it the repository's files.
        for shared in ["proto", "supergraph.graphql"] {
            std::os::unix::fs::symlink(repo_path(shared), dir.path().join(shared))
                .expect("link a file the config names");
        }
        let text = substitute(yaml, &mocks);
        let config_path = match layout {
            Layout::File => {
                let path = dir.path().join("routes.yaml");
                std::fs::write(&path, text).expect("write config");
                path
            }
            Layout::ConfigMap => {
                crate::config_map::mount(dir.path(), &[("routes.yaml", &text)]).remove(0)
            }
        };
        let mut options = StartOptions::new(&config_path).ephemeral();
        options.watch = watch;
        let gateway = runtime::start(options).await.expect("gateway starts");
        TestGateway {
            gateway,
            mocks,
            subscribers: None,
            client: reqwest::Client::new(),
            config_path,
            layout,
            _dir: dir,
        }
    }

    /// Starts the repository's routes.yaml with the mocks' real ports.
    pub async fn with_default_routes() -> TestGateway {
        let mocks = mock_backends::start_all(MockOptions::ephemeral())
            .await
            .expect("mock backends start");
        let yaml = std::fs::read_to_string(repo_path("routes.yaml")).expect("read routes.yaml");
        Self::start_default(mocks, default_ports_to_placeholders(&yaml)).await
    }

    /// The repository's routes.yaml, changed by `edit` first (e.g. to
    /// shorten a timeout), with the mocks' real ports.
    pub async fn with_default_routes_edited(edit: impl FnOnce(String) -> String) -> TestGateway {
        let mocks = mock_backends::start_all(MockOptions::ephemeral())
            .await
            .expect("mock backends start");
        let yaml = std::fs::read_to_string(repo_path("routes.yaml")).expect("read routes.yaml");
        Self::start_default(mocks, edit(default_ports_to_placeholders(&yaml))).await
    }

    /// The default routes over `mocks`, with the event subscribers on free
    /// ports (payment-processor publishing back through this gateway).
    async fn start_default(mocks: MockBackends, yaml: String) -> TestGateway {
        let any = |_| "127.0.0.1:0".parse().expect("address");
        let subscribers = Subscribers::start(any, &SubscriberOptions::default())
            .await
            .expect("event subscribers start");
        let yaml = SubscriberKind::ALL.iter().fold(yaml, |text, kind| {
            text.replace(
                &format!("http://{}", kind.default_addr()),
                &subscribers.get(*kind).url(),
            )
        });
        let mut gateway = Self::start_with(mocks, &yaml).await;
        subscribers
            .payment_processor
            .set_publish_url(&gateway.url("/v1/events/payments"));
        gateway.subscribers = Some(subscribers);
        gateway
    }

    /// The default routes' event subscribers.
    pub fn subscribers(&self) -> &Subscribers {
        self.subscribers
            .as_ref()
            .expect("started with the default routes")
    }

    /// `http://gateway-addr{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.gateway.addr)
    }

    /// `http://admin-addr{path}`.
    pub fn admin_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.gateway.admin_addr)
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Replaces the config file atomically (write, then rename), as an
    /// editor or a deploy tool would, or as Kubernetes updates a ConfigMap
    /// volume for [`Self::start_config_map`]. The watcher picks it up.
    pub fn update_config(&self, yaml: &str) {
        if let Layout::ConfigMap = self.layout {
            let dir = self.config_path.parent().expect("a directory");
            let text = substitute(yaml, &self.mocks);
            return crate::config_map::update(dir, &[("routes.yaml", &text)]);
        }
        let staging = self.config_path.with_extension("yaml.tmp");
        std::fs::write(&staging, substitute(yaml, &self.mocks)).expect("write config");
        std::fs::rename(&staging, &self.config_path).expect("replace config");
    }

    /// Waits until the active config version is `version`.
    pub async fn assert_reloaded(&self, version: u64) {
        eventually(&format!("config version {version}"), || async {
            self.gateway.version() == version
        })
        .await;
    }
}

/// Polls `check` until it returns true, failing the test after
/// [`EVENTUALLY`].
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + EVENTUALLY;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The base URL of a mock service: `http://127.0.0.1:PORT`.
pub fn base_url(mocks: &MockBackends, kind: ServiceKind) -> String {
    format!("http://{}", mocks.service(kind).addr)
}

/// A path relative to the repository root.
pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative)
}

const PLACEHOLDERS: [(&str, ServiceKind); 5] = [
    ("$ORDERS_GRPC", ServiceKind::OrdersGrpc),
    ("$ORDERS", ServiceKind::OrdersRest),
    ("$USERS", ServiceKind::Users),
    ("$PRODUCTS", ServiceKind::Products),
    ("$PAYMENTS", ServiceKind::Payments),
];

fn substitute(yaml: &str, mocks: &MockBackends) -> String {
    PLACEHOLDERS
        .iter()
        .fold(yaml.to_owned(), |text, (placeholder, kind)| {
            text.replace(placeholder, &base_url(mocks, *kind))
        })
}

fn default_ports_to_placeholders(yaml: &str) -> String {
    PLACEHOLDERS
        .iter()
        .fold(yaml.to_owned(), |text, (placeholder, kind)| {
            text.replace(&format!("http://{}", kind.default_addr()), placeholder)
        })
}

fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}
