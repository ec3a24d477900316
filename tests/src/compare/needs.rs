//! What a scenario or one of its series needs from the build it runs in:
//! a gateway route (a feature that may not have landed yet) or an external
//! program (nginx, HAProxy). A missing need skips the series with a reason
//! instead of failing the run.

use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// One requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Need {
    /// The gateway routes `method path` (the feature named `feature`).
    Route {
        feature: &'static str,
        method: Method,
        path: String,
    },
    /// An executable on `PATH`.
    Program(&'static str),
}

impl Need {
    /// `None` when met, else why not.
    pub async fn check(&self, gateway_base: &str) -> Option<String> {
        match self {
            Need::Route {
                feature,
                method,
                path,
            } => match route_answer(gateway_base, method, path).await {
                Ok(()) => None,
                Err(why) => Some(format!("{feature} is not in this build: {why}")),
            },
            Need::Program(name) => find_program(name)
                .is_none()
                .then(|| format!("{name} is not installed (not found on PATH)")),
        }
    }
}

/// The first unmet need's reason.
pub async fn first_unmet(needs: &[Need], gateway_base: &str) -> Option<String> {
    for need in needs {
        if let Some(reason) = need.check(gateway_base).await {
            return Some(reason);
        }
    }
    None
}

/// A route exists unless the gateway answers 404 `NO_ROUTE` or 405.
async fn route_answer(base: &str, method: &Method, path: &str) -> Result<(), String> {
    let client: Client<HttpConnector, Empty<bytes::Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let request = Request::builder()
        .method(method.clone())
        .uri(format!("{base}{path}"))
        .body(Empty::new())
        .map_err(|e| e.to_string())?;
    let response = client.request(request).await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let no_route =
        status == StatusCode::NOT_FOUND && String::from_utf8_lossy(&body).contains("\"NO_ROUTE\"");
    if no_route {
        Err(format!("routes.yaml has no route for {method} {path}"))
    } else if status == StatusCode::METHOD_NOT_ALLOWED {
        Err(format!("routes.yaml does not allow {method} on {path}"))
    } else {
        Ok(())
    }
}

/// The full path of an executable on `PATH` (or an absolute path).
pub fn find_program(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}
