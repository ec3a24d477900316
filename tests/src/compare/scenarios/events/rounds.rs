//! Issue 14's JetStream ratio, paired by round. The publish series above
//! measure each target once, one after the other, so their ratio carries
//! two windows of a shared machine's noise (0.70x to 0.86x over four
//! runs of one build, docs/latency-comparison.md). Here a gateway child
//! on the JetStream store and the raw reference take turns: in each
//! round the batched gateway series, then raw JetStream, both closed
//! loop with as many events in flight; the verdict is on the median of
//! the per-round ratios (`scenarios::paired`).

use std::path::Path;
use std::sync::Arc;

use http::Uri;

use super::{BATCH_CONTENT_TYPE, BATCH_EVENTS, Publish, batch_body, config, event_body};
use crate::compare::clients::{HttpClient, HttpVersion};
use crate::compare::gateway_process::GatewayProcess;
use crate::compare::loadgen::{LoadPlan, Measurement};
use crate::compare::probes::measure_raw_jetstream_publish;
use crate::compare::scenarios::RunContext;

/// What to run: the batched plan, the raw reference's plan, how often.
pub struct Rounds {
    pub batch: LoadPlan,
    pub raw: LoadPlan,
    pub count: usize,
}

impl Rounds {
    /// Every plan of every round, in order.
    pub fn plans(&self) -> Vec<LoadPlan> {
        [self.batch, self.raw].repeat(self.count)
    }

    /// The load time all rounds plan.
    pub fn total(&self) -> std::time::Duration {
        self.plans().iter().map(LoadPlan::total).sum()
    }
}

/// The per-round ratios (gateway events/s over raw events/s), in round
/// order; a round whose either side failed is left out (its reason is
/// returned beside the ratios).
pub async fn paired_ratios(
    ctx: &RunContext<'_>,
    program: &Path,
    dir: &Path,
    store: &str,
    nats_url: &str,
    rounds: &Rounds,
) -> (Vec<f64>, Option<String>) {
    let plans = rounds.plans();
    let path = dir.join("routes-nats-rounds.yaml");
    if let Err(error) = std::fs::write(&path, config(store)) {
        ctx.skipped(&plans);
        return (
            Vec::new(),
            Some(format!("cannot write {}: {error}", path.display())),
        );
    }
    let child = match GatewayProcess::start(program, &path, &dir.join("nats-rounds.output.log")) {
        Ok(child) => child,
        Err(error) => {
            ctx.skipped(&plans);
            return (Vec::new(), Some(error.to_string()));
        }
    };
    let uri: Uri = format!("{}/v1/events/bench", child.base())
        .parse()
        .expect("a valid URI");
    let probe = Arc::new(Publish {
        client: HttpClient::new(HttpVersion::Http1),
        uri,
        content_type: BATCH_CONTENT_TYPE,
        body: batch_body(),
    });
    let mut ratios = Vec::with_capacity(rounds.count);
    let mut failure = None;
    for round in 1..=rounds.count {
        ctx.progress
            .running(&format!("JetStream paired round {round}: gateway batches"));
        let mut measurement = Measurement::new();
        let wire = probe.client.wire().clone();
        measurement
            .drive(&probe, rounds.batch, || wire.total())
            .await;
        let gateway = measurement.stats();
        ctx.progress.done(&rounds.batch);
        ctx.progress
            .running(&format!("JetStream paired round {round}: raw"));
        let raw = measure_raw_jetstream_publish(nats_url, event_body(), rounds.raw).await;
        ctx.progress.done(&rounds.raw);
        match raw {
            Ok(raw) if gateway.errors == 0 && raw.errors == 0 && raw.throughput > 0.0 => {
                ratios.push(gateway.throughput * BATCH_EVENTS as f64 / raw.throughput);
            }
            Ok(raw) => {
                failure = Some(format!(
                    "round {round}: {} gateway and {} raw errors",
                    gateway.errors, raw.errors
                ));
            }
            Err(reason) => failure = Some(format!("round {round}: raw: {reason}")),
        }
    }
    drop(child);
    (ratios, failure)
}
