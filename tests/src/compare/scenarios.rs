//! The scenario list. Each scenario declares its series and what each one
//! [`Need`]s; a series whose need is missing from this build is reported
//! as skipped with the reason, and the others still run.
//!
//! The list is open: a scenario is a variant of [`ScenarioName`] plus a
//! module with a `run` function.

mod chatty;
mod events;
mod federation;
mod paired;
mod protocols;
mod proxy;
mod resilience;
mod tls;

use std::path::Path;
use std::time::Duration;

use mock_backends::seed;

use super::environment::Environment;
use super::loadgen::{LoadPlan, Measurement, Probe, Stats};
use super::needs::{self, Need};
use super::probes::Counted;
use super::profile::Profile;
use super::progress::Progress;
use super::report::ScenarioReport;

/// Every scenario, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScenarioName {
    Chatty,
    Protocols,
    Proxy,
    Federation,
    Events,
    Resilience,
    Tls,
}

impl ScenarioName {
    pub const ALL: [ScenarioName; 7] = [
        ScenarioName::Chatty,
        ScenarioName::Protocols,
        ScenarioName::Proxy,
        ScenarioName::Federation,
        ScenarioName::Events,
        ScenarioName::Resilience,
        ScenarioName::Tls,
    ];

    /// The name `--scenario` takes.
    pub fn name(self) -> &'static str {
        match self {
            ScenarioName::Chatty => "chatty",
            ScenarioName::Protocols => "protocols",
            ScenarioName::Proxy => "proxy",
            ScenarioName::Federation => "federation",
            ScenarioName::Events => "events",
            ScenarioName::Resilience => "resilience",
            ScenarioName::Tls => "tls",
        }
    }

    pub fn parse(name: &str) -> Option<ScenarioName> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The load time this scenario plans under `profile`, for the progress bar.
    pub fn planned(self, profile: Profile) -> Duration {
        let total = |plans: &[LoadPlan], times: usize| {
            plans.iter().map(LoadPlan::total).sum::<Duration>() * times as u32
        };
        match self {
            ScenarioName::Chatty => total(&[profile.chatty()], chatty::SERIES),
            ScenarioName::Protocols => total(&profile.protocols(), protocols::SERIES),
            ScenarioName::Proxy => {
                total(&profile.proxy(), proxy::TARGETS * profile.proxy_rounds())
                    + total(
                        &profile.proxy()[1..],
                        proxy::SIDE_BY_SIDE_ROWS * profile.side_by_side_rounds(),
                    )
            }
            ScenarioName::Federation => total(
                &profile.proxy(),
                federation::SERIES * profile.proxy_rounds(),
            ),
            ScenarioName::Events => events::planned(profile),
            ScenarioName::Resilience => resilience::planned(profile.resilience()),
            ScenarioName::Tls => total(&profile.tls(), tls::TARGETS * profile.proxy_rounds()),
        }
    }

    /// Runs the scenario.
    pub async fn run(self, ctx: &RunContext<'_>) -> ScenarioReport {
        match self {
            ScenarioName::Chatty => chatty::run(ctx).await,
            ScenarioName::Protocols => protocols::run(ctx).await,
            ScenarioName::Proxy => proxy::run(ctx).await,
            ScenarioName::Federation => federation::run(ctx).await,
            ScenarioName::Events => events::run(ctx).await,
            ScenarioName::Resilience => resilience::run(ctx).await,
            ScenarioName::Tls => tls::run(ctx).await,
        }
    }
}

/// What every scenario runs with.
pub struct RunContext<'a> {
    pub env: &'a Environment,
    pub profile: Profile,
    pub progress: &'a Progress,
    /// Where reference proxies write their configs.
    pub out_dir: &'a Path,
    /// The program that serves a gateway in a child process
    /// ([`crate::compare::gateway_process`]).
    pub gateway_program: Option<&'a Path>,
}

impl RunContext<'_> {
    /// Why `needs` are not met by this build, if they are not.
    pub async fn unmet(&self, needs: &[Need]) -> Option<String> {
        needs::first_unmet(needs, &self.env.gateway_base()).await
    }

    /// Runs `plan` once against `probe` and returns its stats.
    pub async fn measure<P: Probe>(
        &self,
        label: &str,
        probe: &Counted<P>,
        plan: LoadPlan,
    ) -> Stats {
        let mut measurement = Measurement::new();
        self.measure_into(&mut measurement, label, probe, plan)
            .await;
        measurement.stats()
    }

    /// Runs `plan` against `probe`, adding to `measurement`.
    pub async fn measure_into<P: Probe>(
        &self,
        measurement: &mut Measurement,
        label: &str,
        probe: &Counted<P>,
        plan: LoadPlan,
    ) {
        self.progress.running(&format!("{label} ({})", plan.mode));
        let wire = probe.wire.clone();
        measurement.drive(&probe.probe, plan, || wire.total()).await;
        self.env.clear_recordings();
        self.progress.done(&plan);
    }

    /// Marks plans as done without running them (a skipped series).
    pub fn skipped(&self, plans: &[LoadPlan]) {
        plans.iter().for_each(|plan| self.progress.done(plan));
    }
}

/// The runtime of a scenario's own mocks, let go of without waiting when
/// dropped (a runtime may not be dropped in async context).
pub(crate) struct MocksRuntime(pub Option<tokio::runtime::Runtime>);

impl Drop for MocksRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// The seeded order ids as strings: every series rotates through them.
pub fn order_ids() -> Vec<String> {
    seed::order_ids().iter().map(ToString::to_string).collect()
}

/// `base` + `path_for(id)` for every seeded order, as URIs.
pub fn order_uris(base: &str, path_for: impl Fn(&str) -> String) -> Vec<http::Uri> {
    order_ids()
        .iter()
        .filter_map(|id| format!("{base}{}", path_for(id)).parse().ok())
        .collect()
}
