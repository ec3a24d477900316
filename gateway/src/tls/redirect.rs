//! The plain-HTTP listener of `server.tls.http_redirect`: every request
//! is answered `308 Permanent Redirect` to the same host, path and query
//! over `https://` (308 keeps the method and body, unlike 301). A
//! request without a usable `Host` gets the gateway's usual 400.

use std::convert::Infallible;

use http::header::{HOST, LOCATION};
use http::{HeaderValue, Request, Response, StatusCode};
use tower::util::BoxCloneSyncService;

use crate::body::{self, GatewayBody};
use crate::edge_error::GatewayError;
use crate::layers::GatewayService;
use crate::request_shape::valid_host;

/// The redirecting service; `https_port` goes into every `Location`
/// (left out when 443).
pub fn redirect_service(https_port: u16) -> GatewayService {
    BoxCloneSyncService::new(tower::service_fn(move |request: Request<GatewayBody>| {
        let response = redirect(&request, https_port);
        async move { Ok::<_, Infallible>(response) }
    }))
}

fn redirect(request: &Request<GatewayBody>, https_port: u16) -> Response<GatewayBody> {
    let location = host_of(request).and_then(|host| {
        HeaderValue::try_from(https_location(host, https_port, request.uri())).ok()
    });
    match location {
        Some(location) => {
            let mut response = Response::new(body::empty());
            *response.status_mut() = StatusCode::PERMANENT_REDIRECT;
            response.headers_mut().insert(LOCATION, location);
            response
        }
        None => GatewayError::new(
            StatusCode::BAD_REQUEST,
            "BAD_HOST",
            "the request has no valid Host to redirect to",
        )
        .into_response(&uuid::Uuid::new_v4().to_string()),
    }
}

/// `Host`, else the absolute-form target's authority; checked.
fn host_of(request: &Request<GatewayBody>) -> Option<&str> {
    let host = match request.headers().get(HOST) {
        Some(value) => value.to_str().ok()?,
        None => request.uri().authority()?.as_str(),
    };
    valid_host(host).ok().map(|()| host)
}

/// `https://` + the host without its port + the HTTPS port (unless 443)
/// + the path and query.
pub fn https_location(host: &str, https_port: u16, uri: &http::Uri) -> String {
    let name = match host.rfind(':') {
        // `[::1]:80` or `name:80`; a bare `[::1]` has its colon inside.
        Some(colon) if !host[colon..].contains(']') => &host[..colon],
        _ => host,
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    if https_port == 443 {
        format!("https://{name}{path}")
    } else {
        format!("https://{name}:{https_port}{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::https_location;

    #[test]
    fn the_location_keeps_host_path_and_query_and_swaps_the_port() {
        let uri: http::Uri = "/a/b?x=1&y=%20".parse().unwrap();
        assert_eq!(
            https_location("example.com:8080", 8443, &uri),
            "https://example.com:8443/a/b?x=1&y=%20"
        );
        assert_eq!(
            https_location("example.com", 443, &uri),
            "https://example.com/a/b?x=1&y=%20"
        );
        assert_eq!(
            https_location("[::1]:80", 443, &"/".parse().unwrap()),
            "https://[::1]/"
        );
        assert_eq!(
            https_location("[::1]", 8443, &"/".parse().unwrap()),
            "https://[::1]:8443/"
        );
    }
}
