use super::*;

fn head_check(version: Version, uri: &str, pairs: &[(&str, &str)]) -> Result<(), ShapeError> {
    let uri: Uri = uri.parse().unwrap();
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    let head = Head {
        version,
        uri: &uri,
        headers: &headers,
    };
    check(&head, &RequestLimits::default())
}

fn h11(uri: &str, pairs: &[(&str, &str)]) -> Result<(), ShapeError> {
    head_check(Version::HTTP_11, uri, pairs)
}

#[test]
fn transfer_encoding_must_be_exactly_chunked_once() {
    let host = ("host", "a");
    assert_eq!(h11("/", &[host, ("transfer-encoding", "chunked")]), Ok(()));
    assert_eq!(h11("/", &[host, ("transfer-encoding", "Chunked")]), Ok(()));
    for bad in [
        "chunked, chunked",
        "gzip, chunked",
        "chunked ,chunked",
        "identity",
    ] {
        assert_eq!(
            h11("/", &[host, ("transfer-encoding", bad)]),
            Err(ShapeError::BadTransferEncoding),
            "{bad}"
        );
    }
    let twice = [
        host,
        ("transfer-encoding", "chunked"),
        ("transfer-encoding", "chunked"),
    ];
    assert_eq!(h11("/", &twice), Err(ShapeError::BadTransferEncoding));
}

#[test]
fn http11_needs_exactly_one_valid_host() {
    assert_eq!(h11("/", &[]), Err(ShapeError::MissingHost));
    assert_eq!(head_check(Version::HTTP_10, "/", &[]), Ok(()));
    assert_eq!(
        h11("/", &[("host", "a"), ("host", "b")]),
        Err(ShapeError::MultipleHosts)
    );
    for bad in [
        "", "user@a", "a b", "a:99999", "a:", "a:x", "[::1", "a/b", "a\"b",
    ] {
        let result = h11("/", &[("host", bad)]);
        assert!(result.is_err(), "{bad:?} was accepted");
    }
    for good in [
        "a",
        "api.example.com:8080",
        "127.0.0.1:80",
        "[::1]:443",
        "under_score",
    ] {
        assert_eq!(h11("/", &[("host", good)]), Ok(()), "{good:?}");
    }
}

#[test]
fn an_absolute_target_must_agree_with_host() {
    let same = h11("http://api.example.com/x", &[("host", "API.example.com")]);
    assert_eq!(same, Ok(()));
    let other = h11("http://evil.example/x", &[("host", "api.example.com")]);
    assert_eq!(other, Err(ShapeError::HostMismatch));
    let userinfo = h11("http://u@evil.example/x", &[("host", "evil.example")]);
    assert_eq!(userinfo, Err(ShapeError::BadHost));
}

#[test]
fn http2_authority_and_host_agree_or_one_is_present() {
    let h2 = |uri: &str, pairs: &[(&str, &str)]| head_check(Version::HTTP_2, uri, pairs);
    assert_eq!(h2("http://a:1/x", &[]), Ok(()));
    assert_eq!(h2("/x", &[("host", "a")]), Ok(()));
    assert_eq!(h2("/x", &[]), Err(ShapeError::MissingHost));
    assert_eq!(
        h2("http://a/x", &[("host", "b")]),
        Err(ShapeError::HostMismatch)
    );
}

#[test]
fn target_length_and_header_count_are_bounded() {
    let long = format!("/{}", "a".repeat(RequestLimits::default().max_uri_length));
    assert!(matches!(
        h11(&long, &[("host", "a")]),
        Err(ShapeError::UriTooLong { .. })
    ));
    let names: Vec<String> = (0..=RequestLimits::default().max_headers)
        .map(|i| format!("x-h{i}"))
        .collect();
    let mut pairs: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), "1")).collect();
    pairs.push(("host", "a"));
    assert!(matches!(
        h11("/", &pairs),
        Err(ShapeError::TooManyHeaders { .. })
    ));
}

#[test]
fn underscore_headers_follow_the_policy() {
    let make = || {
        let mut headers = HeaderMap::new();
        headers.insert("x_forwarded_for", "6.6.6.6".parse().unwrap());
        headers.insert("x-kept", "1".parse().unwrap());
        headers
    };
    let mut dropped = make();
    underscore_headers(&mut dropped, UnderscoreHeaders::Drop).unwrap();
    assert_eq!(dropped.len(), 1);
    assert!(dropped.contains_key("x-kept"));
    let mut rejected = make();
    assert_eq!(
        underscore_headers(&mut rejected, UnderscoreHeaders::Reject),
        Err(ShapeError::UnderscoreHeader)
    );
    let mut allowed = make();
    underscore_headers(&mut allowed, UnderscoreHeaders::Allow).unwrap();
    assert_eq!(allowed.len(), 2);
}

#[test]
fn the_reg_name_table_holds_letters_digits_and_three_marks() {
    for byte in 0..=u8::MAX {
        let expected = byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_');
        assert_eq!(super::REG_NAME[usize::from(byte)], expected, "{byte:#04x}");
    }
    assert!(valid_host("api-1.example_internal.com:8443").is_ok());
    assert!(valid_host("api.example.com:").is_err());
    assert!(valid_host("api example.com").is_err());
    assert!(valid_host("caf\u{e9}.example").is_err());
}
