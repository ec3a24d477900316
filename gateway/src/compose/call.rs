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
use http::HeaderMap;
use serde_json::Value;
use tracing::{Instrument, Span};

use super::cache::CallCache;
use super::coalesce::Coalescer;
use super::error::{CallFailure, FailureKind};
use super::eval::Bindings;
use super::fetch::{CallOutput, fetch};
use super::plan::CallSpec;
use super::request::render_call;
use crate::observe::otel::{otel_span, spans};
use crate::upstream::{UNAVAILABLE_MESSAGE, Upstreams};

/// A call's index and how it ended.
pub type Finished = (usize, Result<Arc<Value>, CallFailure>);

/// Everything shared by the calls of one composition.
pub struct CallEnv<'a> {
    pub upstreams: &'a Upstreams,
    pub forwarded: &'a HeaderMap,
    pub coalescer: &'a Arc<Coalescer>,
}

/// Renders call `index` now and returns the future that completes it.
pub fn start_call(
    index: usize,
    spec: &CallSpec,
    bindings: &Bindings<'_>,
    env: &CallEnv<'_>,
) -> BoxFuture<'static, Finished> {
    let rendered = match render_call(spec, bindings, env.forwarded) {
        Ok(rendered) => rendered,
        Err(failure) => return futures::future::ready((index, Err(failure))).boxed(),
    };
    let Some(pool) = env.upstreams.get(&spec.backend.name).cloned() else {
        tracing::error!(backend = %spec.backend.name, "no upstream pool for a composition call");
        let failure = CallFailure::new(FailureKind::Unavailable, UNAVAILABLE_MESSAGE);
        return futures::future::ready((index, Err(failure))).boxed();
    };
    let key = rendered.key(&spec.backend.name);
    let cache = spec.cache.clone();
    let coalescer = spec.coalesce.then(|| Arc::clone(env.coalescer));
    let fetching = fetch(pool, rendered, spec.timeout);
    let span = otel_span!(
        "compose call",
        gateway.compose.call = spec.name.as_str(),
        gateway.backend = spec.backend.name.as_str(),
        gateway.compose.cache_hit = tracing::field::Empty,
        gateway.compose.coalesced = tracing::field::Empty,
    );
    let traced = span.clone();
    async move {
        let result = complete(key, cache, coalescer, fetching, &traced).await;
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
    span: &Span,
) -> Result<Arc<Value>, CallFailure> {
    if let Some(cache) = &cache
        && let Some(value) = cache.get(&key).await
    {
        span.record("gateway.compose.cache_hit", true);
        return Ok(value);
    }
    span.record("gateway.compose.cache_hit", false);
    let (result, coalesced) = match coalescer {
        Some(coalescer) => coalescer.run(key.clone(), fetching).await,
        None => (fetching.await, false),
    };
    span.record("gateway.compose.coalesced", coalesced);
    if let (Ok(output), Some(cache)) = (&result, &cache) {
        let value = Arc::clone(&output.value);
        cache
            .store(key, value, output.cache_control.as_deref())
            .await;
    }
    result.map(|output| output.value)
}
