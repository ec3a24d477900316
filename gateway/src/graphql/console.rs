//! The browser page on `GET /graphql` (`Accept: text/html`): a small,
//! self-contained query console — query, variables, run, result — with no
//! asset from a CDN or anywhere else. It is not GraphiQL: GraphiQL's
//! bundles come from npm, which this build cannot reach.

use http::Response;
use http::header::{CONTENT_TYPE, HeaderValue};

use crate::body::{self, GatewayBody};

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>GraphQL console</title>
<style>
body{font-family:system-ui,sans-serif;margin:0;display:grid;grid-template-columns:1fr 1fr;height:100vh}
section{display:flex;flex-direction:column;padding:8px;gap:6px}
textarea,pre{flex:1;font-family:ui-monospace,monospace;font-size:13px;border:1px solid #ccc;padding:6px;margin:0;overflow:auto}
#variables{flex:0 0 20%}button{padding:6px 12px}
</style></head>
<body>
<section>
<label for="query">Query</label>
<textarea id="query" spellcheck="false">{ __schema { queryType { name } } }</textarea>
<label for="variables">Variables (JSON)</label>
<textarea id="variables" spellcheck="false">{}</textarea>
<button id="run">Run (Ctrl+Enter)</button>
</section>
<section><label>Result</label><pre id="result"></pre></section>
<script>
const endpoint = "__ENDPOINT__";
async function run() {
  const out = document.getElementById("result");
  let variables;
  try { variables = JSON.parse(document.getElementById("variables").value || "{}"); }
  catch (e) { out.textContent = "Variables are not JSON: " + e.message; return; }
  const response = await fetch(endpoint, {method: "POST",
    headers: {"content-type": "application/json", "accept": "application/graphql-response+json"},
    body: JSON.stringify({query: document.getElementById("query").value, variables})});
  const text = await response.text();
  try { out.textContent = JSON.stringify(JSON.parse(text), null, 2); } catch (_) { out.textContent = text; }
}
document.getElementById("run").onclick = run;
document.addEventListener("keydown", e => { if (e.ctrlKey && e.key === "Enter") run(); });
</script>
</body></html>
"#;

/// The console page, posting to `endpoint`.
pub fn page(endpoint: &str) -> Response<GatewayBody> {
    let endpoint = serde_json::to_string(endpoint).unwrap_or_else(|_| "\"/graphql\"".to_owned());
    let html = PAGE.replace("\"__ENDPOINT__\"", &endpoint);
    let mut response = Response::new(body::full(html));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}
