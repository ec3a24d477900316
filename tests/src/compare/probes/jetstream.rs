//! The events scenario's "raw JetStream" reference row: the same load
//! generator publishing straight to a JetStream stream with async-nats
//! (one publish awaited to its ack per request, the stream on file
//! storage), so the gateway's `kind: nats` publish path can be compared
//! against JetStream itself (goal: at least 0.8×).

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use bytes::Bytes;

use crate::compare::loadgen::{CallError, LoadPlan, Measurement, Probe, Stats};

/// The reference stream and its subject.
pub const RAW_STREAM: &str = "COMPARE_RAW";
const RAW_SUBJECT: &str = "compare.raw";

/// Publishes one event-sized payload per request and awaits its ack.
pub struct RawJetStreamPublish {
    js: jetstream::Context,
    /// The client's byte counters (message payloads in and out, without
    /// the NATS protocol's own bytes).
    statistics: Arc<async_nats::Statistics>,
    payload: Bytes,
}

impl RawJetStreamPublish {
    /// Connects to `url` and (re)creates the reference stream, empty.
    pub async fn connect(url: &str, payload: Bytes) -> Result<Self, String> {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .connect(url)
            .await
            .map_err(|error| format!("NATS connect {url}: {error}"))?;
        let statistics = client.statistics();
        let js = jetstream::new(client);
        let _ = js.delete_stream(RAW_STREAM).await;
        js.create_stream(stream::Config {
            name: RAW_STREAM.to_owned(),
            subjects: vec![RAW_SUBJECT.to_owned()],
            storage: stream::StorageType::File,
            ..Default::default()
        })
        .await
        .map_err(|error| format!("JetStream stream {RAW_STREAM}: {error}"))?;
        Ok(Self {
            js,
            statistics,
            payload,
        })
    }
}

impl Probe for RawJetStreamPublish {
    async fn call(&self, _seq: u64) -> Result<(), CallError> {
        let ack = self
            .js
            .publish(RAW_SUBJECT, self.payload.clone())
            .await
            .map_err(|error| CallError::new(format!("publish: {}", error.kind())))?;
        ack.await
            .map(drop)
            .map_err(|error| CallError::new(format!("ack: {}", error.kind())))
    }
}

/// Raw JetStream publish throughput and latency (p50/p99 in the
/// [`Stats`]) under `plan`, from the comparison's load generator.
pub async fn measure_raw_jetstream_publish(
    url: &str,
    payload: Bytes,
    plan: LoadPlan,
) -> Result<Stats, String> {
    let probe = Arc::new(RawJetStreamPublish::connect(url, payload).await?);
    let mut measurement = Measurement::new();
    let statistics = Arc::clone(&probe.statistics);
    let bytes = move || {
        use std::sync::atomic::Ordering::Relaxed;
        statistics.in_bytes.load(Relaxed) + statistics.out_bytes.load(Relaxed)
    };
    measurement.drive(&probe, plan, bytes).await;
    Ok(measurement.stats())
}
