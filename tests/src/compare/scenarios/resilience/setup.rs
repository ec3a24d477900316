//! The resilience scenario's system: two users mock instances on a
//! runtime of their own, and a gateway of its own in front of them with
//! three backends over the same two URLs, one per configuration compared,
//! each behind its own path prefix.

use std::path::Path;
use std::sync::Arc;

use gateway::runtime::{self, RunningGateway, StartOptions};
use mock_backends::{Faults, ServiceHandle, ServiceKind, Store};
use serde_json::Value;
use tokio::runtime::Runtime;

use crate::compare::environment::SERVER_THREADS;
use crate::compare::scenarios::MocksRuntime;

/// The compared configurations: label, and backend name (also the path
/// prefix).
pub const CONFIGS: [(&str, &str); 3] = [
    ("none", "none"),
    ("retries", "retries"),
    ("retries + breaker + health checks", "breaker"),
];

const RETRY_POLICY: &str =
    "    retry: { max_attempts: 3, retry_on: [connect_failure, reset, 5xx], \
backoff: { base: 5ms, max: 50ms } }
    retry_budget: { ratio: 0.2, min_per_second: 10 }
";

/// The resilience keys of `backend`.
fn backend_keys(backend: &str) -> String {
    match backend {
        // No retries, no ejection: what the faults do unmitigated.
        "none" => {
            "    retry: { max_attempts: 1 }\n    ejection: { max_ejection_percent: 0 }\n".to_owned()
        }
        // Retries within the budget, still no ejection.
        "retries" => format!("{RETRY_POLICY}    ejection: {{ max_ejection_percent: 0 }}\n"),
        // Retries, outlier ejection (the defaults), the circuit breaker and
        // active health checks (a down endpoint leaves the balancer on its
        // checks, before client requests find it).
        _ => format!(
            "{RETRY_POLICY}    circuit_breaker: {{ open_for: 2s }}\n    \
             health_check: {{ http: {{ path: /healthz }}, interval: 500ms, jitter: 100ms }}\n"
        ),
    }
}

/// The mocks and the gateway of one fault condition.
pub struct Setup {
    pub endpoints: [ServiceHandle; 2],
    pub gateway: RunningGateway,
    _runtime: MocksRuntime,
}

impl Setup {
    /// Starts two users instances on `store` and a gateway whose config
    /// is written into `dir`.
    pub async fn start(dir: &Path, store: &Arc<Store>) -> Result<Setup, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("compare-resilience-mocks")
            .enable_all()
            .build()
            .map_err(|e| format!("mocks runtime: {e}"))?;
        let mut endpoints = Vec::new();
        for _ in 0..2 {
            let started = runtime.spawn(mock_backends::start_service(
                ServiceKind::Users,
                "127.0.0.1:0".parse().expect("an address"),
                Arc::clone(store),
                Faults::none_for(ServiceKind::Users),
            ));
            match started.await {
                Ok(Ok(handle)) => endpoints.push(handle),
                Ok(Err(e)) => return Err(stop(runtime, format!("users mock: {e}"))),
                Err(e) => return Err(stop(runtime, format!("users mock: {e}"))),
            }
        }
        let [a, b]: [ServiceHandle; 2] = endpoints
            .try_into()
            .map_err(|_| "two users mocks".to_owned())?;
        let path = dir.join("resilience-routes.yaml");
        std::fs::write(&path, config(&a.url(), &b.url()))
            .map_err(|e| format!("write {}: {e}", path.display()))?;
        let mut options = StartOptions::new(&path).ephemeral();
        options.watch = false;
        options.workers = Some(SERVER_THREADS);
        options.thread_name = "compare-resilience".to_owned();
        match runtime::start(options).await {
            Ok(gateway) => Ok(Setup {
                endpoints: [a, b],
                gateway,
                _runtime: MocksRuntime(Some(runtime)),
            }),
            Err(e) => Err(stop(runtime, format!("gateway: {e}"))),
        }
    }

    /// `http://gateway/{backend}/v1/users/{id}` for every seeded customer.
    pub fn uris(&self, backend: &str) -> Vec<http::Uri> {
        mock_backends::seed::customer_ids()
            .iter()
            .filter_map(|id| {
                format!("http://{}/{backend}/v1/users/{id}", self.gateway.addr)
                    .parse()
                    .ok()
            })
            .collect()
    }

    /// Requests the two mocks recorded (connections refused are not).
    pub fn recorded(&self) -> u64 {
        self.endpoints
            .iter()
            .map(|e| e.control.request_count() as u64)
            .sum()
    }

    pub fn clear_recordings(&self) {
        self.endpoints
            .iter()
            .for_each(|e| e.control.clear_requests());
    }

    /// The connect failures the gateway counted on `backend`'s endpoints
    /// (attempts the mocks could not record), from `/upstreams`.
    pub async fn connect_failures(&self, backend: &str) -> u64 {
        let url = format!("http://{}/upstreams", self.gateway.admin_addr);
        let Ok(response) = reqwest::get(url).await else {
            return 0;
        };
        let state: Value = response.json().await.unwrap_or_default();
        state[backend]["endpoints"]
            .as_array()
            .map_or(0, |endpoints| {
                endpoints
                    .iter()
                    .filter_map(|e| e["connect_failures"].as_u64())
                    .sum()
            })
    }

    /// Stops the gateway, then the mocks.
    pub async fn stop(self) {
        self.gateway.shutdown().await;
    }
}

fn stop(runtime: Runtime, reason: String) -> String {
    runtime.shutdown_background();
    reason
}

fn config(a: &str, b: &str) -> String {
    let mut yaml = String::from("backends:\n");
    for (_, name) in CONFIGS {
        let keys = backend_keys(name);
        yaml.push_str(&format!("  {name}:\n    urls: [{a}, {b}]\n{keys}"));
    }
    yaml.push_str("routes:\n");
    for (_, name) in CONFIGS {
        yaml.push_str(&format!(
            "  - path: /{name}/v1/users/{{id}}\n    backend: {name}\n    rewrite: {{ strip_prefix: /{name} }}\n"
        ));
    }
    yaml
}
