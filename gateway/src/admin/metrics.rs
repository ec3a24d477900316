//! `GET /metrics`: the gateway's [`Metrics`] plus what is read at scrape
//! time from state that already exists elsewhere (a collector, so nothing
//! on the request path counts it twice): each upstream endpoint's health,
//! each worker's open connections, the reload history and the config
//! version.

use std::sync::Arc;

use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use serde_json::json;

use super::{AdminState, json_response};
use crate::body::{self, GatewayBody};
use crate::observe::metrics::{CONTENT_TYPE as PROMETHEUS_TEXT, Metrics};
use crate::reload::Reloader;
use crate::upstream::EndpointState;
use crate::workers::WorkerLoad;

/// The scrape, or 404 when metrics are disabled.
pub(super) fn scrape(state: &AdminState) -> Response<GatewayBody> {
    let Some(metrics) = &state.metrics else {
        return json_response(
            StatusCode::NOT_FOUND,
            json!({"error": {"code": "METRICS_DISABLED", "message": "metrics are disabled (metrics.enabled: false in the config)"}}),
        );
    };
    match render(metrics, &state.reloader, &state.workers) {
        Ok(text) => {
            let mut response = Response::new(body::full(text));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(PROMETHEUS_TEXT));
            response
        }
        Err(std::fmt::Error) => {
            tracing::error!("encoding the metrics failed");
            json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": {"code": "METRICS_FAILED", "message": "the metrics could not be encoded"}}),
            )
        }
    }
}

fn render(
    metrics: &Metrics,
    reloader: &Arc<Reloader>,
    workers: &WorkerLoad,
) -> Result<String, std::fmt::Error> {
    let mut text = String::new();
    metrics.encode(&mut text)?;
    let mut registry = Registry::default();
    registry.register_collector(Box::new(GatewayState {
        reloader: Arc::clone(reloader),
        workers: workers.clone(),
    }));
    prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)?;
    Ok(text)
}

