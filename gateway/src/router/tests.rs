use std::sync::Arc;
use std::time::Duration;

use http::Method;

use super::*;
use crate::config::model::{
    BackendSpec, EjectionPolicy, HeaderRules, LoadBalancing, PathRewrite, ProxyAction, RouteAction,
    RouteSpec, UpstreamProtocol,
};

fn backend() -> Arc<BackendSpec> {
    Arc::new(BackendSpec {
        health_check: None,
        tls: Default::default(),
        name: "b".into(),
        urls: vec!["http://127.0.0.1:1".parse().unwrap()],
        protocol: UpstreamProtocol::Http1,
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(1),
        body_idle_timeout: Duration::from_secs(1),
        max_connections: 10,
        load_balancing: LoadBalancing::LeastRequest,
        ejection: EjectionPolicy {
            consecutive_failures: 3,
            cooldown: Duration::from_secs(1),
        },
        resilience: Default::default(),
    })
}

fn route(name: &str, methods: &[Method], path: &str, host: Option<&str>) -> Arc<RouteSpec> {
    Arc::new(RouteSpec {
        load_shedding: None,
        name: name.into(),
        methods: (!methods.is_empty()).then(|| methods.to_vec()),
        path: PathPattern::parse(path).unwrap(),
        host: host.map(str::to_owned),
        action: RouteAction::Proxy(ProxyAction {
            backend: backend(),
            rewrite: PathRewrite::None,
        }),
        timeout: None,
        body_idle_timeout: None,
        max_body: None,
        headers: HeaderRules::default(),
        rate_limits: Vec::new(),
        security: Default::default(),
        retry: None,
        emit: Vec::new(),
        async_spec: None,
    })
}

fn found_name(m: RouteMatch<'_>) -> String {
    match m {
        RouteMatch::Found { route, .. } => route.name.clone(),
        other => panic!("expected a match, got {other:?}"),
    }
}

#[test]
fn matches_params_and_wildcards() {
    let table = RouteTable::build(&[
        route("one", &[Method::GET], "/v1/orders/{id}", None),
        route("all", &[], "/static/{*rest}", None),
        route("batch", &[Method::POST], "/v1/orders:batch", None),
    ])
    .unwrap();
    match table.match_request(&Method::GET, None, "/v1/orders/a%20b") {
        RouteMatch::Found { route, params } => {
            assert_eq!(route.name, "one");
            assert_eq!(params.get("id"), Some("a%20b"));
            assert_eq!(params.decoded("id").as_deref(), Some("a b"));
        }
        other => panic!("{other:?}"),
    }
    match table.match_request(&Method::DELETE, None, "/static/css/site.css") {
        RouteMatch::Found { params, .. } => assert_eq!(params.get("rest"), Some("css/site.css")),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        found_name(table.match_request(&Method::POST, None, "/v1/orders:batch")),
        "batch"
    );
    assert!(matches!(
        table.match_request(&Method::GET, None, "/v2"),
        RouteMatch::NotFound
    ));
}

