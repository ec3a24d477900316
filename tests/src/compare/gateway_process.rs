//! The gateway as a child process of the suite, for series whose settings
//! belong to the process rather than to one gateway: traces (one
//! `TracingPipeline` and one `tracing` subscriber per process).
//!
//! [`serve`] is the child's side, run by `compare --serve-gateway
//! ROUTES.yaml`: it does what the `gateway` binary does (the trace
//! pipeline from the file's `tracing:` section, the subscriber from its
//! `log:` section, then the gateway) with the in-process gateway's worker
//! count and thread names, prints `listening on ADDR` and serves until it
//! is killed. [`GatewayProcess`] is the parent's side: it starts the
//! child, reads the address, copies the rest of the child's output into a
//! log file, and stops it on drop (SIGTERM, then SIGKILL).

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use gateway::observe::otel::TracingPipeline;
use gateway::runtime::{self, StartOptions};

use super::CompareError;
use super::environment::{GATEWAY_THREADS, SERVER_THREADS};

/// The hidden flag of the `compare` binary that runs [`serve`].
pub const SERVE_FLAG: &str = "--serve-gateway";

/// What the child prints before its address.
const ADDRESS_LINE: &str = "compare-gateway listening on ";

/// The child's side: serves `config` until the process is killed.
pub fn serve(config: &Path) -> ExitCode {
    let traces = start_traces(config);
    gateway::logging::init(&gateway::config::load_log_settings(config), traces.as_ref());
    let built = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(GATEWAY_THREADS)
        .enable_all()
        .build();
    let code = match built {
        Ok(runtime) => runtime.block_on(run(config)),
        Err(error) => {
            eprintln!("cannot start the async runtime: {error}");
            ExitCode::FAILURE
        }
    };
    drop(traces);
    code
}

/// The trace pipeline when `config` turns traces on (as the binary does).
fn start_traces(config: &Path) -> Option<TracingPipeline> {
    let settings = gateway::config::load_tracing(config).filter(|s| s.enabled)?;
    TracingPipeline::start(&settings)
        .map_err(|error| eprintln!("traces are off: {error}"))
        .ok()
}

async fn run(config: &Path) -> ExitCode {
    let mut options = StartOptions::new(config).ephemeral();
    options.watch = false;
    options.workers = Some(SERVER_THREADS);
    options.thread_name = GATEWAY_THREADS.to_owned();
    let gateway = match runtime::start(options).await {
        Ok(gateway) => gateway,
        Err(error) => {
            eprintln!("cannot start the gateway: {error}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout().lock();
    let printed = writeln!(stdout, "{ADDRESS_LINE}{}", gateway.addr).and_then(|()| stdout.flush());
    drop(stdout);
    if printed.is_err() {
        return ExitCode::FAILURE;
    }
    if gateway.wait().await {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// A gateway child process; dropping it stops it.
#[derive(Debug)]
pub struct GatewayProcess {
    pub addr: SocketAddr,
    child: Child,
}

impl GatewayProcess {
    /// Runs `program --serve-gateway config`, its output (after the
    /// address line) going to `log`; waits for the address (10 s at most).
    pub fn start(program: &Path, config: &Path, log: &Path) -> Result<Self, CompareError> {
        let output = std::fs::File::create(log)
            .map_err(|e| CompareError::Output(log.display().to_string(), e))?;
        let stderr = output
            .try_clone()
            .map_err(|e| CompareError::Output(log.display().to_string(), e))?;
        let mut child = Command::new(program)
            .arg(SERVE_FLAG)
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| CompareError::Start(format!("{}: {e}", program.display())))?;
        let stdout = child.stdout.take();
        let mut process = GatewayProcess {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            child,
        };
        let address = stdout
            .ok_or_else(|| "no stdout".to_owned())
            .and_then(|stdout| {
                read_address(stdout, output, Instant::now() + Duration::from_secs(10))
            });
        match address {
            Ok(addr) => {
                process.addr = addr;
                Ok(process)
            }
            Err(reason) => Err(CompareError::Start(format!(
                "gateway child process for {}: {reason}; see {}",
                config.display(),
                log.display()
            ))),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// Reads the child's stdout on a thread of its own until the address line
/// (or `deadline`), then keeps copying it into `log` so the child never
/// blocks on a full pipe.
fn read_address(
    stdout: ChildStdout,
    mut log: std::fs::File,
    deadline: Instant,
) -> Result<SocketAddr, String> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("compare-child-output".to_owned())
        .spawn(move || {
            let mut sender = Some(sender);
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                match line.strip_prefix(ADDRESS_LINE).map(str::parse) {
                    Some(Ok(addr)) if sender.is_some() => {
                        let _ = sender.take().map(|s| s.send(addr));
                    }
                    _ => {
                        let _ = writeln!(log, "{line}");
                    }
                }
            }
        })
        .map_err(|e| e.to_string())?;
    let wait = deadline.saturating_duration_since(Instant::now());
    receiver
        .recv_timeout(wait)
        .map_err(|_| "exited or did not print its address in time".to_owned())
}

impl Drop for GatewayProcess {
    /// SIGTERM (the child installs no handler: it ends at once), then
    /// SIGKILL if it is still there after two seconds.
    fn drop(&mut self) {
        super::proxies::stop_child(&mut self.child, Duration::from_secs(2));
    }
}
