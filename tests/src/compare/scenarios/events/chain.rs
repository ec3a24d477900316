//! The seed's anti-pattern 2, a synchronous chain against an event: the
//! same order reaching consumers B and C through the chain A→B→C (a
//! sequential composed route: C is called once B has answered), through
//! A's route emitting `OrderPlaced` that B and C subscribe to, and
//! through a client publishing `OrderPlaced` itself. Reported: the
//! latency the client sees (a load generator series per path), and the
//! end-to-end time until both B and C have the order: from the request's
//! send to the later of the two arrivals B and C recorded, on this
//! process's monotonic clock (the mocks run in it).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Uri;
use mock_backends::{RecordedDelivery, SubscriberHandle};
use serde_json::{Value, json};

use super::system::{CHAIN_PATH, EMIT_PATH, PUBLISH_PATH, System, new_order};
use crate::compare::clients::{HttpClient, HttpVersion};
use crate::compare::loadgen::{CallError, LoadMode, LoadPlan, Probe};
use crate::compare::probes::Counted;
use crate::compare::report::{ScenarioReport, Table, TitledTable};
use crate::compare::scenarios::RunContext;

/// The three ways to get an order to B and C.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// `POST` the chain route: A, then B, then C, the client waiting.
    Chain,
    /// `POST` A's route; its 201 emits `OrderPlaced` to B and C.
    Emit,
    /// The client publishes `OrderPlaced` to the topic itself.
    Publish,
}

impl Path {
    pub const ALL: [Path; 3] = [Path::Chain, Path::Emit, Path::Publish];

    pub fn name(self) -> &'static str {
        match self {
            Path::Chain => "anti-pattern 2: sync chain A→B→C",
            Path::Emit => "anti-pattern 2: A, then OrderPlaced to B and C",
            Path::Publish => "anti-pattern 2: publish OrderPlaced to B and C",
        }
    }

    fn route(self) -> &'static str {
        match self {
            Path::Chain => CHAIN_PATH,
            Path::Emit => EMIT_PATH,
            Path::Publish => PUBLISH_PATH,
        }
    }
}

/// The plan of each path: a steady open loop (each chain request takes
/// 120 ms or more, so about three in flight).
pub fn plan(quick: bool) -> LoadPlan {
    if quick {
        LoadPlan::open(10.0, Duration::from_millis(600), Duration::from_millis(300))
    } else {
        LoadPlan::open(20.0, Duration::from_secs(8), Duration::from_secs(1))
    }
}

/// The number of the first request an open loop `plan` measures: request
/// `n` is sent at `n / rate`, and those sent in the warm-up are not.
fn first_measured(plan: &LoadPlan) -> u64 {
    match plan.mode {
        LoadMode::Open { rate } => (plan.warmup.as_secs_f64() * rate).ceil() as u64,
        LoadMode::Closed { .. } => 0,
    }
}

/// Sends one order along one path and notes, for the measured requests,
/// the subject B and C will see it under and when it was sent.
struct PathProbe {
    client: HttpClient,
    uri: Uri,
    path: Path,
    /// Requests numbered below this start in the warm-up.
    first_measured: u64,
    sent: Mutex<Vec<(String, Instant)>>,
}

impl Probe for PathProbe {
    async fn call(&self, seq: u64) -> Result<(), CallError> {
        let started = Instant::now();
        let published = format!("publish-{seq}");
        let body = match self.path {
            Path::Publish => json!({
                "type": "OrderPlaced",
                "source": "/orders-service",
                "subject": published,
                "data": { "order_id": published },
            }),
            Path::Chain | Path::Emit => new_order(),
        };
        let answer = self
            .client
            .post_json(&self.uri, Bytes::from(body.to_string()))
            .await?;
        let subject = match self.path {
            Path::Publish => published,
            Path::Chain => order_id(&answer, "/a/id")?,
            Path::Emit => order_id(&answer, "/id")?,
        };
        if seq >= self.first_measured {
            self.sent
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((subject, started));
        }
        Ok(())
    }
}

