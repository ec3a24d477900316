//! Scenario 4, the event bus: durable publish throughput and latency, and
//! the two anti-patterns of the seed that events fix.
//!
//! The same load generator publishes one event per request through a
//! gateway child process's `publish:` route, answered 202 only once the
//! store has acknowledged it: with the embedded store (redb, group
//! commit), with the NATS JetStream store, and straight to JetStream with
//! async-nats as the reference. Open loop at 1 000 events/s for the
//! latency the issue bounds (p99 < 5 ms), closed loop for the most
//! throughput (goal: embedded ≥ 20 000 events/s; the JetStream path ≥ 0.8×
//! raw JetStream).
//!
//! Then, on a system of their own ([`system`]): the synchronous chain
//! A→B→C against one event B and C consume ([`chain`], anti-pattern 2),
//! and a sync against an async route while A is down for 5 s
//! ([`outage`], anti-pattern 4).

mod chain;
mod outage;
mod rounds;
mod summary;
mod system;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Uri;

use super::RunContext;
use crate::compare::clients::{HttpClient, HttpVersion};
use crate::compare::gateway_process::GatewayProcess;
use crate::compare::loadgen::{CallError, LoadPlan, Measurement, Probe};
use crate::compare::probes::measure_raw_jetstream_publish;
use crate::compare::profile::Profile;
use crate::compare::report::ScenarioReport;
use crate::nats_server::NatsServer;

const MEASURES: &str = "Durable publish through the gateway's publish route (202 after the \
store's ack: an fsync'd redb commit, or a JetStream ack) against raw JetStream publish from \
the same load generator: throughput (closed loop) and p50/p99 at 1 000 events/s (open loop). \
Then the seed's anti-patterns, on a gateway child of their own in front of in-process mocks: \
A (orders, the seed's 50 ms), B (inventory, 40 ms per event) and C (notification, 30 ms). \
Anti-pattern 2: a sequential composed route calling A, then B, then C, against A's route \
emitting OrderPlaced to a topic B and C subscribe to, and against the client publishing \
OrderPlaced itself: the client's latency, and the time from the request's send until both \
B and C recorded the order's arrival (open loop at 20/s). Anti-pattern 4: a sync proxy route \
against an async route (202) to A under the same open loop (50/s each) while A's listener is \
closed for 5 s: errors, requests lost, and the time to drain the async backlog.";

/// The single-event series, in report order.
pub const SERIES: usize = 3;
const EMBEDDED: &str = "gateway publish, embedded store";
const NATS: &str = "gateway publish, JetStream store";
const RAW: &str = "raw JetStream publish";
/// The batched series (closed loop only).
const EMBEDDED_BATCH: &str = "gateway batch publish, embedded store";
const NATS_BATCH: &str = "gateway batch publish, JetStream store";
/// Events per batch request. With [`batch_plan`]'s 4 requests in flight
/// that keeps 64 events in flight, as many as the raw reference's 64
/// concurrent publishes.
pub const BATCH_EVENTS: usize = 16;
const BATCH_CONTENT_TYPE: &str = "application/cloudevents-batch+json";

/// One event body, about the size of the seed's `OrderPlaced`.
fn event_body() -> Bytes {
    Bytes::from_static(
        br#"{"type":"OrderPlaced","source":"/orders-service","subject":"3273b2e9-bb75-8508-88c2-1f861d3d39fe","data":{"order_id":"3273b2e9-bb75-8508-88c2-1f861d3d39fe","customer_id":"308e1cf0-c5a3-8f54-a524-7b9ff215e690","total":59.98}}"#,
    )
}

/// [`BATCH_EVENTS`] copies of [`event_body`] as one batch body.
fn batch_body() -> Bytes {
    let one = String::from_utf8_lossy(&event_body()).into_owned();
    Bytes::from(format!("[{}]", vec![one; BATCH_EVENTS].join(",")))
}

/// The batched series' plan: closed loop, 4 batches in flight.
pub fn batch_plan(quick: bool) -> LoadPlan {
    let [_, closed] = plans(quick);
    LoadPlan::closed(if quick { 2 } else { 4 }, closed.duration, closed.warmup)
}

/// The plans: open loop at 1 000/s, then closed loop.
pub fn plans(quick: bool) -> [LoadPlan; 2] {
    let (duration, warmup) = if quick {
        (Duration::from_secs(1), Duration::from_millis(200))
    } else {
        (Duration::from_secs(5), Duration::from_secs(1))
    };
    [
        LoadPlan::open(if quick { 200.0 } else { 1000.0 }, duration, warmup),
        LoadPlan::closed(if quick { 8 } else { 64 }, duration, warmup),
    ]
}

/// `POST` the event (or the batch) to the publish route; a non-2xx is an
/// error.
struct Publish {
    client: HttpClient,
    uri: Uri,
    content_type: &'static str,
    body: Bytes,
}

