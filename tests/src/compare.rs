//! The latency comparison suite: measures the seed's claims end to end
//! (chatty client vs BFF, REST vs gRPC vs GraphQL, the gateway's proxy
//! overhead against nginx and HAProxy) on the real gateway and the real
//! mock backends, and writes `report.md`, SVG charts and `report.json`.
//!
//! [`run`] is what the `compare` binary and the smoke test call: it starts
//! the [`environment`], runs each scenario of the [`scenarios`] list with
//! the project's own load generator ([`loadgen`], [`clients`], [`probes`]),
//! then writes the [`report`]. A series whose feature is missing from the
//! build is reported as skipped with the reason. See
//! docs/latency-comparison.md.

pub mod clients;
pub mod cpu;
pub mod environment;
pub mod gateway_process;
pub mod loadgen;
pub mod needs;
pub mod probes;
pub mod profile;
pub mod progress;
pub mod proxies;
pub mod report;
pub mod routers;
pub mod scenarios;

use std::path::{Path, PathBuf};
use std::time::Duration;

use environment::Environment;
use profile::Profile;
use progress::Progress;
use proxies::ProxyKind;
use report::Report;
use scenarios::{RunContext, ScenarioName};

/// What to run and where to write.
#[derive(Clone, Debug)]
pub struct CompareOptions {
    /// A few seconds per scenario instead of minutes.
    pub quick: bool,
    /// Rounds of the round-based scenarios instead of the profile's.
    pub rounds: Option<usize>,
    /// Only this scenario (by [`ScenarioName::name`]).
    pub scenario: Option<String>,
    /// Output folder: report.md, report.json, the SVGs, proxy configs.
    pub out: PathBuf,
    /// Show a progress bar on long runs.
    pub progress: bool,
    /// The command line, quoted in the report.
    pub command: String,
    /// The `compare` binary, run with `--serve-gateway` for the proxy
    /// scenario's observability rows (gateways in processes of their
    /// own); without it those rows are skipped.
    pub gateway_program: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("unknown scenario {0:?}; the scenarios are: {1}")]
    UnknownScenario(String, String),
    #[error("cannot start the system under test: {0}")]
    Start(String),
    #[error("cannot write {0}: {1}")]
    Output(String, std::io::Error),
    #[error("cannot draw the charts: {0}")]
    Chart(String),
}

/// Runs the selected scenarios and writes the report into `options.out`.
pub async fn run(options: &CompareOptions) -> Result<Report, CompareError> {
    let selected = select(options.scenario.as_deref())?;
    let profile = Profile {
        quick: options.quick,
        rounds: options.rounds,
    };
    create_dir(&options.out)?;
    let env = Environment::start(&options.out.join("gateway")).await?;
    let planned: Duration = selected.iter().map(|s| s.planned(profile)).sum();
    let progress = Progress::new(planned, options.progress);
    let ctx = RunContext {
        env: &env,
        profile,
        progress: &progress,
        out_dir: &options.out,
        gateway_program: options.gateway_program.as_deref(),
    };
    let mut scenarios = Vec::new();
    for scenario in selected {
        scenarios.push(scenario.run(&ctx).await);
    }
    progress.finish();
    let mut report = Report {
        command: options.command.clone(),
        profile: profile.name(),
        build: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        cpus: std::thread::available_parallelism().map_or(1, usize::from),
        tools: [ProxyKind::Nginx, ProxyKind::Haproxy]
            .into_iter()
            .filter_map(ProxyKind::version)
            .collect(),
        scenarios,
    };
    write(&mut report, &options.out)?;
    Ok(report)
}

fn select(name: Option<&str>) -> Result<Vec<ScenarioName>, CompareError> {
    match name {
        None => Ok(ScenarioName::ALL.to_vec()),
        Some(name) => ScenarioName::parse(name).map(|s| vec![s]).ok_or_else(|| {
            let all: Vec<&str> = ScenarioName::ALL.iter().map(|s| s.name()).collect();
            CompareError::UnknownScenario(name.to_owned(), all.join(", "))
        }),
    }
}

/// Draws the charts, then writes report.md and report.json.
fn write(report: &mut Report, out: &Path) -> Result<(), CompareError> {
    for scenario in &mut report.scenarios {
        scenario.charts = report::charts::draw(scenario, out).map_err(CompareError::Chart)?;
    }
    let json = serde_json::to_string_pretty(report).unwrap_or_default();
    write_file(&out.join("report.json"), &json)?;
    write_file(&out.join("report.md"), &report::markdown::render(report))
}

fn create_dir(dir: &Path) -> Result<(), CompareError> {
    std::fs::create_dir_all(dir).map_err(|e| CompareError::Output(dir.display().to_string(), e))
}

fn write_file(path: &Path, text: &str) -> Result<(), CompareError> {
    std::fs::write(path, text).map_err(|e| CompareError::Output(path.display().to_string(), e))
}
