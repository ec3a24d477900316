//! Upstream path rewriting: strip a prefix or render a template.

use http::Uri;

use crate::config::model::PathRewrite;
use crate::router::Params;

/// The upstream origin-form target (path and query) for a request.
///
/// Works on the raw path, so percent-escapes reach the backend exactly as
/// the client sent them. The query string is always kept.
pub fn rewrite_path(uri: &Uri, rewrite: &PathRewrite, params: &Params) -> String {
    let path = uri.path();
    let new_path = match rewrite {
        PathRewrite::None => path.to_owned(),
        PathRewrite::StripPrefix(prefix) => strip_prefix(path, prefix),
        PathRewrite::Template(template) => render_template(template, params),
    };
    match uri.query() {
        Some(query) => format!("{new_path}?{query}"),
        None => new_path,
    }
}

fn strip_prefix(path: &str, prefix: &str) -> String {
    let prefix = prefix.trim_end_matches('/');
    match path.strip_prefix(prefix) {
        Some("") => "/".to_owned(),
        Some(rest) if rest.starts_with('/') => rest.to_owned(),
        _ => path.to_owned(),
    }
}

/// Replaces `{name}` and `{*name}` with captured raw values. Names were
/// checked against the pattern when the config was compiled.
fn render_template(template: &str, params: &Params) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('}') else {
            break;
        };
        let name = rest[start + 1..start + len].trim_start_matches('*');
        out.push_str(params.get(name).unwrap_or_default());
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    if out.starts_with('/') {
        out
    } else {
        format!("/{out}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::{PathPattern, RouteTable};

    fn params_for(pattern: &str, path: &str) -> Params {
        use crate::config::model::*;
        use std::sync::Arc;
        let route = Arc::new(RouteSpec {
            load_shedding: None,
            name: "r".into(),
            methods: None,
            path: PathPattern::parse(pattern).unwrap(),
            host: None,
            action: RouteAction::Proxy(ProxyAction {
                backend: Arc::new(BackendSpec {
                    health_check: None,
                    tls: Default::default(),
                    name: "b".into(),
                    urls: vec![],
                    protocol: UpstreamProtocol::Http1,
                    connect_timeout: std::time::Duration::from_secs(1),
                    request_timeout: std::time::Duration::from_secs(1),
                    body_idle_timeout: std::time::Duration::from_secs(1),
                    max_connections: 1,
                    load_balancing: LoadBalancing::RoundRobin,
                    ejection: EjectionPolicy {
                        consecutive_failures: 1,
                        cooldown: std::time::Duration::from_secs(1),
                    },
                    resilience: Default::default(),
                }),
                rewrite: PathRewrite::None,
                async_spec: None,
            }),
            timeout: None,
            body_idle_timeout: None,
            max_body: None,
            headers: HeaderRules::default(),
            rate_limits: Vec::new(),
            security: Default::default(),
            retry: None,
        });
        let table = RouteTable::build(&[route]).unwrap();
        match table.match_request(&http::Method::GET, None, path) {
            crate::router::RouteMatch::Found { params, .. } => params,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn strips_prefixes_on_segment_boundaries_and_keeps_queries() {
        let uri: Uri = "/api/users/7?x=1".parse().unwrap();
        let p = Params::default();
        assert_eq!(
            rewrite_path(&uri, &PathRewrite::StripPrefix("/api".into()), &p),
            "/users/7?x=1"
        );
        assert_eq!(
            rewrite_path(&uri, &PathRewrite::StripPrefix("/api/".into()), &p),
            "/users/7?x=1"
        );
        let exact: Uri = "/api".parse().unwrap();
        assert_eq!(
            rewrite_path(&exact, &PathRewrite::StripPrefix("/api".into()), &p),
            "/"
        );
        let other: Uri = "/apix/1".parse().unwrap();
        assert_eq!(
            rewrite_path(&other, &PathRewrite::StripPrefix("/api".into()), &p),
            "/apix/1"
        );
        assert_eq!(
            rewrite_path(&uri, &PathRewrite::None, &p),
            "/api/users/7?x=1"
        );
    }

    #[test]
    fn renders_templates_with_raw_values() {
        let params = params_for("/shop/{id}/files/{*rest}", "/shop/a%20b/files/x/y.txt");
        let uri: Uri = "/shop/a%20b/files/x/y.txt?v=2".parse().unwrap();
        let template = PathRewrite::Template("/v2/items/{id}/{*rest}".into());
        assert_eq!(
            rewrite_path(&uri, &template, &params),
            "/v2/items/a%20b/x/y.txt?v=2"
        );
    }
}
