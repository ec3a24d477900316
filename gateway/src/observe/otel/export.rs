//! The OTLP exporter and the thread it runs on.
//!
//! The batch span processor exports from a thread of its own, outside any
//! tokio runtime, while both OTLP clients need one: tonic's channel and
//! the gateway's hyper client. So the pipeline starts one small
//! current-thread runtime on a dedicated thread (`otel-export`) that
//! serves every export; a serving worker never does export I/O, and the
//! runtime outlives whichever runtime installed the pipeline (tests start
//! one per test).

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use opentelemetry_http::{HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::tonic_types::metadata::MetadataMap;
use opentelemetry_otlp::{
    Protocol, SpanExporter, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use super::OtelError;
use crate::config::model::{ExporterSettings, OtlpProtocol};

/// A collector's answer is small; anything larger is refused.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The `otel-export` thread and its runtime; stopped when dropped.
#[derive(Debug)]
pub(super) struct ExportRuntime {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ExportRuntime {
    pub(super) fn start() -> Result<Self, OtelError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(OtelError::Runtime)?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("otel-export".to_owned())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                });
            })
            .map_err(OtelError::Runtime)?;
        Ok(Self {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Builds the configured exporter inside the runtime (tonic's channel
    /// spawns its worker there).
    pub(super) fn exporter(&self, settings: &ExporterSettings) -> Result<SpanExporter, OtelError> {
        let _entered = self.handle.enter();
        let built = match settings.protocol {
            OtlpProtocol::Grpc => SpanExporter::builder()
                .with_tonic()
                .with_endpoint(settings.endpoint.clone())
                .with_timeout(settings.timeout)
                .with_metadata(metadata(&settings.headers))
                .build(),
            OtlpProtocol::HttpProtobuf => SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(settings.endpoint.clone())
                .with_timeout(settings.timeout)
                .with_headers(settings.headers.iter().cloned().collect::<HashMap<_, _>>())
                .with_http_client(RuntimeHttpClient::new(
                    self.handle.clone(),
                    settings.timeout,
                ))
                .build(),
        };
        built.map_err(|error| OtelError::Exporter(error.to_string()))
    }
}

impl Drop for ExportRuntime {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn metadata(headers: &[(String, String)]) -> MetadataMap {
    let mut map = http::HeaderMap::new();
    for (name, value) in headers {
        // Both were validated when the config was compiled.
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            map.append(name, value);
        }
    }
    MetadataMap::from_headers(map)
}

/// OTLP/HTTP through the gateway's own hyper client, each request run on
/// the export runtime (the caller, the batch processor's thread, has none).
#[derive(Debug, Clone)]
struct RuntimeHttpClient {
    handle: Handle,
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl RuntimeHttpClient {
    fn new(handle: Handle, timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(timeout));
        Self {
            handle,
            client: Client::builder(TokioExecutor::new()).build(connector),
            timeout,
        }
    }
}

#[async_trait::async_trait]
impl HttpClient for RuntimeHttpClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let timeout = self.timeout;
        let exchange = async move {
            let response = client.request(request.map(Full::new)).await?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, MAX_RESPONSE_BYTES)
                .collect()
                .await?
                .to_bytes();
            Ok::<_, HttpError>(Response::from_parts(parts, body))
        };
        self.handle
            .spawn(async move {
                tokio::time::timeout(timeout, exchange)
                    .await
                    .map_err(|_| HttpError::from("the OTLP/HTTP export timed out"))?
            })
            .await?
    }
}
