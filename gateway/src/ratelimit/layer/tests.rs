//! The layer keyed on the authenticated principal (a `Principal` put in
//! the request's extensions by hand, as the authentication layer does),
//! in front of a handler that counts its calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use http::{Request, Response, StatusCode};
use tower::{Layer, ServiceExt};

use super::RateLimitLayer;
use crate::body::{self, GatewayBody};
use crate::config::model::rate_limit::{KeySource, LimitSpec, LimitStore, MissingKey, Quota};
use crate::context::{ClientIp, EdgeContext, Principal};
use crate::pipeline::RouteService;
use crate::ratelimit::{Limiter, Scope};

fn limiter(key: KeySource) -> Arc<Limiter> {
    named_limiter("per-consumer", key)
}

fn named_limiter(name: &str, key: KeySource) -> Arc<Limiter> {
    let quota = Quota {
        count: 1,
        period: Duration::from_secs(60),
        burst: 2,
    };
    let spec = Arc::new(LimitSpec {
        name: name.to_owned(),
        key: vec![key],
        quota,
        store: LimitStore::Local,
        fallback: quota,
        missing_key: MissingKey::Skip,
    });
    Arc::new(Limiter::build(&spec, Scope::Global, 100, None))
}

fn counting_handler(calls: &Arc<AtomicUsize>) -> RouteService {
    let calls = Arc::clone(calls);
    RouteService::new(tower::service_fn(move |_request: Request<GatewayBody>| {
        calls.fetch_add(1, Ordering::Relaxed);
        async { Ok(Response::new(body::empty())) }
    }))
}

fn request(principal: Option<Principal>) -> Request<GatewayBody> {
    let mut request = Request::new(body::empty());
    let peer = "192.0.2.1:4000".parse().unwrap();
    request
        .extensions_mut()
        .insert(EdgeContext::new(ClientIp::direct(peer)));
    if let Some(principal) = principal {
        request.extensions_mut().insert(principal);
    }
    request
}

fn consumer(name: &str) -> Principal {
    Principal {
        consumer: Some(Arc::from(name)),
        claims: Arc::new(
            serde_json::json!({"sub": format!("{name}-user")})
                .as_object()
                .unwrap()
                .clone(),
        ),
        ..Principal::default()
    }
}

async fn status(service: &RouteService, principal: Option<Principal>) -> StatusCode {
    match service.clone().oneshot(request(principal)).await {
        Ok(response) => response.status(),
        Err(error) => error.status,
    }
}

#[tokio::test]
async fn each_consumer_has_its_own_budget_and_anonymous_requests_pass() {
    let calls = Arc::new(AtomicUsize::new(0));
    let service = RouteService::new(
        RateLimitLayer::new(vec![limiter(KeySource::Consumer)]).layer(counting_handler(&calls)),
    );
    let acme = || Some(consumer("acme"));
    assert_eq!(status(&service, acme()).await, StatusCode::OK);
    assert_eq!(status(&service, acme()).await, StatusCode::OK);
    assert_eq!(
        status(&service, acme()).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        status(&service, Some(consumer("globex"))).await,
        StatusCode::OK
    );
    // No principal: no consumer, and the limit does not apply.
    assert_eq!(status(&service, None).await, StatusCode::OK);
    assert_eq!(calls.load(Ordering::Relaxed), 4);
}

#[tokio::test]
async fn a_claim_keys_the_limit_and_a_refusal_carries_the_headers() {
    let calls = Arc::new(AtomicUsize::new(0));
    let service = RouteService::new(
        RateLimitLayer::new(vec![limiter(KeySource::Claim("sub".to_owned()))])
            .layer(counting_handler(&calls)),
    );
    for _ in 0..2 {
        assert_eq!(
            status(&service, Some(consumer("acme"))).await,
            StatusCode::OK
        );
    }
    let Err(refused) = service
        .clone()
        .oneshot(request(Some(consumer("acme"))))
        .await
    else {
        panic!("the third request passed");
    };
    assert_eq!(refused.code, "RATE_LIMITED");
    assert_eq!(refused.headers["retry-after"], "60");
    assert_eq!(
        refused.headers["ratelimit-policy"],
        "\"per-consumer\";q=2;w=120"
    );
    assert_eq!(calls.load(Ordering::Relaxed), 2);
}

/// Limits on the address, the consumer and the `sub` claim, in that
/// order, in front of a handler counting its calls.
fn three_limits(calls: &Arc<AtomicUsize>) -> RouteService {
    let layer = RateLimitLayer::new(vec![
        named_limiter("ip", KeySource::ClientIp),
        named_limiter("by-consumer", KeySource::Consumer),
        named_limiter("by-sub", KeySource::Claim("sub".to_owned())),
    ]);
    RouteService::new(layer.layer(counting_handler(calls)))
}

/// Several limits: a response names those that applied, in order, and
/// leaves out one whose key the request lacks; a refusal names those
/// checked up to the one refused.
#[tokio::test]
async fn the_headers_name_the_limits_that_applied_in_order() {
    let calls = Arc::new(AtomicUsize::new(0));
    let service = three_limits(&calls);
    let headers = |result: Result<Response<GatewayBody>, crate::edge_error::GatewayError>| {
        let headers = match result {
            Ok(response) => response.headers().clone(),
            Err(error) => error.headers,
        };
        (
            headers["ratelimit-policy"].to_str().unwrap().to_owned(),
            headers["ratelimit"].to_str().unwrap().to_owned(),
        )
    };
    let every = service
        .clone()
        .oneshot(request(Some(consumer("acme"))))
        .await;
    assert_eq!(
        headers(every),
        (
            "\"ip\";q=2;w=120, \"by-consumer\";q=2;w=120, \"by-sub\";q=2;w=120".to_owned(),
            "\"ip\";r=1;t=60, \"by-consumer\";r=1;t=60, \"by-sub\";r=1;t=60".to_owned()
        )
    );
    // No principal: only the address limit applies.
    let anonymous = service.clone().oneshot(request(None)).await;
    assert_eq!(
        headers(anonymous),
        ("\"ip\";q=2;w=120".to_owned(), "\"ip\";r=0;t=120".to_owned())
    );
    // The address's budget is spent: refused at the first limit.
    let refused = service
        .clone()
        .oneshot(request(Some(consumer("globex"))))
        .await;
    assert!(refused.is_err());
    assert_eq!(
        headers(refused),
        ("\"ip\";q=2;w=120".to_owned(), "\"ip\";r=0;t=120".to_owned())
    );
    assert_eq!(calls.load(Ordering::Relaxed), 2);
}

/// A principal without a consumer skips the middle limit: the policy
/// lists the first and the last.
#[tokio::test]
async fn a_skipped_limit_in_the_middle_is_left_out() {
    let calls = Arc::new(AtomicUsize::new(0));
    let service = three_limits(&calls);
    let subject_only = Principal {
        claims: Arc::new(
            serde_json::json!({"sub": "u9"})
                .as_object()
                .unwrap()
                .clone(),
        ),
        ..Principal::default()
    };
    let response = service
        .clone()
        .oneshot(request(Some(subject_only)))
        .await
        .expect("within the limits");
    assert_eq!(
        response.headers()["ratelimit-policy"],
        "\"ip\";q=2;w=120, \"by-sub\";q=2;w=120"
    );
    assert_eq!(
        response.headers()["ratelimit"],
        "\"ip\";r=1;t=60, \"by-sub\";r=1;t=60"
    );
    assert_eq!(calls.load(Ordering::Relaxed), 1);
}
