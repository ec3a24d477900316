use std::sync::Arc;

use http::{HeaderName, HeaderValue, Request};

use super::*;
use crate::config::model::{HeaderRules, RouteAction};
use crate::context::{ClientIp, RequestId};
use crate::router::PathPattern;

fn route(headers: HeaderRules) -> Arc<RouteSpec> {
    Arc::new(RouteSpec {
        load_shedding: None,
        name: "r".into(),
        methods: None,
        path: PathPattern::parse("/x").unwrap(),
        host: None,
        action: RouteAction::Graphql,
        timeout: None,
        body_idle_timeout: None,
        max_body: None,
        headers,
        rate_limits: Vec::new(),
        security: Default::default(),
        retry: None,
        emit: Vec::new(),
        async_spec: None,
    })
}

fn client_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("api.example.com"));
    headers.insert("authorization", HeaderValue::from_static("Bearer t"));
    headers.insert("x-forwarded-for", HeaderValue::from_static("6.6.6.6"));
    headers.insert("x-request-id", HeaderValue::from_static("planted"));
    headers.insert("connection", HeaderValue::from_static("close, x-secret"));
    headers.insert("x-secret", HeaderValue::from_static("1"));
    headers
}

/// What `Outbound::new` builds for a direct client at 10.1.2.3.
fn outbound(rules: HeaderRules) -> Outbound {
    let headers = client_headers();
    let forwarded = ForwardedFor {
        client: ClientIp::direct("10.1.2.3:5555".parse().unwrap()),
        host: Some("api.example.com".into()),
    };
    let mut extensions = Extensions::new();
    let mut edge = EdgeContext::new(ClientIp::direct("10.1.2.3:5555".parse().unwrap()));
    edge.request_id = Some(RequestId(Arc::from("req-1")));
    extensions.insert(edge);
    Outbound {
        request_id: Some(HeaderValue::from_static("req-1")),
        forwarding: Arc::new(forwarding_headers(&headers, &forwarded)),
        route: Some(route(rules)),
        client_headers: Some(Arc::new(headers)),
        extensions,
        unsampled_trace: None,
    }
}

fn assert_gateway_family(headers: &HeaderMap) {
    assert_eq!(headers["x-request-id"], "req-1");
    assert_eq!(headers["x-forwarded-for"], "10.1.2.3");
    assert_eq!(headers["x-forwarded-proto"], "http");
    assert_eq!(headers["x-forwarded-host"], "api.example.com");
    assert_eq!(headers["x-real-ip"], "10.1.2.3");
    assert_eq!(
        headers["forwarded"],
        "for=10.1.2.3;proto=http;host=\"api.example.com\""
    );
    assert_eq!(headers.get_all("x-forwarded-for").iter().count(), 1);
    assert_eq!(headers.get_all("x-request-id").iter().count(), 1);
}

#[test]
fn a_forwarded_head_loses_hop_by_hop_and_host_and_gains_the_family() {
    let mut parts = Request::new(()).into_parts().0;
    parts.headers = client_headers();
    outbound(HeaderRules::default()).forward_parts(&mut parts);
    assert_gateway_family(&parts.headers);
    assert!(parts.headers.get("host").is_none());
    assert!(parts.headers.get("x-secret").is_none());
    assert_eq!(parts.headers["authorization"], "Bearer t");
    assert_eq!(
        parts
            .extensions
            .get::<EdgeContext>()
            .and_then(|edge| edge.request_id.as_ref()),
        Some(&RequestId(Arc::from("req-1")))
    );
}

#[test]
fn a_derived_request_gets_the_same_family_and_only_propagated_client_headers() {
    let outbound = outbound(HeaderRules::default());
    let rules = [HeaderRule::Propagate {
        named: HeaderName::from_static("authorization"),
        rename: None,
        default: None,
    }];
    let mut request = Request::new(());
    *request.headers_mut() = outbound.propagated(&[&rules]);
    outbound.finish(&mut request);
    assert_gateway_family(request.headers());
    assert_eq!(request.headers()["authorization"], "Bearer t");
    assert!(EdgeContext::of(&request).is_some_and(|edge| edge.request_id.is_some()));
    let mut bare = Request::new(());
    *bare.headers_mut() = outbound.propagated(&[]);
    outbound.finish(&mut bare);
    assert_gateway_family(bare.headers());
    assert!(bare.headers().get("authorization").is_none());
}

#[test]
fn the_routes_rules_apply_after_the_family() {
    let rules = HeaderRules {
        request_add: vec![(
            HeaderName::from_static("x-forwarded-proto"),
            HeaderValue::from_static("https"),
        )],
        request_remove: vec![HeaderName::from_static("authorization")],
        ..HeaderRules::default()
    };
    let outbound = outbound(rules);
    let mut parts = Request::new(()).into_parts().0;
    parts.headers = client_headers();
    outbound.clone().forward_parts(&mut parts);
    assert_eq!(parts.headers["x-forwarded-proto"], "https");
    assert!(parts.headers.get("authorization").is_none());
    let mut request = Request::new(());
    outbound.finish(&mut request);
    assert_eq!(request.headers()["x-forwarded-proto"], "https");
}

#[test]
fn without_kept_client_headers_nothing_is_propagated_but_defaults() {
    let mut outbound = outbound(HeaderRules::default());
    outbound.client_headers = None;
    let rules = [HeaderRule::Propagate {
        named: HeaderName::from_static("authorization"),
        rename: None,
        default: Some(HeaderValue::from_static("none")),
    }];
    assert_eq!(outbound.propagated(&[&rules])["authorization"], "none");
}
