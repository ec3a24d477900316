//! `emit` (policy slot 5): a route's `emit:` events, published after a
//! response whose status emits (every 2xx by default).
//!
//! When any of the route's templates reads `request`, the request body is
//! read whole first (bounded by the route's `max_body`, whose 413 it keeps)
//! and handed on as it was. A response whose status emits is read whole
//! (at most [`MAX_RESPONSE_BODY`]), the events are rendered and handed to
//! the store or its outbox ([`crate::events::emit`]), and only then is the
//! response released with the same status, headers and body. An emission
//! never fails the request: a template that cannot be rendered, a response
//! body over the bound, or a store and outbox that both fail are logged
//! and counted, and the client gets its response.
//!
//! An `async:` route's 202 (`Preference-Applied: respond-async`) emits
//! nothing here: its worker emits once the backend has answered.

use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::StreamExt;
use futures::future::BoxFuture;
use http::{Request, Response};
use http_body_util::BodyExt;
use tower::{Layer, Service};

use crate::body::{self, GatewayBody};
use crate::client_body::RequestBodyFault;
use crate::config::model::RouteSpec;
use crate::config::model::events::EmitSpec;
use crate::context::RequestContext;
use crate::edge_error::GatewayError;
use crate::events::async_route::prefer::PREFERENCE_APPLIED;
use crate::events::bus::EventBus;
use crate::events::emit::{EmitInputs, emit_all, json_body};
use crate::pipeline::{PolicyLayer, RouteService};
use crate::router::Params;

/// Largest response body an emitting response is read into; a larger one
/// is sent on as it streams, and its events are not emitted (logged).
pub const MAX_RESPONSE_BODY: usize = 1 << 20;

/// The route's `emit` layer, when it has `emit:` and the gateway runs an
/// event bus.
pub fn emit_layer(route: &RouteSpec, bus: Option<&Arc<EventBus>>) -> Option<PolicyLayer> {
    if route.emit.is_empty() {
        return None;
    }
    let bus = bus?;
    Some(PolicyLayer::new(
        "emit",
        EmitLayer {
            emits: Arc::new(Emits {
                reads_request: route.emit.iter().any(|spec| spec.reads_request()),
                specs: route.emit.clone(),
                route: route.name.clone(),
                bus: Arc::clone(bus),
            }),
        },
    ))
}

#[derive(Debug)]
struct Emits {
    specs: Vec<Arc<EmitSpec>>,
    reads_request: bool,
    route: String,
    bus: Arc<EventBus>,
}

#[derive(Clone)]
struct EmitLayer {
    emits: Arc<Emits>,
}

impl Layer<RouteService> for EmitLayer {
    type Service = Emit;

    fn layer(&self, inner: RouteService) -> Self::Service {
        Emit {
            inner,
            emits: Arc::clone(&self.emits),
        }
    }
}

#[derive(Clone)]
struct Emit {
    inner: RouteService,
    emits: Arc<Emits>,
}

impl Service<Request<GatewayBody>> for Emit {
    type Response = Response<GatewayBody>;
    type Error = GatewayError;
    type Future = BoxFuture<'static, Result<Response<GatewayBody>, GatewayError>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), GatewayError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<GatewayBody>) -> Self::Future {
        let inner = self.inner.clone();
        let emits = Arc::clone(&self.emits);
        Box::pin(async move { emits.serve(inner, request).await })
    }
}

impl Emits {
    async fn serve(
        &self,
        inner: RouteService,
        request: Request<GatewayBody>,
    ) -> Result<Response<GatewayBody>, GatewayError> {
        let (params, traceparent) = request_inputs(&request);
        let (request, request_json) = if self.reads_request {
            let (head, body) = request.into_parts();
            let bytes = read_request_body(body).await?;
            let json = json_body(&bytes);
            (Request::from_parts(head, body::full(bytes)), json)
        } else {
            (request, None)
        };
        let response = crate::pipeline::policy::call_ready(inner, request).await?;
        let status = response.status().as_u16();
        if response.headers().contains_key(&PREFERENCE_APPLIED)
            || !self.specs.iter().any(|spec| spec.emits_on(status))
        {
            return Ok(response);
        }
        let (head, body) = response.into_parts();
        let bytes = match read_response_body(body).await {
            ResponseBody::Whole(bytes) => bytes,
            ResponseBody::TooLarge(body) => {
                tracing::warn!(route = %self.route, "response body over {MAX_RESPONSE_BODY} bytes: its events are not emitted");
                return Ok(Response::from_parts(head, body));
            }
            ResponseBody::Failed(error) => {
                // The client would see the same failure; no event for a
                // response that did not arrive whole.
                tracing::warn!(route = %self.route, %error, "the response body failed: its events are not emitted");
                return Ok(Response::from_parts(head, body::full(Bytes::new())));
            }
        };
        let response_json = json_body(&bytes);
        let inputs = EmitInputs {
            params: &params,
            request: request_json.as_ref(),
            response: response_json.as_ref(),
            traceparent: traceparent.as_deref(),
        };
        emit_all(&self.bus, &self.route, &self.specs, status, &inputs, |_| {
            None
        })
        .await;
        Ok(Response::from_parts(head, body::full(bytes)))
    }
}

/// The path parameters and the trace context the events carry.
fn request_inputs(request: &Request<GatewayBody>) -> (Params, Option<String>) {
    let params = request
        .extensions()
        .get::<RequestContext>()
        .map(|ctx| ctx.params.clone())
        .unwrap_or_default();
    let mut injected = http::HeaderMap::new();
    crate::observe::trace_context::inject(&mut injected, request.extensions().get());
    let traceparent = injected
        .get("traceparent")
        .or_else(|| request.headers().get("traceparent"))
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    (params, traceparent)
}

/// The whole request body; its faults (over `max_body`, malformed
/// chunking) are the client's 413 or 400.
async fn read_request_body(mut body: GatewayBody) -> Result<Bytes, GatewayError> {
    // Frame by frame, not `collect()`: its future is not `Send` for every
    // lifetime of the boxed error, which the pipeline's futures must be.
    let mut collected = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    collected.extend_from_slice(&data);
                }
            }
            Err(error) => return Err(body_fault(&error).into()),
        }
    }
    Ok(collected.freeze())
}

fn body_fault(error: &crate::body::BoxError) -> RequestBodyFault {
    RequestBodyFault::find_boxed(error).unwrap_or(RequestBodyFault::Malformed)
}

enum ResponseBody {
    Whole(Bytes),
    /// Over the bound: what was read, then the rest as it streams.
    TooLarge(GatewayBody),
    Failed(crate::body::BoxError),
}

async fn read_response_body(mut body: GatewayBody) -> ResponseBody {
    let mut collected = bytes::BytesMut::new();
    while let Some(frame) = body.frame().await {
        let data = match frame {
            Ok(frame) => match frame.into_data() {
                Ok(data) => data,
                Err(_trailers) => continue,
            },
            Err(error) => return ResponseBody::Failed(error),
        };
        if collected.len() + data.len() > MAX_RESPONSE_BODY {
            collected.extend_from_slice(&data);
            let head = futures::stream::once(async move {
                Ok::<_, crate::body::BoxError>(http_body::Frame::data(collected.freeze()))
            });
            let rest = http_body_util::BodyStream::new(body);
            let stream = head.chain(rest);
            return ResponseBody::TooLarge(body::boxed(http_body_util::StreamBody::new(stream)));
        }
        collected.extend_from_slice(&data);
    }
    ResponseBody::Whole(collected.freeze())
}
