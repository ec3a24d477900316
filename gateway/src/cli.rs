//! The command line: `demo` (the default), `serve` and `check`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::runtime::{self, RunningGateway, StartOptions};

#[derive(Debug, Parser)]
#[command(
    name = "gateway",
    version,
    about = "API gateway and BFF server driven by routes.yaml"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start every mock backend in-process, then the gateway (the default).
    Demo {
        #[arg(long, default_value = "routes.yaml")]
        config: PathBuf,
        /// Give the mocks the seed's latencies (orders 50ms, users 30ms,
        /// products 40ms, payments 20ms).
        #[arg(long)]
        seed_latencies: bool,
    },
    /// Run the gateway alone, for deployments.
    Serve {
        #[arg(long)]
        config: PathBuf,
    },
    /// Validate a config file: exit 0 if valid, else print every error as
    /// FILE:LINE:COL: message and exit 1.
    Check { file: PathBuf },
}

impl Cli {
    /// The `log:` section of the config file the command will serve
    /// (defaults for `check`, or when the file cannot be read: the gateway
    /// then reports the problem itself).
    pub fn log_settings(&self) -> crate::config::model::log::LogSettings {
        self.config_path()
            .map(crate::config::load_log_settings)
            .unwrap_or_default()
    }

    /// The config file that `demo` or `serve` will run (`check` runs none).
    pub fn config_path(&self) -> Option<&Path> {
        match &self.command {
            None => Some(Path::new(DEFAULT_CONFIG)),
            Some(Command::Demo { config, .. } | Command::Serve { config }) => Some(config),
            Some(Command::Check { .. }) => None,
        }
    }
}

/// The config file `demo` reads when none is named.
const DEFAULT_CONFIG: &str = "routes.yaml";

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> ExitCode {
    let command = cli.command.unwrap_or(Command::Demo {
        config: PathBuf::from(DEFAULT_CONFIG),
        seed_latencies: false,
    });
    match command {
        Command::Check { file } => check(&file),
        Command::Serve { config } => serve(config).await,
        Command::Demo {
            config,
            seed_latencies,
        } => demo(config, seed_latencies).await,
    }
}

fn check(file: &Path) -> ExitCode {
    match crate::config::check_file(file) {
        Ok(config) => {
            // What `serve` would refuse beyond the file itself: the
            // system's trust store, for `https://` backends without a
            // `tls.ca` (read, as serve reads it; nothing else is built).
            if let Err((backend, source)) = crate::tls::system_roots::check_config(&config) {
                let error = crate::snapshot::SnapshotError::SystemRoots { backend, source };
                eprintln!("{}: {error}", file.display());
                return ExitCode::FAILURE;
            }
            println!(
                "{}: ok ({} routes, {} backends)",
                file.display(),
                config.routes.len(),
                config.backends.len()
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: PathBuf) -> ExitCode {
    match runtime::start(StartOptions::new(config)).await {
        Ok(gateway) => run_until_signal(gateway).await,
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(feature = "demo")]
async fn demo(config: PathBuf, seed_latencies: bool) -> ExitCode {
    let mut options = mock_backends::MockOptions::default_addrs();
    if seed_latencies {
        options = options.with_seed_latencies();
    }
    let mocks = match mock_backends::start_all(options.clone()).await {
        Ok(mocks) => mocks,
        Err(error) => {
            eprintln!("cannot start the mock backends: {error}");
            return ExitCode::FAILURE;
        }
    };
    let store = std::sync::Arc::clone(&mocks.store);
    let subgraphs = match options.start_subgraphs(store).await {
        Ok(subgraphs) => subgraphs,
        Err(error) => {
            eprintln!("cannot start the GraphQL subgraphs: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut options = StartOptions::new(config);
    options.access_log_by_default = true;
    let gateway = match runtime::start(options).await {
        Ok(gateway) => gateway,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    // The event subscribers start once the gateway listens, so
    // payment-processor knows where to publish PaymentCompleted.
    let subscribers = match start_subscribers(&gateway).await {
        Ok(subscribers) => subscribers,
        Err(error) => {
            eprintln!("cannot start the event subscribers: {error}");
            return ExitCode::FAILURE;
        }
    };
    print_tour(&gateway, &mocks, &subgraphs);
    println!(
        "event subscribers: inventory {}, notification {}, payment-processor {}",
        subscribers.inventory.url(),
        subscribers.notification.url(),
        subscribers.payment_processor.url()
    );
    let code = run_until_signal(gateway).await;
    mocks.shutdown().await;
    drop(subscribers);
    code
}

/// The path of the default routes.yaml's publish route for topic
/// `payments`, where payment-processor publishes `PaymentCompleted`.
#[cfg(feature = "demo")]
pub const PAYMENTS_PUBLISH_PATH: &str = "/v1/events/payments";

#[cfg(feature = "demo")]
async fn start_subscribers(
    gateway: &RunningGateway,
) -> Result<mock_backends::Subscribers, mock_backends::MockError> {
    let options = mock_backends::SubscriberOptions {
        publish_url: Some(format!("http://{}{PAYMENTS_PUBLISH_PATH}", gateway.addr)),
        faults: Default::default(),
    };
    mock_backends::Subscribers::start(mock_backends::SubscriberKind::default_addr, &options).await
}

#[cfg(not(feature = "demo"))]
async fn demo(_config: PathBuf, _seed_latencies: bool) -> ExitCode {
    eprintln!(
        "this build has no mock backends (built without the `demo` feature); use `gateway serve`"
    );
    ExitCode::FAILURE
}

#[cfg(feature = "demo")]
fn print_tour(
    gateway: &RunningGateway,
    mocks: &mock_backends::MockBackends,
    subgraphs: &mock_backends::Subgraphs,
) {
    let base = format!("http://{}", gateway.addr);
    let order = mock_backends::seed::FIRST_ORDER_ID;
    println!(
        "mock backends: orders {} (gRPC {}), users {}, products {}, payments {}",
        mocks.orders.addr,
        mocks.orders_grpc.addr,
        mocks.users.addr,
        mocks.products.addr,
        mocks.payments.addr
    );
    println!(
        "GraphQL subgraphs: orders {}, users {}, products {}, payments {}",
        subgraphs.orders.url(),
        subgraphs.users.url(),
        subgraphs.products.url(),
        subgraphs.payments.url()
    );
    println!("gateway on {base}, admin on http://{}", gateway.admin_addr);
    println!("try:");
    println!("  curl {base}/v1/orders?page_size=2");
    println!("  curl {base}/v1/orders/{order}");
    println!("  curl http://{}/config", gateway.admin_addr);
    println!(
        "  curl {base}/graphql -H 'content-type: application/json' -d '{{\"query\":\"{{ order(id: \\\"{order}\\\") {{ status customer {{ name }} payment {{ status }} }} }}\"}}'"
    );
    println!("Ctrl-C to stop.");
}

async fn run_until_signal(gateway: RunningGateway) -> ExitCode {
    wait_for_stop_signal().await;
    tracing::info!("shutting down: draining in-flight requests");
    if gateway.shutdown().await {
        ExitCode::SUCCESS
    } else {
        tracing::warn!("grace period passed with requests still in flight");
        ExitCode::SUCCESS
    }
}

async fn wait_for_stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