/// The created order's id, at `pointer` in the answer.
fn order_id(answer: &[u8], pointer: &str) -> Result<String, CallError> {
    serde_json::from_slice::<Value>(answer)
        .ok()
        .and_then(|v| {
            v.pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .ok_or_else(|| CallError::new(format!("no order id at {pointer} in the answer")))
}

/// One path's figures for the table.
pub struct Row {
    path: Path,
    client_p50: f64,
    client_p99: f64,
    /// Milliseconds from send until both B and C had the order, sorted.
    both_have_it: Vec<f64>,
    sent: usize,
}

/// Runs every path as a series of `report`; returns the table rows.
pub async fn run(ctx: &RunContext<'_>, system: &System, report: &mut ScenarioReport) -> Vec<Row> {
    let plan = plan(ctx.profile.quick);
    let mut rows = Vec::new();
    for path in Path::ALL {
        system.clear_recordings();
        let client = HttpClient::new(HttpVersion::Http1);
        let probe = PathProbe {
            client: client.clone(),
            uri: system.uri(path.route()),
            path,
            first_measured: first_measured(&plan),
            sent: Mutex::new(Vec::new()),
        };
        let probe = Counted::new(probe, client.wire());
        let stats = ctx.measure(path.name(), &probe, plan).await;
        let sent = std::mem::take(
            &mut *probe
                .probe
                .sent
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        let both_have_it = both_have_it(system, &sent).await;
        rows.push(Row {
            path,
            client_p50: stats.p50,
            client_p99: stats.p99,
            both_have_it,
            sent: sent.len(),
        });
        report.measured(path.name(), "HTTP/1.1", plan, stats);
    }
    rows
}

/// How long B and C get to record the last orders after the load ends.
const DELIVERY_WAIT: Duration = Duration::from_secs(10);

/// For each order sent (subject, send time) that both B and C received
/// within [`DELIVERY_WAIT`], the time from its send to the later of the
/// two first arrivals, in ms, sorted.
async fn both_have_it(system: &System, sent: &[(String, Instant)]) -> Vec<f64> {
    let b = arrivals(&system.inventory, sent).await;
    let c = arrivals(&system.notification, sent).await;
    let mut times: Vec<f64> = sent
        .iter()
        .filter_map(|(subject, started)| {
            let last = (*b.get(subject)?).max(*c.get(subject)?);
            Some(last.saturating_duration_since(*started).as_secs_f64() * 1000.0)
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times
}

/// The first arrival of each sent subject at `consumer`, waiting up to
/// [`DELIVERY_WAIT`] for all of them.
async fn arrivals(
    consumer: &SubscriberHandle,
    sent: &[(String, Instant)],
) -> HashMap<String, Instant> {
    let wanted = sent.len();
    let all_arrived =
        |deliveries: &[RecordedDelivery]| first_arrivals(deliveries, sent).len() == wanted;
    let deliveries = match tokio::time::timeout(DELIVERY_WAIT, consumer.wait_for(all_arrived)).await
    {
        Ok(deliveries) => deliveries,
        Err(_) => consumer.deliveries(),
    };
    first_arrivals(&deliveries, sent)
}

fn first_arrivals(
    deliveries: &[RecordedDelivery],
    sent: &[(String, Instant)],
) -> HashMap<String, Instant> {
    let mut first: HashMap<String, Instant> = HashMap::new();
    let wanted: std::collections::HashSet<&str> = sent.iter().map(|(s, _)| s.as_str()).collect();
    for delivery in deliveries {
        let (Some(subject), Some(arrived)) = (&delivery.subject, delivery.arrived) else {
            continue;
        };
        if wanted.contains(subject.as_str()) {
            first
                .entry(subject.clone())
                .and_modify(|at| *at = (*at).min(arrived))
                .or_insert(arrived);
        }
    }
    first
}

/// The value at quantile `q` of sorted `values` (nearest rank).
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let rank = ((last as f64) * q).round() as usize;
    sorted.get(rank.min(last)).copied()
}

fn ms(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"))
}

/// The comparison table and its notes.
pub fn table(rows: &[Row]) -> (TitledTable, Vec<String>) {
    let columns = [
        "path",
        "client p50 ms",
        "client p99 ms",
        "B and C have it: p50 ms",
        "p99 ms",
        "max ms",
        "orders (both received / sent)",
    ];
    let table = Table {
        columns: columns.map(str::to_owned).to_vec(),
        rows: rows
            .iter()
            .map(|row| {
                vec![
                    row.path
                        .name()
                        .trim_start_matches("anti-pattern 2: ")
                        .to_owned(),
                    format!("{:.1}", row.client_p50),
                    format!("{:.1}", row.client_p99),
                    ms(quantile(&row.both_have_it, 0.5)),
                    ms(quantile(&row.both_have_it, 0.99)),
                    ms(row.both_have_it.last().copied()),
                    format!("{} / {}", row.both_have_it.len(), row.sent),
                ]
            })
            .collect(),
    };
    let mut notes = vec![floors_note()];
    for row in rows.iter().filter(|row| row.both_have_it.len() < row.sent) {
        notes.push(format!(
            "anti-pattern 2, {}: only {} of {} orders reached both B and C within {DELIVERY_WAIT:?}",
            row.path.name(),
            row.both_have_it.len(),
            row.sent
        ));
    }
    (
        TitledTable {
            title: "Anti-pattern 2: synchronous chain against an event".to_owned(),
            table,
        },
        notes,
    )
}

fn floors_note() -> String {
    use super::system::processing;
    use mock_backends::{ServiceKind, SubscriberKind};
    let a = ServiceKind::OrdersRest.seed_latency().as_millis();
    let b = processing(SubscriberKind::Inventory).as_millis();
    let c = processing(SubscriberKind::Notification).as_millis();
    format!(
        "anti-pattern 2 floors: A {a} ms, B {b} ms, C {c} ms of work. Chain: the client waits \
         {} ms, C has the order after {} ms (A and B); event: the client waits A's {a} ms plus \
         the durable write, B and C get the order together once it is delivered (their work \
         is not on anyone's path). \"Have it\" is the consumer's recorded arrival, for the chain \
         as for the events",
        a + b + c,
        a + b
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_requests_are_not_measured() {
        let plan = LoadPlan::open(20.0, Duration::from_secs(8), Duration::from_secs(1));
        assert_eq!(first_measured(&plan), 20);
        let closed = LoadPlan::closed(4, Duration::from_secs(1), Duration::from_secs(1));
        assert_eq!(first_measured(&closed), 0);
    }

    #[test]
    fn quantiles_are_nearest_rank_of_the_sorted_values() {
        let values: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&values, 0.5), Some(51.0));
        assert_eq!(quantile(&values, 0.99), Some(99.0));
        assert_eq!(quantile(&values, 1.0), Some(100.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn the_first_arrival_of_each_wanted_subject_counts() {
        let now = Instant::now();
        let later = now + Duration::from_millis(5);
        let delivery = |subject: &str, arrived: Instant| RecordedDelivery {
            id: subject.to_owned(),
            event_type: "OrderPlaced".to_owned(),
            source: "/s".to_owned(),
            subject: Some(subject.to_owned()),
            attempt: 1,
            traceparent: None,
            headers: Default::default(),
            body: Value::Null,
            raw_body: Default::default(),
            received_at: String::new(),
            received_ms: 0.0,
            status: 200,
            duplicate: false,
            ignored: false,
            arrived: Some(arrived),
        };
        let deliveries = [
            delivery("a", later),
            delivery("a", now),
            delivery("other", now),
        ];
        let sent = [("a".to_owned(), now), ("b".to_owned(), now)];
        let first = first_arrivals(&deliveries, &sent);
        assert_eq!(first.len(), 1);
        assert_eq!(first["a"], now);
    }

    #[test]
    fn order_ids_are_read_where_each_route_answers_them() {
        let chain = br#"{"a":{"id":"o-1"},"b":{},"c":{}}"#;
        assert_eq!(order_id(chain, "/a/id").unwrap(), "o-1");
        assert_eq!(order_id(br#"{"id":"o-2"}"#, "/id").unwrap(), "o-2");
        assert!(order_id(b"not json", "/id").is_err());
    }
}
