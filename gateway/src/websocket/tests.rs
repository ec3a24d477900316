//! The handshake checks as plain data.

use super::*;

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn upgrade_request() -> http::request::Builder {
    Request::get("/ws")
        .header(UPGRADE, "websocket")
        .header(CONNECTION, "keep-alive, Upgrade")
        .header(SEC_WEBSOCKET_VERSION, "13")
        .header(SEC_WEBSOCKET_KEY, KEY)
}

#[test]
fn a_valid_handshake_gets_the_rfc_accept_key() {
    let request = upgrade_request().body(()).unwrap();
    let handshake = check(&request, None).unwrap();
    // The worked example of RFC 6455 §1.3.
    assert_eq!(handshake.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    let response = switching_protocols(handshake);
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert!(!response.headers().contains_key(SEC_WEBSOCKET_PROTOCOL));
}

#[test]
fn each_missing_piece_is_named() {
    let cases = [
        (Request::post("/ws"), "must be a GET, not POST"),
        (
            Request::get("/ws").header(UPGRADE, "websocket"),
            "connection",
        ),
        (
            Request::get("/ws")
                .header(UPGRADE, "websocket")
                .header(CONNECTION, "upgrade")
                .header(SEC_WEBSOCKET_VERSION, "8"),
            "sec-websocket-version",
        ),
        (
            Request::get("/ws")
                .header(UPGRADE, "websocket")
                .header(CONNECTION, "upgrade")
                .header(SEC_WEBSOCKET_VERSION, "13")
                .header(SEC_WEBSOCKET_KEY, "c2hvcnQ="),
            "sec-websocket-key",
        ),
    ];
    for (builder, expected) in cases {
        let error = check(&builder.body(()).unwrap(), None).unwrap_err();
        assert!(
            error.to_string().contains(expected),
            "{error} lacks {expected}"
        );
    }
}

#[test]
fn a_subprotocol_route_requires_the_exact_offer() {
    let without = upgrade_request().body(()).unwrap();
    assert_eq!(
        check(&without, Some("graphql-transport-ws")).unwrap_err(),
        HandshakeError::Subprotocol("graphql-transport-ws")
    );
    let other_case = upgrade_request()
        .header(SEC_WEBSOCKET_PROTOCOL, "GRAPHQL-TRANSPORT-WS")
        .body(())
        .unwrap();
    assert!(check(&other_case, Some("graphql-transport-ws")).is_err());
    let offered = upgrade_request()
        .header(SEC_WEBSOCKET_PROTOCOL, "graphql-ws, graphql-transport-ws")
        .body(())
        .unwrap();
    let response = switching_protocols(check(&offered, Some("graphql-transport-ws")).unwrap());
    assert_eq!(
        response.headers()[SEC_WEBSOCKET_PROTOCOL],
        "graphql-transport-ws"
    );
}