#[test]
fn method_not_allowed_lists_allow_with_head_for_get() {
    let table = RouteTable::build(&[
        route("get", &[Method::GET], "/v1/orders/{id}", None),
        route("del", &[Method::DELETE], "/v1/orders/{id}", None),
    ])
    .unwrap();
    assert_eq!(
        found_name(table.match_request(&Method::DELETE, None, "/v1/orders/1")),
        "del"
    );
    assert_eq!(
        found_name(table.match_request(&Method::HEAD, None, "/v1/orders/1")),
        "get"
    );
    match table.match_request(&Method::PUT, None, "/v1/orders/1") {
        RouteMatch::MethodNotAllowed { allow } => {
            assert_eq!(allow, vec![Method::GET, Method::DELETE, Method::HEAD]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn host_routes_win_and_fall_back_to_any_host() {
    let table = RouteTable::build(&[
        route("api", &[], "/x", Some("API.example.com")),
        route("any", &[], "/x", None),
        route("only-any", &[], "/y", None),
    ])
    .unwrap();
    assert_eq!(
        found_name(table.match_request(&Method::GET, Some("api.example.com:8080"), "/x")),
        "api"
    );
    assert_eq!(
        found_name(table.match_request(&Method::GET, Some("other"), "/x")),
        "any"
    );
    assert_eq!(
        found_name(table.match_request(&Method::GET, Some("api.example.com"), "/y")),
        "only-any"
    );
    assert_eq!(
        found_name(table.match_request(&Method::GET, None, "/x")),
        "any"
    );
}

#[test]
fn every_conflict_is_reported() {
    let conflicts = RouteTable::build(&[
        route("a", &[Method::GET], "/v1/orders/{id}", None),
        route("b", &[Method::GET, Method::POST], "/v1/orders/{id}", None),
        route("c", &[Method::PATCH], "/v1/orders/{order_id}", None),
        route("d", &[], "/v1/users", None),
        route("e", &[Method::GET], "/v1/users", None),
    ])
    .unwrap_err();
    let pairs: Vec<(usize, usize)> = conflicts
        .iter()
        .map(|c| (c.route_index, c.other_index))
        .collect();
    assert_eq!(pairs, vec![(1, 0), (2, 0), (4, 3)]);
    assert!(
        conflicts[1].message.contains("same name"),
        "{}",
        conflicts[1].message
    );
}

#[test]
fn pattern_errors() {
    assert_eq!(PathPattern::parse("v1"), Err(PatternError::NoLeadingSlash));
    assert!(matches!(
        PathPattern::parse("/a/x{id}"),
        Err(PatternError::PartialParam { .. })
    ));
    assert!(matches!(
        PathPattern::parse("/a/{1d}"),
        Err(PatternError::BadParamName { .. })
    ));
    assert!(matches!(
        PathPattern::parse("/{a}/{a}"),
        Err(PatternError::DuplicateParam { .. })
    ));
    assert!(matches!(
        PathPattern::parse("/{*a}/b"),
        Err(PatternError::WildcardNotLast { .. })
    ));
    assert!(matches!(
        PathPattern::parse("/a/../b"),
        Err(PatternError::DotSegment { .. })
    ));
    assert!(matches!(
        PathPattern::parse("/a b"),
        Err(PatternError::BadCharacter { .. })
    ));
    let p = PathPattern::parse("/v1/orders/{id}/items/{*rest}").unwrap();
    assert_eq!(p.param_names().collect::<Vec<_>>(), vec!["id", "rest"]);
    assert!(p.has_wildcard());
    assert_eq!(p.static_prefix(), "/v1/orders/");
}

#[test]
fn path_checks() {
    assert_eq!(check_path("/v1/orders/1"), Ok(()));
    assert_eq!(check_path("/v1/a.b/..c/%41"), Ok(()));
    assert!(matches!(
        check_path("/v1/../admin"),
        Err(PathError::DotSegment { .. })
    ));
    assert!(matches!(
        check_path("/v1/./x"),
        Err(PathError::DotSegment { .. })
    ));
    assert!(matches!(
        check_path("/v1/%2e%2E/x"),
        Err(PathError::EncodedDotSegment { .. })
    ));
    assert!(matches!(
        check_path("/v1/.%2e"),
        Err(PathError::EncodedDotSegment { .. })
    ));
    assert!(matches!(
        check_path("/v1/a%2Fb"),
        Err(PathError::EncodedSeparator { .. })
    ));
    assert!(matches!(
        check_path("/v1/a%5cb"),
        Err(PathError::EncodedSeparator { .. })
    ));
    assert_eq!(check_path("/v1/a\\b"), Err(PathError::Backslash));
    assert_eq!(check_path("/v1/%00"), Err(PathError::EncodedNul));
    assert_eq!(check_path("/v1/%zz"), Err(PathError::BadEscape));
    assert_eq!(check_path("/v1/%4"), Err(PathError::BadEscape));
    assert_eq!(check_path("*"), Err(PathError::NotAbsolute));
}

#[test]
fn params_keep_every_pair_in_order() {
    let params: Params = [("id", "o%201"), ("empty", ""), ("rest", "a/b/c")]
        .into_iter()
        .collect();
    assert_eq!(
        params.iter().collect::<Vec<_>>(),
        vec![("id", "o%201"), ("empty", ""), ("rest", "a/b/c")]
    );
    assert_eq!(params.get("id"), Some("o%201"));
    assert_eq!(params.get("empty"), Some(""));
    assert_eq!(params.get("rest"), Some("a/b/c"));
    assert_eq!(params.get("missing"), None);
    assert_eq!(params.decoded("id").as_deref(), Some("o 1"));
    assert_eq!(
        format!("{params:?}"),
        r#"{"id": "o%201", "empty": "", "rest": "a/b/c"}"#
    );
    assert_eq!(Params::default().iter().count(), 0);
}