/// Reads the gateway's live state at scrape time.
#[derive(Debug)]
struct GatewayState {
    reloader: Arc<Reloader>,
    workers: WorkerLoad,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    backend: String,
    endpoint: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WorkerLabels {
    worker: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

/// One metric family: a descriptor, then one sample per label set.
fn family<L: EncodeLabelSet, M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    samples: impl IntoIterator<Item = (L, M)>,
) -> std::fmt::Result {
    let mut samples = samples.into_iter().peekable();
    let Some((_, first)) = samples.peek() else {
        return Ok(());
    };
    let mut metric = encoder.encode_descriptor(name, help, None, first.metric_type())?;
    for (labels, sample) in samples {
        sample.encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for GatewayState {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::fmt::Result {
        self.encode_endpoints(&mut encoder)?;
        let open = self.workers.open_connections();
        family(
            &mut encoder,
            "gateway_worker_open_connections",
            "Client connections open on each worker",
            open.iter().enumerate().map(|(index, open)| {
                let labels = WorkerLabels {
                    worker: index.to_string(),
                };
                (labels, ConstGauge::new(saturating_i64(*open)))
            }),
        )?;
        let rejected = ConstCounter::new(self.workers.rejected_connections());
        rejected.encode(encoder.encode_descriptor(
            "gateway_connections_rejected",
            "Client connections closed at accept because a connection limit was reached",
            None,
            rejected.metric_type(),
        )?)?;
        self.encode_reloads(&mut encoder)?;
        self.encode_certificates(&mut encoder)?;
        self.encode_rate_limit_store(&mut encoder)
    }
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CertificateLabels {
    /// The certificate file's path (resolved from routes.yaml's directory).
    certificate: String,
    /// The first name it is served for (empty when it has none).
    server_name: String,
}

/// A certificate's notAfter, in seconds since the Unix epoch; `None` when
/// the DER does not parse (it did when the config loaded).
fn not_after(der: &[u8]) -> Option<i64> {
    let (_, certificate) = x509_parser::parse_x509_certificate(der).ok()?;
    Some(certificate.validity().not_after.timestamp())
}

impl GatewayState {
    fn encode_endpoints(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let snapshot = self.reloader.current();
        let states: Vec<_> = snapshot
            .upstreams
            .iter()
            .flat_map(|(backend, pool)| {
                pool.endpoint_states().into_iter().map(move |state| {
                    let labels = EndpointLabels {
                        backend: backend.to_owned(),
                        endpoint: state.url.clone(),
                    };
                    (labels, state)
                })
            })
            .collect();
        let counter = |value: fn(&EndpointState) -> u64| {
            states
                .iter()
                .map(move |(labels, state)| (labels.clone(), ConstCounter::new(value(state))))
        };
        let gauge = |value: fn(&EndpointState) -> i64| {
            states
                .iter()
                .map(move |(labels, state)| (labels.clone(), ConstGauge::new(value(state))))
        };
        family(
            encoder,
            "gateway_upstream_connect_errors",
            "Upstream connection attempts that failed, by backend and endpoint",
            counter(|state| state.connect_failures),
        )?;
        family(
            encoder,
            "gateway_upstream_ejections",
            "Times an endpoint was taken out of rotation by passive ejection",
            counter(|state| state.ejections),
        )?;
        family(
            encoder,
            "gateway_upstream_endpoint_ejected",
            "1 while an endpoint is ejected, else 0",
            gauge(|state| i64::from(state.ejected)),
        )?;
        family(
            encoder,
            "gateway_upstream_endpoint_unhealthy",
            "1 while active health checks hold an endpoint out (unhealthy, or pending its first check), else 0",
            gauge(|state| {
                i64::from(matches!(
                    state.health,
                    crate::upstream::HealthStatus::Unhealthy
                        | crate::upstream::HealthStatus::Pending
                ))
            }),
        )?;
        family(
            encoder,
            "http_client_active_requests",
            "Upstream requests in flight, by backend and endpoint",
            gauge(|state| saturating_i64(state.in_flight)),
        )
    }

    /// When each certificate the TLS listener serves expires, read from
    /// the running config (a rotated certificate shows at once).
    fn encode_certificates(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let snapshot = self.reloader.current();
        let Some(tls) = snapshot.config.server.tls.as_deref() else {
            return Ok(());
        };
        let samples: Vec<_> = tls
            .certificates
            .iter()
            .filter_map(|certificate| {
                let leaf = certificate.identity.chain.first()?;
                let labels = CertificateLabels {
                    certificate: certificate.identity.cert_path.display().to_string(),
                    server_name: certificate
                        .server_names
                        .first()
                        .cloned()
                        .unwrap_or_default(),
                };
                Some((labels, ConstGauge::new(not_after(leaf)?)))
            })
            .collect();
        family(
            encoder,
            "gateway_tls_certificate_expiry_timestamp_seconds",
            "When each certificate the TLS listener serves expires (its notAfter, seconds since the Unix epoch); alert on it minus time()",
            samples,
        )
    }

    /// The Redis store of the rate limits, when a limit uses it.
    fn encode_rate_limit_store(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let snapshot = self.reloader.current();
        let Some(store) = snapshot.policy_runtime.rate_limits.redis() else {
            return Ok(());
        };
        let up = ConstGauge::new(i64::from(store.is_up()));
        up.encode(encoder.encode_descriptor(
            "gateway_rate_limit_redis_up",
            "1 while the rate limits' Redis answered the last check in time, else 0",
            None,
            up.metric_type(),
        )?)?;
        let failures = ConstCounter::new(store.fallbacks());
        failures.encode(encoder.encode_descriptor(
            "gateway_rate_limit_redis_failures",
            "Rate-limit checks Redis did not answer in time (answered by the failure mode: the local fallback, or a refusal)",
            None,
            failures.metric_type(),
        )?)
    }

    fn encode_reloads(&self, encoder: &mut DescriptorEncoder) -> std::fmt::Result {
        let status = self.reloader.status();
        family(
            encoder,
            "gateway_config_reloads",
            "Config reloads by result (applied, unchanged, rejected)",
            [
                ("applied", status.applied),
                ("unchanged", status.unchanged),
                ("rejected", status.rejected),
            ]
            .map(|(result, count)| (ResultLabels { result }, ConstCounter::new(count))),
        )?;
        let version =
            ConstGauge::new(i64::try_from(self.reloader.current().version).unwrap_or(i64::MAX));
        version.encode(encoder.encode_descriptor(
            "gateway_config_version",
            "The version of the config serving now (1 at start, +1 per applied reload)",
            None,
            version.metric_type(),
        )?)?;
        let successful = ConstGauge::new(i64::from(status.last_error.is_none()));
        successful.encode(encoder.encode_descriptor(
            "gateway_config_last_reload_successful",
            "0 when the latest reload attempt was rejected, else 1",
            None,
            successful.metric_type(),
        )?)
    }
}

fn saturating_i64(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
