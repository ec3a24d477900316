//! GraphiQL on `GET /graphql` (`Accept: text/html`): the page loads only
//! the gateway's own copies of React, ReactDOM and GraphiQL, each served
//! byte for byte with its media type and cache headers.

use serde_json::Value;
use tests::federation::FederatedGateway;

const GRAPHQL_ONLY: &str = "listen: 127.0.0.1:0\ngraphql:\n  supergraph: $SUPERGRAPH\n";

/// The vendored file the gateway must serve for `name`.
fn vendored(name: &str) -> Vec<u8> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../gateway/assets/graphiql");
    std::fs::read(format!("{dir}/{name}")).unwrap()
}

/// Every `src="..."` and `href="..."` value of the page.
fn referenced_urls(html: &str) -> Vec<String> {
    ["src=\"", "href=\""]
        .iter()
        .flat_map(|attribute| html.split(attribute).skip(1))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

async fn graphiql_page(fed: &FederatedGateway) -> String {
    let page = fed
        .gw
        .client
        .get(fed.gw.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    page.text().await.unwrap()
}

#[tokio::test]
async fn a_graphql_only_config_serves_healthz_and_graphiql() {
    let fed = FederatedGateway::start(GRAPHQL_ONLY).await;
    let health = fed
        .gw
        .client
        .get(fed.gw.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let html = graphiql_page(&fed).await;
    assert!(
        html.contains("GraphiQL.createFetcher") && html.contains(r#"const endpoint = "/graphql";"#),
        "{html}"
    );
    let urls = referenced_urls(&html);
    assert_eq!(urls.len(), 4, "{urls:?}");
    for url in &urls {
        assert!(
            url.starts_with("/graphql/assets/"),
            "remote or foreign asset {url}"
        );
    }
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
}

#[tokio::test]
async fn every_asset_of_the_page_is_served_byte_for_byte() {
    let fed = FederatedGateway::start(GRAPHQL_ONLY).await;
    let html = graphiql_page(&fed).await;
    for url in referenced_urls(&html) {
        let name = url.trim_start_matches("/graphql/assets/");
        let response = fed.gw.client.get(fed.gw.url(&url)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        let expected_type = if name.ends_with(".css") {
            "text/css; charset=utf-8"
        } else {
            "application/javascript; charset=utf-8"
        };
        assert_eq!(response.headers()["content-type"], expected_type, "{url}");
        let cache = response.headers()["cache-control"].to_str().unwrap();
        assert!(cache.contains("immutable"), "{url}: {cache}");
        assert!(response.headers().contains_key("etag"), "{url}");
        let bytes = response.bytes().await.unwrap();
        assert!(
            bytes.as_ref() == vendored(name).as_slice(),
            "{url}: bytes differ"
        );
    }
}

#[tokio::test]
async fn a_current_etag_gets_304_and_other_asset_requests_get_json_errors() {
    let fed = FederatedGateway::start(GRAPHQL_ONLY).await;
    let url = fed.gw.url("/graphql/assets/graphiql.min.css");
    let first = fed.gw.client.get(&url).send().await.unwrap();
    let etag = first.headers()["etag"].clone();
    let again = fed
        .gw
        .client
        .get(&url)
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.unwrap().is_empty());

    let unknown = fed
        .gw
        .client
        .get(fed.gw.url("/graphql/assets/graphiql.min.js.map"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(unknown.headers()["content-type"], "application/json");
    let body: Value = unknown.json().await.unwrap();
    assert_eq!(body["error"]["code"], "GRAPHIQL_ASSET_NOT_FOUND", "{body}");

    let posted = fed.gw.client.post(&url).send().await.unwrap();
    assert_eq!(posted.status(), 405);
    assert_eq!(posted.headers()["allow"], "GET, HEAD");
}

#[tokio::test]
async fn with_the_console_off_there_is_no_page_and_no_assets() {
    let fed = FederatedGateway::start(&format!("{GRAPHQL_ONLY}  console: false\n")).await;
    let asset = fed
        .gw
        .client
        .get(fed.gw.url("/graphql/assets/graphiql.min.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(asset.status(), 404);
    let body: Value = asset.json().await.unwrap();
    assert_eq!(body["error"]["code"], "NO_ROUTE", "{body}");
}

#[tokio::test]
async fn a_browser_opening_a_query_link_gets_graphiql_with_the_query_filled_in() {
    let fed = FederatedGateway::start(GRAPHQL_ONLY).await;
    let link = fed
        .gw
        .url("/graphql?query=%7B+customers+%7B+name+%7D+%7D&operationName=&variables=%7B%7D");
    let browser_accept = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    let page = fed
        .gw
        .client
        .get(&link)
        .header("accept", browser_accept)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#"const prefill = {"query":"{ customers { name } }","variables":"{}"};"#),
        "{html}"
    );
    // A GraphQL client on the same link gets the result.
    let data = fed
        .gw
        .client
        .get(&link)
        .header(
            "accept",
            "application/graphql-response+json, application/json",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(data.status(), 200);
    let body: serde_json::Value = data.json().await.unwrap();
    assert!(body["data"]["customers"][0]["name"].is_string(), "{body}");
}
