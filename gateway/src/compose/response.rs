//! The client's response: the response template rendered over the calls'
//! values, plus `_meta.errors` and `x-gateway-partial: true` when optional
//! calls failed.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use serde_json::{Value, json};

use super::execute::Execution;
use super::plan::ComposePlan;
use crate::body::{self, GatewayBody};
use crate::router::Params;
use crate::template::eval::Bindings;
use crate::template::value::Strictness;

/// Set on responses in which at least one optional call failed.
pub const PARTIAL_HEADER: &str = "x-gateway-partial";
/// `hit` when the composed response came from the response cache.
pub const CACHE_HEADER: &str = "x-gateway-cache";

/// The rendered body, and whether it is partial.
pub fn render_body(plan: &ComposePlan, execution: &Execution, params: &Params) -> (Bytes, bool) {
    let bindings = Bindings {
        params,
        results: &execution.results,
    };
    let mut value = plan
        .response
        .render(&bindings, Strictness::Lenient)
        .unwrap_or(Value::Null);
    let partial = !execution.failures.is_empty();
    if partial && let Value::Object(object) = &mut value {
        let errors: Vec<Value> = execution
            .failures
            .iter()
            .map(|(index, failure)| failure.to_meta(&plan.calls[*index].name))
            .collect();
        object.insert("_meta".to_owned(), json!({ "errors": errors }));
    }
    (Bytes::from(value.to_string()), partial)
}

/// A 200 JSON response.
pub fn json_response(body: Bytes, partial: bool, cache_hit: bool) -> Response<GatewayBody> {
    let mut response = Response::new(body::full(body));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if partial {
        headers.insert(PARTIAL_HEADER, HeaderValue::from_static("true"));
    }
    if cache_hit {
        headers.insert(CACHE_HEADER, HeaderValue::from_static("hit"));
    }
    response
}
