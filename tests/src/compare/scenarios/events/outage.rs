//! The seed's anti-pattern 4, temporal coupling: the same `POST` of a new
//! order to A through a synchronous proxy route and through an `async:`
//! route (202 Accepted, delivered later), both under the same steady open
//! loop, while A is down (its listener closed: connections refused) for
//! 5 s in the middle. Reported per route: the errors the client sees
//! during the outage and after it, the requests lost (the sync route's
//! failures are lost unless the client retries; every request the async
//! route accepted must complete, checked one by one at A and at its
//! `/v1/requests/{id}`), and how long the async backlog takes to drain
//! once A is back (from A's listener reopening to A's answer to the last
//! request accepted before, by A's recorded timestamps).

mod table;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Uri;
use mock_backends::Outcome;
use serde_json::{Value, json};

use super::system::{ASYNC_PATH, LANE_FIELD, SYNC_PATH, System, new_order};
use crate::compare::clients::{HttpClient, HttpVersion};
use crate::compare::loadgen::{CallError, LoadPlan, Measurement, Probe};
use crate::compare::scenarios::RunContext;

/// The header numbering the async route's requests, as A records them.
const SEQ_HEADER: &str = "x-compare-seq";
/// Order keys of the async route (each key's requests go one at a time).
const LANES: u64 = 16;

/// Load before, during and after the outage, and its rate per route.
#[derive(Clone, Copy, Debug)]
pub struct Timeline {
    pub before: Duration,
    pub outage: Duration,
    pub after: Duration,
    pub rate: f64,
    /// How long every accepted request gets to complete after recovery.
    pub drain_deadline: Duration,
}

impl Timeline {
    pub fn new(quick: bool) -> Timeline {
        let secs = Duration::from_secs_f64;
        if quick {
            Timeline {
                before: secs(0.3),
                outage: secs(1.0),
                after: secs(0.3),
                rate: 20.0,
                drain_deadline: secs(15.0),
            }
        } else {
            Timeline {
                before: secs(1.0),
                outage: secs(5.0),
                after: secs(1.0),
                rate: 50.0,
                drain_deadline: secs(30.0),
            }
        }
    }

    /// Each route's load: one open loop over the whole timeline.
    pub fn plan(&self) -> LoadPlan {
        LoadPlan::open(
            self.rate,
            self.before + self.outage + self.after,
            Duration::ZERO,
        )
    }
}

/// One request and how it ended.
struct Call {
    seq: u64,
    started: Instant,
    latency: Duration,
    /// The async route's request id, or the error's kind.
    outcome: Result<Option<String>, String>,
}

/// `POST`s a new order to one route, noting every call.
struct RouteProbe {
    client: HttpClient,
    uri: Uri,
    asynchronous: bool,
    calls: Mutex<Vec<Call>>,
}

impl Probe for RouteProbe {
    async fn call(&self, seq: u64) -> Result<(), CallError> {
        let started = Instant::now();
        let mut body = new_order();
        body[LANE_FIELD] = json!(format!("lane-{}", seq % LANES));
        let body = Bytes::from(body.to_string());
        let result = if self.asynchronous {
            let seq_text = seq.to_string();
            self.client
                .post_json_with_header(&self.uri, (SEQ_HEADER, &seq_text), body)
                .await
        } else {
            self.client.post_json(&self.uri, body).await
        };
        let outcome = match &result {
            Ok(answer) if self.asynchronous => accepted_id(answer).map(Some),
            Ok(_) => Ok(None),
            Err(CallError(kind)) => Err(kind.clone()),
        };
        let failed = outcome.as_ref().err().cloned();
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Call {
                seq,
                started,
                latency: started.elapsed(),
                outcome,
            });
        match failed {
            Some(kind) => Err(CallError(kind)),
            None => Ok(()),
        }
    }
}

fn accepted_id(answer: &[u8]) -> Result<String, String> {
    serde_json::from_slice::<Value>(answer)
        .ok()
        .and_then(|v| v["id"].as_str().map(str::to_owned))
        .ok_or_else(|| "202 without an id".to_owned())
}

/// When A went down and came back.
struct Outage {
    down_at: Instant,
    up_at: Instant,
}

/// What the comparison found, per route.
pub struct Figures {
    timeline: Timeline,
    sync: Vec<Call>,
    asynchronous: Vec<Call>,
    outage: Outage,
    /// Each accepted request's first 2xx answer at A (by its seq).
    completed_at: HashMap<u64, Instant>,
    /// Accepted requests whose `/v1/requests/{id}` shows A's 201.
    verified: usize,
}