impl Probe for Publish {
    async fn call(&self, _seq: u64) -> Result<(), CallError> {
        self.client
            .post(&self.uri, self.content_type, self.body.clone())
            .await
            .map(drop)
    }
}

/// A gateway child with one publish route. Its topic keeps every event,
/// as the raw reference's stream does (JetStream's defaults have no
/// limits): with the topic's default cap of a million events, the
/// gateway's stream filled up during the scenario and its server then
/// removed the oldest event at each publish, work the reference never
/// did (the paired rounds measured 0.71x, 0.66x, 0.62x, falling as the
/// stream filled).
fn config(store: &str) -> String {
    format!(
        "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nlog:\n  level: warn\nmetrics:\n  enabled: false\n\
         events:\n  store: {store}\n  topics:\n    bench: {{ default_source: /compare, max_events: unlimited, max_age: unlimited }}\n\
         routes:\n  - path: /v1/events/bench\n    publish: bench\n"
    )
}

pub async fn run(ctx: &RunContext<'_>) -> ScenarioReport {
    let mut report = ScenarioReport::new(
        "events",
        "Event bus: durable publish, sync chain and temporal coupling",
        MEASURES,
    );
    let plans = plans(ctx.profile.quick);
    let Some(program) = ctx.gateway_program else {
        report.skipped = Some("no gateway program to start a child process with".to_owned());
        ctx.skipped(&[plans; SERIES].concat());
        ctx.skipped(&[batch_plan(ctx.profile.quick); 2]);
        ctx.skipped(&jetstream_rounds(ctx.profile).plans());
        ctx.skipped(&[chain::plan(ctx.profile.quick); chain::Path::ALL.len()]);
        ctx.skipped(&[outage::Timeline::new(ctx.profile.quick).plan()]);
        return report;
    };
    let dir = ctx.out_dir.join("events");
    if let Err(error) = std::fs::create_dir_all(&dir) {
        report.skipped = Some(format!("cannot create {}: {error}", dir.display()));
        return report;
    }
    let embedded_store = format!(
        "{{ kind: embedded, data_dir: \"{}\" }}",
        dir.join("embedded-data").display()
    );
    let _ = std::fs::remove_dir_all(dir.join("embedded-data"));
    let batch = [batch_plan(ctx.profile.quick)];
    publish_series(
        ctx,
        &mut report,
        program,
        &dir,
        [EMBEDDED, EMBEDDED_BATCH],
        "embedded",
        &embedded_store,
        (&plans, &batch),
    )
    .await;
    let mut paired = None;
    let nats = if NatsServer::program().is_some() {
        NatsServer::start_or_skip("compare events").await
    } else {
        None
    };
    match &nats {
        Some(server) => {
            let store = format!(
                "{{ kind: nats, urls: [\"{}\"], stream_prefix: COMPARE, outbox_dir: \"{}\" }}",
                server.url(),
                dir.join("outbox").display()
            );
            publish_series(
                ctx,
                &mut report,
                program,
                &dir,
                [NATS, NATS_BATCH],
                "nats",
                &store,
                (&plans, &batch),
            )
            .await;
            for plan in plans {
                ctx.progress.running(&format!("{RAW} ({})", plan.mode));
                match measure_raw_jetstream_publish(&server.url(), event_body(), plan).await {
                    Ok(stats) => report.measured(RAW, "async-nats", plan, stats),
                    Err(reason) => report.skip(RAW, "async-nats", reason),
                }
                ctx.progress.done(&plan);
            }
            let (ratios, failure) = rounds::paired_ratios(
                ctx,
                program,
                &dir,
                &store,
                &server.url(),
                &jetstream_rounds(ctx.profile),
            )
            .await;
            paired = Some(ratios);
            if let Some(reason) = failure {
                report
                    .notes
                    .push(format!("JetStream paired rounds: {reason}"));
            }
        }
        None => {
            for name in [NATS, NATS_BATCH, RAW] {
                report.skip(name, "-", "nats-server is not installed".to_owned());
            }
            ctx.skipped(&[plans; 2].concat());
            ctx.skipped(&batch);
            ctx.skipped(&jetstream_rounds(ctx.profile).plans());
        }
    }
    summary::summarise(&mut report, &plans, &batch[0], paired.as_deref());
    anti_patterns(ctx, &mut report, program, &dir).await;
    report.skip_if_empty();
    report
}

/// The JetStream rounds: the batched series against the raw reference's
/// closed loop, as many rounds as the other round-based scenarios.
fn jetstream_rounds(profile: Profile) -> rounds::Rounds {
    rounds::Rounds {
        batch: batch_plan(profile.quick),
        raw: plans(profile.quick)[1],
        count: profile.proxy_rounds(),
    }
}

