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

/// The embedded event store's section as the suite's routes.yaml writes it.
const EMBEDDED_STORE: &str = "events:\n  store:\n    kind: embedded\n";

/// `yaml` (a copy of the suite's routes.yaml) with its embedded event store
/// in `data_dir`: a child must not share the in-process gateway's store
/// (redb holds a file lock: the second opener refuses to start). A config
/// without an `events:` section is returned as is; one whose store section
/// has another shape is an error, so a change to routes.yaml cannot
/// silently bring the clash back.
pub fn with_own_event_store(yaml: &str, data_dir: &Path) -> Result<String, CompareError> {
    if !yaml.contains("\nevents:") && !yaml.starts_with("events:") {
        return Ok(yaml.to_owned());
    }
    if !yaml.contains(EMBEDDED_STORE) {
        return Err(CompareError::Start(
            "routes.yaml's `events.store` is not `kind: embedded` on its own: \
             the suite cannot give a child gateway its own data_dir"
                .to_owned(),
        ));
    }
    // Absolute: a relative data_dir resolves against the config's folder.
    let data_dir = std::path::absolute(data_dir)
        .map_err(|e| CompareError::Output(data_dir.display().to_string(), e))?;
    let own = format!(
        "{EMBEDDED_STORE}    data_dir: {:?}\n",
        data_dir.display().to_string()
    );
    Ok(yaml.replacen(EMBEDDED_STORE, &own, 1))
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
            Err(reason) => {
                // The child's own words (its last line) say why it stopped.
                let said = std::fs::read_to_string(log).unwrap_or_default();
                let last = said.lines().rev().find(|line| !line.trim().is_empty());
                Err(CompareError::Start(format!(
                    "gateway child process for {}: {reason}{}; see {}",
                    config.display(),
                    last.map(|line| format!(" ({})", line.trim()))
                        .unwrap_or_default(),
                    log.display()
                )))
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_gets_its_own_embedded_store() {
        let yaml = "listen: x\nevents:\n  store:\n    kind: embedded\n  topics: {}\n";
        let own = with_own_event_store(yaml, Path::new("/tmp/out/row.data")).unwrap();
        assert_eq!(
            own,
            "listen: x\nevents:\n  store:\n    kind: embedded\n    data_dir: \"/tmp/out/row.data\"\n  topics: {}\n"
        );
    }

    #[test]
    fn a_config_without_events_is_unchanged() {
        let yaml = "listen: x\nroutes: []\n";
        assert_eq!(with_own_event_store(yaml, Path::new("/d")).unwrap(), yaml);
    }

    #[test]
    fn a_store_section_of_another_shape_is_refused() {
        let yaml = "listen: x\nevents:\n  store: { kind: embedded }\n";
        assert!(with_own_event_store(yaml, Path::new("/d")).is_err());
    }

    /// The repository's routes.yaml has the shape the suite rewrites.
    #[test]
    fn the_shipped_routes_yaml_gets_its_own_store() {
        let shipped = std::fs::read_to_string(crate::gateway::repo_path("routes.yaml")).unwrap();
        let own = with_own_event_store(&shipped, Path::new("/tmp/x.data")).unwrap();
        assert!(own.contains("data_dir: \"/tmp/x.data\""));
        gateway::config::load_str_in(&own, "routes.yaml", &crate::gateway::repo_path(""))
            .expect("still a valid config");
    }
}
