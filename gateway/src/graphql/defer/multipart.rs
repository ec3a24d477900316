//! The `multipart/mixed` response of incremental delivery: each payload
//! is a JSON part after a `---` delimiter, and `-----` closes the stream
//! (the layout Apollo Router, Hive Router and Apollo Client use).

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};
use http_body::Frame;
use http_body_util::StreamBody;
use serde_json::Value;

use crate::body::{self, BoxError, GatewayBody};

/// The response's media type.
pub const CONTENT_TYPE_MULTIPART: &str = "multipart/mixed;boundary=\"-\";deferSpec=20220824";

const PART_HEAD: &str = "\r\n---\r\ncontent-type: application/json; charset=utf-8\r\n\r\n";
const CLOSE: &str = "\r\n-----\r\n";

/// A 200 response streaming `payloads` as multipart parts.
pub fn response(payloads: BoxStream<'static, Value>) -> Response<GatewayBody> {
    let parts = payloads
        .map(|payload| Ok::<_, BoxError>(Frame::data(Bytes::from(part(&payload)))))
        .chain(futures::stream::once(async {
            Ok(Frame::data(Bytes::from_static(CLOSE.as_bytes())))
        }));
    let mut response = Response::new(body::boxed(StreamBody::new(parts)));
    *response.status_mut() = StatusCode::OK;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static(CONTENT_TYPE_MULTIPART),
    );
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn part(payload: &Value) -> String {
    format!("{PART_HEAD}{payload}")
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;
    use serde_json::json;

    #[tokio::test]
    async fn parts_are_delimited_and_the_stream_is_closed() {
        let payloads = futures::stream::iter([json!({"a": 1}), json!({"b": 2})]);
        let response = super::response(Box::pin(payloads));
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        assert_eq!(
            std::str::from_utf8(&bytes).expect("utf-8"),
            "\r\n---\r\ncontent-type: application/json; charset=utf-8\r\n\r\n{\"a\":1}\
             \r\n---\r\ncontent-type: application/json; charset=utf-8\r\n\r\n{\"b\":2}\
             \r\n-----\r\n"
        );
    }
}