/// The load time of the whole scenario under `profile`.
pub fn planned(profile: Profile) -> Duration {
    let quick = profile.quick;
    let publish: Duration = plans(quick).iter().map(LoadPlan::total).sum();
    publish * SERIES as u32
        + batch_plan(quick).total() * 2
        + jetstream_rounds(profile).total()
        + chain::plan(quick).total() * chain::Path::ALL.len() as u32
        + outage::Timeline::new(quick).plan().total()
}

/// Anti-patterns 2 and 4, on a system of their own.
async fn anti_patterns(
    ctx: &RunContext<'_>,
    report: &mut ScenarioReport,
    program: &Path,
    dir: &Path,
) {
    let quick = ctx.profile.quick;
    let system = match system::System::start(program, dir).await {
        Ok(system) => system,
        Err(reason) => {
            for path in chain::Path::ALL {
                report.skip(path.name(), "HTTP/1.1", reason.clone());
            }
            ctx.skipped(&[chain::plan(quick); chain::Path::ALL.len()]);
            ctx.skipped(&[outage::Timeline::new(quick).plan()]);
            report
                .notes
                .push(format!("anti-pattern 4 not measured: {reason}"));
            return;
        }
    };
    let rows = chain::run(ctx, &system, report).await;
    let (table, notes) = chain::table(&rows);
    report.tables.push(table);
    report.notes.extend(notes);
    match outage::run(ctx, &system).await {
        Ok(figures) => {
            let (table, notes) = figures.table();
            report.tables.push(table);
            report.notes.extend(notes);
        }
        Err(reason) => report
            .notes
            .push(format!("anti-pattern 4 not measured: {reason}")),
    }
}

/// One gateway child on `store`: the single-event series `names.0` under
/// `plans.0`, then the batched series `names.1` under `plans.1`.
#[allow(clippy::too_many_arguments)]
async fn publish_series(
    ctx: &RunContext<'_>,
    report: &mut ScenarioReport,
    program: &Path,
    dir: &Path,
    [single, batched]: [&str; 2],
    stem: &str,
    store: &str,
    (single_plans, batch_plans): (&[LoadPlan], &[LoadPlan]),
) {
    let all: Vec<LoadPlan> = [single_plans, batch_plans].concat();
    let path = dir.join(format!("routes-{stem}.yaml"));
    if let Err(error) = std::fs::write(&path, config(store)) {
        report.skip(
            single,
            "HTTP/1.1",
            format!("cannot write {}: {error}", path.display()),
        );
        ctx.skipped(&all);
        return;
    }
    let child = match GatewayProcess::start(program, &path, &dir.join(format!("{stem}.output.log")))
    {
        Ok(child) => child,
        Err(error) => {
            report.skip(single, "HTTP/1.1", error.to_string());
            ctx.skipped(&all);
            return;
        }
    };
    let uri: Uri = format!("{}/v1/events/bench", child.base())
        .parse()
        .expect("a valid URI");
    let series = [
        (single, "application/json", event_body(), single_plans),
        (batched, BATCH_CONTENT_TYPE, batch_body(), batch_plans),
    ];
    for (name, content_type, body, plans) in series {
        let probe = Arc::new(Publish {
            client: HttpClient::new(HttpVersion::Http1),
            uri: uri.clone(),
            content_type,
            body,
        });
        for plan in plans {
            ctx.progress.running(&format!("{name} ({})", plan.mode));
            let mut measurement = Measurement::new();
            let wire = probe.client.wire().clone();
            measurement.drive(&probe, *plan, || wire.total()).await;
            report.measured(name, "HTTP/1.1", *plan, measurement.stats());
            ctx.progress.done(plan);
        }
    }
    drop(child);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_child_config_is_a_valid_gateway_config_with_one_publish_route() {
        for store in [
            "{ kind: embedded, data_dir: \"/tmp/x\" }",
            "{ kind: nats, urls: [\"nats://127.0.0.1:4222\"], stream_prefix: COMPARE, outbox_dir: \"/tmp/o\" }",
        ] {
            let config = gateway::config::load_str(&config(store), "routes.yaml")
                .unwrap_or_else(|errors| panic!("{store}: {errors}"));
            assert_eq!(config.routes.len(), 1);
            assert!(config.events.is_some());
        }
    }

    #[test]
    fn the_batch_body_is_a_batch_the_gateway_accepts() {
        let events = gateway::events::publish::batch::parse_batch(
            &batch_body(),
            "/compare",
            256 * 1024,
            None,
        )
        .expect("a valid batch");
        assert_eq!(events.len(), BATCH_EVENTS);
        assert!(
            events
                .iter()
                .all(|e| e.event.event().event_type == "OrderPlaced")
        );
    }

    #[test]
    fn the_event_body_is_what_a_publish_route_accepts() {
        let body: serde_json::Value = serde_json::from_slice(&event_body()).unwrap();
        assert_eq!(body["type"], "OrderPlaced");
    }
}
