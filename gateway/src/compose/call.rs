//! Starting one call: render it, then answer from the call cache, join an
//! identical in-flight call, or fetch.
//!
//! The returned future owns everything it needs (`'static`), so it can be
//! shared by the coalescer and dropped at any point to cancel the call.
//! With traces on it runs in the call's span (cache hit and coalescing as
//! attributes), the parent of the call's upstream attempt.

use std::future::Future;
use std::sync::Arc;

use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::Value;
use tracing::{Instrument, Span};

use super::cache::CallCache;
use super::coalesce::Coalescer;
use super::error::CallFailure;
use super::fetch::{CallOutput, fetch};
use super::plan::CallSpec;
use super::request::render_call;
use crate::config::model::Propagation;
use crate::observe::metrics::{ComposeCallMetrics, Metrics};
use crate::observe::otel::{otel_span, spans};
use crate::template::eval::Bindings;
use crate::upstream::outbound::Outbound;

/// A call's index and how it ended.
pub type Finished = (usize, Result<Arc<Value>, CallFailure>);

/// Everything shared by the calls of one composition.
pub struct CallEnv<'a> {
    /// The upstream-request builder of the client's request.
    pub outbound: &'a Arc<Outbound>,
    /// The global `propagate:` rules (`all` applies to every call).
    pub propagate: &'a Propagation,
    pub coalescer: &'a Arc<Coalescer>,
    /// The gateway's metrics and the route's name, when metrics are on.
    pub metrics: Option<(&'a Arc<Metrics>, &'a str)>,
}

/// Renders call `index` now and returns the future that completes it.
pub fn start_call(
    index: usize,
    spec: &CallSpec,
    bindings: &Bindings<'_>,
    env: &CallEnv<'_>,
) -> BoxFuture<'static, Finished> {
    let propagated = env
        .outbound
        .propagated(&[&env.propagate.all, &spec.propagate]);
    let rendered = match render_call(spec, bindings, propagated) {
        Ok(rendered) => rendered,
        Err(failure) => return futures::future::ready((index, Err(failure))).boxed(),
    };
    let pool = Arc::clone(&spec.pool);
    let key = rendered.key(&spec.backend.name);
    let cache = spec.cache.clone();
    let coalescer = spec.coalesce.then(|| Arc::clone(env.coalescer));
    let fetching = fetch(pool, rendered, spec.timeout, Arc::clone(env.outbound));
    let counted = env
        .metrics
        .map(|(metrics, route)| ComposeCallMetrics::new(metrics, route, &spec.name));
    let span = otel_span!(
        "compose call",
        gateway.compose.call = spec.name.as_str(),
        gateway.backend = spec.backend.name.as_str(),
        gateway.compose.cache_hit = tracing::field::Empty,
        gateway.compose.coalesced = tracing::field::Empty,
    );
    let traced = span.clone();
    async move {
        let result = complete(key, cache, coalescer, fetching, counted, &traced).await;
        if let Err(failure) = &result {
            spans::fail(&traced, failure.code, &failure.message);
        }
        (index, result)
    }
    .instrument(span)
    .boxed()
}

/// Cache, then coalesce, then fetch; stores what the cache may keep.
async fn complete(
    key: String,
    cache: Option<CallCache>,
    coalescer: Option<Arc<Coalescer>>,
    fetching: impl Future<Output = Result<CallOutput, CallFailure>> + Send + 'static,
    counted: Option<ComposeCallMetrics>,
    span: &Span,
) -> Result<Arc<Value>, CallFailure> {
    if let Some(cache) = &cache {
        let cached = cache.get(&key).await;
        if let Some(counted) = &counted {
            counted.cache_lookup(cached.is_some());
        }
        span.record("gateway.compose.cache_hit", cached.is_some());
        if let Some(value) = cached {
            return Ok(value);
        }
    } else {
        span.record("gateway.compose.cache_hit", false);
    }
    let (result, coalesced) = match coalescer {
        Some(coalescer) => coalescer.run(key.clone(), fetching).await,
        None => (fetching.await, false),
    };
    span.record("gateway.compose.coalesced", coalesced);
    if let (true, Some(counted)) = (coalesced, &counted) {
        counted.coalesced();
    }
    if let (Ok(output), Some(cache)) = (&result, &cache) {
        let value = Arc::clone(&output.value);
        cache
            .store(key, value, output.cache_control.as_deref())
            .await;
    }
    result.map(|output| output.value)
}