/// Runs both routes through the outage. `Err` when A could not be taken
/// down or brought back.
pub async fn run(ctx: &RunContext<'_>, system: &System) -> Result<Figures, String> {
    let timeline = Timeline::new(ctx.profile.quick);
    let plan = timeline.plan();
    system.clear_recordings();
    let probe = |path: &str, asynchronous| {
        Arc::new(RouteProbe {
            client: HttpClient::new(HttpVersion::Http1),
            uri: system.uri(path),
            asynchronous,
            calls: Mutex::new(Vec::new()),
        })
    };
    let (sync, asynchronous) = (probe(SYNC_PATH, false), probe(ASYNC_PATH, true));
    ctx.progress.running(&format!(
        "anti-pattern 4: sync and async routes, A down {:?}",
        timeline.outage
    ));
    let (mut sync_load, mut async_load) = (Measurement::new(), Measurement::new());
    let (sync_wire, async_wire) = (
        sync.client.wire().clone(),
        asynchronous.client.wire().clone(),
    );
    let ((), (), outage) = tokio::join!(
        sync_load.drive(&sync, plan, || sync_wire.total()),
        async_load.drive(&asynchronous, plan, || async_wire.total()),
        take_down(system, &timeline),
    );
    ctx.progress.done(&plan);
    let outage = outage?;
    let asynchronous = take_calls(&asynchronous);
    let completed_at = await_completions(system, &asynchronous, outage.up_at, &timeline).await;
    let verified = verify(system, &asynchronous, &timeline).await;
    Ok(Figures {
        timeline,
        sync: take_calls(&sync),
        asynchronous,
        outage,
        completed_at,
        verified,
    })
}

fn take_calls(probe: &RouteProbe) -> Vec<Call> {
    std::mem::take(&mut *probe.calls.lock().unwrap_or_else(PoisonError::into_inner))
}

/// A down after `before`, back after `outage` (the load started with it).
/// The outage starts when A is told to go down (it stops accepting and
/// drops its open connections, in-flight requests included) and ends once
/// it listens again.
async fn take_down(system: &System, timeline: &Timeline) -> Result<Outage, String> {
    tokio::time::sleep(timeline.before).await;
    let down_at = Instant::now();
    system.set_orders_down(true).await?;
    tokio::time::sleep(timeline.outage).await;
    system.set_orders_down(false).await?;
    Ok(Outage {
        down_at,
        up_at: Instant::now(),
    })
}

/// Waits (up to the deadline) until A has answered 2xx to every request
/// the async route accepted, and returns when it first did, per seq.
async fn await_completions(
    system: &System,
    calls: &[Call],
    up_at: Instant,
    timeline: &Timeline,
) -> HashMap<u64, Instant> {
    let accepted = calls
        .iter()
        .filter(|c| matches!(c.outcome, Ok(Some(_))))
        .count();
    let deadline = up_at + timeline.drain_deadline;
    loop {
        let completed = completions(system);
        if completed.len() >= accepted || Instant::now() >= deadline {
            return completed;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The first 2xx answer A finished, per async seq.
fn completions(system: &System) -> HashMap<u64, Instant> {
    let mut first: HashMap<u64, Instant> = HashMap::new();
    for request in system.orders.control.requests() {
        let Outcome::Completed(status) = request.outcome else {
            continue;
        };
        let seq = request
            .headers
            .get(SEQ_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if let (Some(seq), Some(finished), true) = (seq, request.finished_at, status.is_success()) {
            first
                .entry(seq)
                .and_modify(|at| *at = (*at).min(finished))
                .or_insert(finished);
        }
    }
    first
}

/// How many accepted requests `GET /v1/requests/{id}` shows completed with
/// A's 201 (a pending one is asked again until the deadline: the record
/// is settled just after A answers).
async fn verify(system: &System, calls: &[Call], timeline: &Timeline) -> usize {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + timeline.drain_deadline;
    let mut verified = 0;
    for id in calls
        .iter()
        .filter_map(|c| c.outcome.as_ref().ok().cloned().flatten())
    {
        let url = format!("{}/v1/requests/{id}", system.gateway.base());
        loop {
            let status = client.get(&url).send().await.map(|r| r.status().as_u16());
            match status {
                Ok(201) => {
                    verified += 1;
                    break;
                }
                Ok(202) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                _ => break,
            }
        }
    }
    verified
}
