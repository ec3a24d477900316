//! GraphiQL, served offline. `GET /graphql` with `Accept: text/html` gets
//! a page that loads React, ReactDOM and GraphiQL from the gateway itself,
//! at `{graphql path}/assets/<file>`: the npm bundles are vendored in
//! `gateway/assets/graphiql/` (versions and licenses in its README) and
//! compiled into the binary, so nothing comes from a CDN. The page's
//! fetcher posts to the endpoint on the same origin and runs
//! subscriptions over the endpoint's WebSocket (graphql-transport-ws). A
//! browser opening `/graphql?query=…` gets the page with the operation
//! (and `variables`, `operationName`) filled in.

use std::sync::LazyLock;

use http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, HeaderValue, IF_NONE_MATCH};
use http::{HeaderMap, Response, StatusCode};

use crate::body::{self, GatewayBody};
pub use crate::config::model::graphiql_assets_path as assets_path;
use crate::edge_error::GatewayError;

const JAVASCRIPT: &str = "application/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
/// The bundles only change with a new gateway build.
const CACHE_FOREVER: &str = "public, max-age=31536000, immutable";

/// One vendored file: its name under `assets/`, media type and bytes.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! asset {
    ($name:literal, $content_type:expr) => {
        Asset {
            name: $name,
            content_type: $content_type,
            bytes: include_bytes!(concat!("../../assets/graphiql/", $name)),
        }
    };
}

const ASSETS: [Asset; 4] = [
    asset!("react.production.min.js", JAVASCRIPT),
    asset!("react-dom.production.min.js", JAVASCRIPT),
    asset!("graphiql.min.js", JAVASCRIPT),
    asset!("graphiql.min.css", CSS),
];

/// A strong ETag per asset, from its content (FNV-1a, computed once).
static ETAGS: LazyLock<[String; 4]> =
    LazyLock::new(|| ASSETS.each_ref().map(|asset| etag_of(asset.bytes)));

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>GraphiQL</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{margin:0}#graphiql{height:100vh}</style>
<link rel="stylesheet" href="__ASSETS__/graphiql.min.css">
<script src="__ASSETS__/react.production.min.js"></script>
<script src="__ASSETS__/react-dom.production.min.js"></script>
<script src="__ASSETS__/graphiql.min.js"></script>
</head>
<body><div id="graphiql">Loading GraphiQL…</div>
<script>
const endpoint = __ENDPOINT__;
const socketScheme = location.protocol === "https:" ? "wss://" : "ws://";
const fetcher = GraphiQL.createFetcher({
  url: endpoint,
  subscriptionUrl: socketScheme + location.host + endpoint,
});
const prefill = __PREFILL__;
ReactDOM.createRoot(document.getElementById("graphiql"))
  .render(React.createElement(GraphiQL, Object.assign({ fetcher }, prefill)));
</script>
</body></html>
"#;

/// The GraphiQL page for the endpoint at `endpoint`; `query_string` (the
/// request's, e.g. `query=…&variables=…&operationName=…`) fills the
/// editors, so a link to `/graphql?query=…` opens with that operation.
pub fn page(endpoint: &str, query_string: Option<&str>) -> Response<GatewayBody> {
    let html = PAGE
        .replace("__ASSETS__", &escape_html(&assets_path(endpoint)))
        .replace("__ENDPOINT__", &script_string(endpoint))
        .replace("__PREFILL__", &prefill(query_string.unwrap_or("")));
    let mut response = Response::new(body::full(html));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// A request for a file that is not among the vendored assets.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("GraphiQL has no asset named {0:?}")]
pub struct UnknownAsset(pub String);

impl From<UnknownAsset> for GatewayError {
    fn from(error: UnknownAsset) -> Self {
        GatewayError::new(
            StatusCode::NOT_FOUND,
            "GRAPHIQL_ASSET_NOT_FOUND",
            error.to_string(),
        )
    }
}

/// Serves the vendored asset `name` (`304` when the client's copy is
/// current); an unknown name becomes a `404 GRAPHIQL_ASSET_NOT_FOUND`.
pub fn asset(
    name: &str,
    request_headers: &HeaderMap,
) -> Result<Response<GatewayBody>, UnknownAsset> {
    let index = ASSETS
        .iter()
        .position(|asset| asset.name == name)
        .ok_or_else(|| UnknownAsset(name.to_owned()))?;
    let asset = &ASSETS[index];
    let etag = &ETAGS[index];
    let mut response = if client_has(request_headers, etag) {
        let mut response = Response::new(body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        Response::new(body::full(asset.bytes))
    };
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(CACHE_FOREVER));
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(ETAG, value);
    }
    Ok(response)
}

/// Whether `If-None-Match` names `etag` (or `*`).
fn client_has(request_headers: &HeaderMap, etag: &str) -> bool {
    request_headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|tag| tag.trim() == etag || tag.trim() == "*")
}

fn etag_of(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("\"{hash:016x}\"")
}

/// GraphiQL's `query`, `variables` and `operationName` props from a query
/// string, as a JavaScript object literal that cannot close the script.
/// Empty or undecodable parameters are left out (the page still opens).
fn prefill(query_string: &str) -> String {
    let mut props = serde_json::Map::new();
    for pair in query_string.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let prop = match key {
            "query" => "query",
            "variables" => "variables",
            "operationName" => "operationName",
            _ => continue,
        };
        match super::request::decode(value) {
            Ok(value) if !value.is_empty() => {
                props.insert(prop.to_owned(), serde_json::Value::from(value));
            }
            _ => {}
        }
    }
    serde_json::Value::Object(props)
        .to_string()
        .replace('<', "\\u003c")
}

/// `text` as a JavaScript string literal that cannot close the script.
fn script_string(text: &str) -> String {
    serde_json::Value::from(text)
        .to_string()
        .replace('<', "\\u003c")
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_only_local_assets_and_posts_to_the_endpoint() {
        let html = PAGE
            .replace("__ASSETS__", &assets_path("/api/graphql/"))
            .replace("__ENDPOINT__", &script_string("/api/graphql/"))
            .replace("__PREFILL__", &prefill(""));
        for asset in &ASSETS {
            assert!(
                html.contains(&format!("\"/api/graphql/assets/{}\"", asset.name)),
                "{html}"
            );
        }
        assert!(
            html.contains(r#"const endpoint = "/api/graphql/";"#),
            "{html}"
        );
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{html}"
        );
    }

    #[test]
    fn the_endpoint_cannot_break_out_of_the_script() {
        assert_eq!(script_string("/a</script>"), r#""/a\u003c/script>""#);
        assert_eq!(escape_html("/a\"<b>&"), "/a&quot;&lt;b&gt;&amp;");
    }

    #[test]
    fn the_query_string_fills_the_editors_safely() {
        let props = prefill(
            "query=%7B+customers+%7B+id+%7D+%7D&variables=%7B%22a%22%3A1%7D&operationName=Op&x=1",
        );
        let parsed: serde_json::Value = serde_json::from_str(&props).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({
                "query": "{ customers { id } }",
                "variables": "{\"a\":1}",
                "operationName": "Op",
            })
        );
        assert_eq!(prefill(""), "{}");
        assert_eq!(prefill("query=&operationName="), "{}");
        let hostile = prefill("query=%3C%2Fscript%3E%3Cscript%3Ealert(1)");
        assert!(!hostile.contains('<'), "{hostile}");
    }

    #[test]
    fn etags_follow_the_content() {
        assert_ne!(etag_of(b"a"), etag_of(b"b"));
        assert_eq!(etag_of(b""), "\"cbf29ce484222325\"");
    }
}
