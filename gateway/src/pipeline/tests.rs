//! Policy layers through the real network path: a gateway served on
//! 127.0.0.1 port 0 (the real server, layers and dispatcher) in front of a
//! real HTTP backend, with stock tower / tower-http layers mounted as
//! route policies through the pipeline builder.

use std::convert::Infallible;
use std::sync::Arc;

use arc_swap::ArcSwap;
use http::{HeaderValue, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tower::util::MapResponseLayer;
use tower_http::set_header::SetResponseHeaderLayer;

use super::{PolicyLayer, RouteService};
use crate::body::{self, GatewayBody};
use crate::config::model::RouteSpec;
use crate::layers::gateway_service;
use crate::server::{CappedListener, ConnectionSettings, serve};
use crate::snapshot::Snapshot;

/// A backend answering every request with `200 backend`.
async fn backend() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_request| async {
                    Ok::<_, Infallible>(hyper::Response::new(http_body_util::Full::new(
                        bytes::Bytes::from_static(b"backend"),
                    )))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// Serves a gateway whose routes get `policies`; returns its address.
async fn gateway(policies: &super::PolicyChooser) -> std::net::SocketAddr {
    let backend = backend().await;
    let yaml = format!(
        "backends:\n  b: {{ url: http://{backend} }}\nroutes:\n  - name: tagged\n    path: /tagged\n    backend: b\n  - name: plain\n    path: /plain\n    backend: b\n"
    );
    let config = crate::config::load_str(&yaml, "routes.yaml").unwrap();
    let settings = ConnectionSettings::from_server(&config.server);
    let snapshot = Snapshot::build_with_policies(config, 1, None, policies).unwrap();
    let service = gateway_service(
        Arc::new(ArcSwap::from_pointee(snapshot)),
        Arc::new(crate::observe::Observers::default()),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(
        CappedListener::new(listener, 64),
        service,
        settings,
        std::future::pending(),
    ));
    addr
}

/// Appends `tag` to the response's `x-route-tag`.
fn tag(tag: &'static str) -> PolicyLayer {
    PolicyLayer::new(
        tag,
        MapResponseLayer::new(move |mut response: Response<GatewayBody>| {
            let value = match response.headers().get("x-route-tag") {
                Some(old) => format!("{},{tag}", old.to_str().unwrap_or_default()),
                None => tag.to_owned(),
            };
            response
                .headers_mut()
                .insert("x-route-tag", HeaderValue::from_str(&value).unwrap());
            response
        }),
    )
}

#[tokio::test]
async fn stock_layers_mounted_as_policies_shape_the_real_response() {
    let addr = gateway(&|route: &RouteSpec, _: &super::PolicyRuntime| {
        if route.name != "tagged" {
            return Vec::new();
        }
        vec![
            PolicyLayer::new(
                "set-header",
                SetResponseHeaderLayer::overriding(
                    http::HeaderName::from_static("x-policy"),
                    HeaderValue::from_static("on"),
                ),
            ),
            tag("outer"),
            tag("inner"),
        ]
    })
    .await;
    let client = reqwest::Client::new();
    let tagged = client
        .get(format!("http://{addr}/tagged"))
        .send()
        .await
        .unwrap();
    assert_eq!(tagged.status(), 200);
    assert_eq!(tagged.headers()["x-policy"], "on");
    // The inner layer maps the handler's response first.
    assert_eq!(tagged.headers()["x-route-tag"], "inner,outer");
    assert_eq!(tagged.text().await.unwrap(), "backend");
    let plain = client
        .get(format!("http://{addr}/plain"))
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 200);
    assert!(plain.headers().get("x-policy").is_none());
    assert!(plain.headers().get("x-route-tag").is_none());
}

#[tokio::test]
async fn every_route_gets_the_retry_policy_layer() {
    let backend = backend().await;
    let yaml = format!(
        "backends:\n  b: {{ url: http://{backend} }}\nroutes:\n  - path: /a\n    backend: b\n"
    );
    let config = crate::config::load_str(&yaml, "routes.yaml").unwrap();
    let snapshot = Snapshot::build(config, 1, None).unwrap();
    assert!(snapshot.pipelines.iter().all(|r| r.policies == ["retry"]));
}

#[tokio::test]
async fn policies_are_applied_outermost_first_around_the_handler() {
    let inner: RouteService = RouteService::new(tower::service_fn(|_request| async {
        Ok::<_, crate::edge_error::GatewayError>(Response::new(body::empty()))
    }));
    let service = super::policy::assemble(inner, &[tag("first"), tag("second")]);
    let response = tower::ServiceExt::oneshot(service, http::Request::new(body::empty()))
        .await
        .unwrap();
    assert_eq!(response.headers()["x-route-tag"], "second,first");
}

#[tokio::test]
async fn a_concurrency_limit_fits_as_a_policy() {
    let inner: RouteService = RouteService::new(tower::service_fn(|_request| async {
        Ok::<_, crate::edge_error::GatewayError>(Response::new(body::empty()))
    }));
    let limit = PolicyLayer::new("concurrency", tower::limit::ConcurrencyLimitLayer::new(1));
    let service = super::policy::assemble(inner, &[limit]);
    for _ in 0..3 {
        let response =
            tower::ServiceExt::oneshot(service.clone(), http::Request::new(body::empty()))
                .await
                .unwrap();
        assert_eq!(response.status(), 200);
    }
}
