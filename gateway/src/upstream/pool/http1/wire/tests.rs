//! The wire format: request heads, response heads and their framing, the
//! chunked decoder fed whole and a byte at a time, and every malformed
//! or ambiguous message refused.

use super::*;

fn parse(text: &str) -> Result<Parsed, WireError> {
    parse_with(text, &Method::GET)
}

fn parse_with(text: &str, method: &Method) -> Result<Parsed, WireError> {
    let mut buf = BytesMut::from(text.as_bytes());
    parse_head(&mut buf, method)
}

/// The final head of `text`, and what is left in the buffer after it.
fn final_head(text: &str) -> (ResponseHead, Vec<u8>) {
    let mut buf = BytesMut::from(text.as_bytes());
    loop {
        match parse_head(&mut buf, &Method::GET) {
            Ok(Parsed::Final(head)) => return (head, buf.to_vec()),
            Ok(Parsed::Informational) => continue,
            other => panic!("{other:?} for {text:?}"),
        }
    }
}

#[test]
fn the_request_head_is_the_request_line_and_every_header_but_transfer_encoding() {
    let mut headers = HeaderMap::new();
    headers.insert(header::HOST, HeaderValue::from_static("orders:7101"));
    headers.append("x-tag", HeaderValue::from_static("a"));
    headers.append("x-tag", HeaderValue::from_static("b"));
    headers.insert(
        header::TRANSFER_ENCODING,
        HeaderValue::from_static("chunked"),
    );
    let mut out = b"left over".to_vec();
    encode_request_head(&mut out, &Method::GET, "/v1/orders/7?x=1", &headers);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "GET /v1/orders/7?x=1 HTTP/1.1\r\nhost: orders:7101\r\nx-tag: a\r\nx-tag: b\r\n\r\n"
    );
}

#[test]
fn a_content_length_frames_the_body_and_the_head_is_consumed() {
    let (head, rest) =
        final_head("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Id: 7\r\nX-Id: 8\r\n\r\nhello");
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.version, Version::HTTP_11);
    assert_eq!(head.framing, Framing::Length(5));
    assert!(head.keep_alive);
    let ids: Vec<_> = head.headers.get_all("x-id").iter().collect();
    assert_eq!(ids, ["7", "8"]);
    assert_eq!(rest, b"hello");
}

#[test]
fn an_incomplete_head_asks_for_more_and_consumes_nothing() {
    let text = b"HTTP/1.1 200 OK\r\nContent-Len";
    let mut buf = BytesMut::from(&text[..]);
    assert!(matches!(
        parse_head(&mut buf, &Method::GET),
        Ok(Parsed::Partial)
    ));
    assert_eq!(&buf[..], text);
}

#[test]
fn informational_heads_are_skipped_and_101_is_refused() {
    let (head, rest) = final_head(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\
         HTTP/1.1 204 No Content\r\n\r\n",
    );
    assert_eq!(head.status, StatusCode::NO_CONTENT);
    assert!(rest.is_empty());
    assert!(matches!(
        parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"),
        Err(WireError::UnexpectedUpgrade)
    ));
}

#[test]
fn head_204_and_304_have_no_body_whatever_the_head_says() {
    for (text, method) in [
        (
            "HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n",
            Method::GET,
        ),
        (
            "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
            Method::GET,
        ),
        ("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", Method::HEAD),
    ] {
        let Ok(Parsed::Final(head)) = parse_with(text, &method) else {
            panic!("{text:?}");
        };
        assert_eq!(head.framing, Framing::Empty, "{text:?}");
        assert!(head.keep_alive, "{text:?}");
    }
}

#[test]
fn chunked_wins_over_content_length_which_is_removed_and_the_connection_closed() {
    let (head, _) =
        final_head("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n");
    assert_eq!(head.framing, Framing::Chunked);
    assert!(!head.headers.contains_key(header::CONTENT_LENGTH));
    assert!(!head.keep_alive);
    let (head, _) = final_head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n");
    assert_eq!(head.framing, Framing::Chunked);
    assert!(head.keep_alive);
}

