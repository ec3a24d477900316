//! Reading credentials off a request: a JWT from `Authorization: Bearer`,
//! a named header or a cookie ([`find_token`]); an API key from a header
//! or a query parameter ([`find_api_key`]), and removing that parameter
//! from the target before it goes upstream ([`strip_query_param`]).

use http::header::{AUTHORIZATION, COOKIE};
use http::{HeaderMap, Uri};
use percent_encoding::percent_decode_str;

use super::failure::AuthFailure;
use crate::config::model::security::{ApiKeySet, TokenSources};

/// The token the sources find first (`Ok(None)`: none of them holds one).
pub fn find_token(
    headers: &HeaderMap,
    sources: &TokenSources,
) -> Result<Option<String>, AuthFailure> {
    if sources.bearer {
        if let Some(token) = bearer(headers)? {
            return Ok(Some(token));
        }
    }
    for name in &sources.headers {
        if let Some(value) = headers.get(name) {
            let text = value
                .to_str()
                .map_err(|_| AuthFailure::InvalidRequest("the token header is not text"))?
                .trim();
            let token = strip_scheme(text).unwrap_or(text);
            if token.is_empty() {
                return Err(AuthFailure::InvalidRequest("the token header is empty"));
            }
            return Ok(Some(token.to_owned()));
        }
    }
    for name in &sources.cookies {
        if let Some(token) = cookie(headers, name) {
            return Ok(Some(token));
        }
    }
    Ok(None)
}

/// `Authorization: Bearer <token>`; another scheme is no bearer token.
fn bearer(headers: &HeaderMap) -> Result<Option<String>, AuthFailure> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AuthFailure::InvalidRequest(
            "more than one Authorization header",
        ));
    }
    let text = value
        .to_str()
        .map_err(|_| AuthFailure::InvalidRequest("the Authorization header is not text"))?;
    let Some(token) = strip_scheme(text.trim()) else {
        return Ok(None);
    };
    if token.is_empty() || token.contains(' ') {
        return Err(AuthFailure::InvalidRequest(
            "the Authorization header must be `Bearer <token>`",
        ));
    }
    Ok(Some(token.to_owned()))
}

/// The rest after a case-insensitive `Bearer ` (or the whole `Bearer`).
fn strip_scheme(text: &str) -> Option<&str> {
    let scheme = text.get(..6)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let rest = &text[6..];
    if rest.is_empty() {
        return Some(rest);
    }
    rest.strip_prefix(' ').map(str::trim_start)
}

/// The value of cookie `name` in any `Cookie` header.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"').to_owned())
        .filter(|value| !value.is_empty())
}

/// The API key in the set's header, else in its query parameter.
pub fn find_api_key(headers: &HeaderMap, uri: &Uri, set: &ApiKeySet) -> Option<String> {
    if let Some(value) = set.header.as_ref().and_then(|name| headers.get(name)) {
        return value.to_str().ok().map(|v| v.trim().to_owned());
    }
    let name = set.query.as_deref()?;
    uri.query()?
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| percent_decode_str(value).decode_utf8_lossy().into_owned())
}

/// `uri` without every `name=` pair of its query.
pub fn strip_query_param(uri: &Uri, name: &str) -> Uri {
    let Some(query) = uri.query() else {
        return uri.clone();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| pair.split('=').next() != Some(name))
        .collect();
    let path_and_query = if kept.is_empty() {
        uri.path().to_owned()
    } else {
        format!("{}?{}", uri.path(), kept.join("&"))
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = path_and_query.parse().ok();
    Uri::from_parts(parts).unwrap_or_else(|_| uri.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn tokens_are_read_from_each_source_in_order() {
        let sources = TokenSources {
            bearer: true,
            headers: vec![http::HeaderName::from_static("x-token")],
            cookies: vec!["session".into()],
        };
        let found = |pairs| find_token(&headers(pairs), &sources);
        assert_eq!(
            found(&[("authorization", "Bearer abc")])
                .unwrap()
                .as_deref(),
            Some("abc")
        );
        assert_eq!(
            found(&[("authorization", "bearer  abc")])
                .unwrap()
                .as_deref(),
            Some("abc")
        );
        assert_eq!(
            found(&[("x-token", "def")]).unwrap().as_deref(),
            Some("def")
        );
        assert_eq!(
            found(&[("cookie", "a=1; session=ghi")]).unwrap().as_deref(),
            Some("ghi")
        );
        assert_eq!(found(&[("authorization", "Basic dXNlcg==")]).unwrap(), None);
        assert!(found(&[("authorization", "Bearer")]).is_err());
        assert!(found(&[("authorization", "Bearer a"), ("authorization", "Bearer b")]).is_err());
        assert_eq!(found(&[]).unwrap(), None);
    }

    #[test]
    fn the_api_key_query_parameter_is_read_then_removed() {
        let uri: Uri = "/v1/orders?page=2&api_key=s%3Dcret&x=1".parse().unwrap();
        let set = ApiKeySet {
            name: "k".into(),
            header: None,
            query: Some("api_key".into()),
            keys: Vec::new(),
        };
        assert_eq!(
            find_api_key(&HeaderMap::new(), &uri, &set).as_deref(),
            Some("s=cret")
        );
        assert_eq!(strip_query_param(&uri, "api_key"), "/v1/orders?page=2&x=1");
        let only: Uri = "/a?api_key=1".parse().unwrap();
        assert_eq!(strip_query_param(&only, "api_key"), "/a");
    }
}