#[test]
fn a_transfer_coding_not_ending_in_chunked_or_no_framing_reads_until_close() {
    for text in [
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-Other: 1\r\n\r\n",
    ] {
        let (head, _) = final_head(text);
        assert_eq!(head.framing, Framing::UntilClose, "{text:?}");
        assert!(!head.keep_alive, "{text:?}");
    }
    assert!(matches!(
        parse("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
        Err(WireError::TransferEncodingInHttp10)
    ));
}

#[test]
fn content_lengths_must_be_digits_and_agree() {
    let (head, _) =
        final_head("HTTP/1.1 200 OK\r\nContent-Length: 4, 4\r\nContent-Length: 4\r\n\r\n");
    assert_eq!(head.framing, Framing::Length(4));
    let (head, _) = final_head("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(head.framing, Framing::Empty);
    for bad in [
        "4, 5",
        "+4",
        "-1",
        "0x10",
        "4.0",
        "",
        "1 2",
        "18446744073709551616",
    ] {
        let text = format!("HTTP/1.1 200 OK\r\nContent-Length: {bad}\r\n\r\n");
        assert!(
            matches!(parse(&text), Err(WireError::InvalidContentLength)),
            "{bad:?}"
        );
    }
    assert!(matches!(
        parse("HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n"),
        Err(WireError::InvalidContentLength)
    ));
}

#[test]
fn connection_reuse_follows_the_version_and_connection_tokens() {
    let reusable = |text: &str| final_head(text).0.keep_alive;
    assert!(!reusable(
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: Close\r\n\r\n"
    ));
    assert!(!reusable(
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: x, close\r\n\r\n"
    ));
    assert!(reusable(
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n"
    ));
    assert!(!reusable("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"));
    assert!(reusable(
        "HTTP/1.0 200 OK\r\nContent-Length: 0\r\nConnection: Keep-Alive\r\n\r\n"
    ));
    assert_eq!(
        final_head("HTTP/1.0 200 OK\r\n\r\n").0.version,
        Version::HTTP_10
    );
}

#[test]
fn malformed_and_oversized_heads_are_refused() {
    for text in [
        "HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/2.0 200 OK\r\n\r\n",
        "SMTP ready\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n",
    ] {
        assert!(
            matches!(parse(text), Err(WireError::MalformedHead(_))),
            "{text:?}"
        );
    }
    let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: v\r\n")).collect();
    assert!(matches!(
        parse(&format!("HTTP/1.1 200 OK\r\n{many}\r\n")),
        Err(WireError::TooManyHeaders)
    ));
    let big = "a".repeat(MAX_HEAD_BYTES);
    assert!(matches!(
        parse(&format!("HTTP/1.1 200 OK\r\nX-Big: {big}")),
        Err(WireError::HeadTooLarge)
    ));
    assert!(matches!(
        parse(&format!("HTTP/1.1 200 OK\r\nX-Big: {big}\r\n\r\n")),
        Err(WireError::HeadTooLarge)
    ));
}

/// Decodes `wire` fed `step` bytes at a time: the data, the trailers, and
/// what is left after the body.
fn decode(wire: &[u8], step: usize) -> Result<(Vec<u8>, HeaderMap, Vec<u8>), WireError> {
    let mut decoder = ChunkedDecoder::default();
    let mut buf = BytesMut::new();
    let (mut data, mut trailers) = (Vec::new(), HeaderMap::new());
    let mut fed = 0;
    loop {
        match decoder.decode(&mut buf)? {
            Some(ChunkEvent::Data(bytes)) => data.extend_from_slice(&bytes),
            Some(ChunkEvent::Trailers(map)) => trailers = map,
            Some(ChunkEvent::End) => {
                // What follows the body: the buffer, then what was not fed.
                let mut rest = buf.to_vec();
                rest.extend_from_slice(&wire[fed..]);
                return Ok((data, trailers, rest));
            }
            None if fed < wire.len() => {
                let next = (fed + step).min(wire.len());
                buf.extend_from_slice(&wire[fed..next]);
                fed = next;
            }
            None => panic!("the decoder wants more than {wire:?}"),
        }
    }
}

#[test]
fn chunks_decode_whole_or_a_byte_at_a_time() {
    let wire = b"5\r\nhello\r\n1A;name=value ; x\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\nNEXT";
    for step in [1, 2, 7, wire.len()] {
        let (data, trailers, rest) = decode(wire, step).unwrap();
        assert_eq!(data, b"helloabcdefghijklmnopqrstuvwxyz", "step {step}");
        assert!(trailers.is_empty());
        assert_eq!(rest, b"NEXT", "step {step}");
    }
}

#[test]
fn trailers_after_the_last_chunk_are_decoded() {
    let wire = b"3\r\nabc\r\n0\r\ngrpc-status: 0\r\nx-sum: 9\r\n\r\n";
    for step in [1, wire.len()] {
        let (data, trailers, rest) = decode(wire, step).unwrap();
        assert_eq!(data, b"abc");
        assert_eq!(trailers["grpc-status"], "0");
        assert_eq!(trailers["x-sum"], "9");
        assert!(rest.is_empty());
    }
}

#[test]
fn malformed_chunking_is_refused() {
    let cases: [(&[u8], WireError); 10] = [
        (b"g\r\n", WireError::InvalidChunkSize),
        (b"\r\n", WireError::InvalidChunkSize),
        (b" 5\r\nhello\r\n0\r\n\r\n", WireError::InvalidChunkSize),
        (b"0x5\r\nhello\r\n", WireError::InvalidChunkSize),
        (b"+5\r\nhello\r\n", WireError::InvalidChunkSize),
        (b"5\nhello\r\n", WireError::InvalidChunkSize),
        (b"5\r\r\nhello\r\n", WireError::InvalidChunkSize),
        (b"11111111111111111\r\n", WireError::InvalidChunkSize),
        (b"5\r\nhelloXX0\r\n\r\n", WireError::InvalidChunkEnd),
        (b"0\r\nbad trailer\r\n\r\n", WireError::InvalidTrailers),
    ];
    for (wire, expected) in cases {
        assert_eq!(
            decode(wire, wire.len()).map(|_| ()),
            Err(expected),
            "{:?}",
            String::from_utf8_lossy(wire)
        );
    }
    let long = format!("5;{}\r\n", "e".repeat(MAX_CHUNK_LINE));
    assert_eq!(
        decode(long.as_bytes(), long.len()).map(|_| ()),
        Err(WireError::InvalidChunkSize)
    );
    let endless = "a".repeat(MAX_CHUNK_LINE + 1);
    let mut decoder = ChunkedDecoder::default();
    let mut buf = BytesMut::from(endless.as_bytes());
    assert_eq!(decoder.decode(&mut buf), Err(WireError::InvalidChunkSize));
}

#[test]
fn a_chunk_size_at_the_u64_limit_is_read_and_past_it_refused() {
    let (mut decoder, mut buf) = (
        ChunkedDecoder::default(),
        BytesMut::from(&b"ffffffffffffffff\r\nab"[..]),
    );
    assert_eq!(
        decoder.decode(&mut buf),
        Ok(Some(ChunkEvent::Data(Bytes::from_static(b"ab"))))
    );
    let mut decoder = ChunkedDecoder::default();
    let mut buf = BytesMut::from(&b"10000000000000000\r\n"[..]);
    assert_eq!(decoder.decode(&mut buf), Err(WireError::InvalidChunkSize));
}

#[test]
fn oversized_trailers_are_refused() {
    let wire = format!("0\r\nx-big: {}\r\n", "t".repeat(MAX_TRAILER_BYTES));
    let mut decoder = ChunkedDecoder::default();
    let mut buf = BytesMut::from(wire.as_bytes());
    assert_eq!(decoder.decode(&mut buf), Err(WireError::InvalidTrailers));
}
