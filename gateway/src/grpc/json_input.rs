//! A streamed request body read as a sequence of JSON messages.
//!
//! NDJSON (`application/x-ndjson`) is cut into lines as the chunks arrive,
//! so each message can be forwarded before the body has ended. A JSON
//! array (`application/json`, or a body whose first byte is `[`) is read
//! whole, then checked element by element before any is forwarded.

use std::collections::VecDeque;

use bytes::BytesMut;
use http::HeaderMap;
use http::header::CONTENT_TYPE;
use http_body_util::BodyExt;
use prost_reflect::{DynamicMessage, MessageDescriptor};
use serde_json::Value;

use super::error::GrpcError;
use super::transcode::{
    JsonOptions, TranscodeError, body_value, message_from_json, message_from_value,
};
use super::unary::client_body_error;
use crate::body::GatewayBody;

/// Messages from a request body, in order.
pub enum JsonMessages {
    Lines(LineReader),
    Array(VecDeque<DynamicMessage>),
}

impl JsonMessages {
    /// Chooses the form from `Content-Type`; a JSON array is parsed and
    /// checked whole here.
    pub async fn open(
        headers: &HeaderMap,
        body: GatewayBody,
        desc: MessageDescriptor,
        options: JsonOptions,
    ) -> Result<Self, GrpcError> {
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut reader = LineReader {
            body,
            buffer: BytesMut::new(),
            ended: false,
            line: 0,
            desc,
            options,
        };
        if content_type.contains("ndjson") || content_type.contains("jsonl") {
            return Ok(JsonMessages::Lines(reader));
        }
        let whole = reader.read_to_end().await?;
        if content_type.starts_with("application/json")
            || whole.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[')
        {
            return array(&whole, &reader.desc, options).map(JsonMessages::Array);
        }
        reader.buffer = whole;
        Ok(JsonMessages::Lines(reader))
    }

    /// The next message, `None` at the end of the body.
    pub async fn next(&mut self) -> Result<Option<DynamicMessage>, GrpcError> {
        match self {
            JsonMessages::Lines(reader) => reader.next().await,
            JsonMessages::Array(messages) => Ok(messages.pop_front()),
        }
    }
}

fn array(
    body: &[u8],
    desc: &MessageDescriptor,
    options: JsonOptions,
) -> Result<VecDeque<DynamicMessage>, GrpcError> {
    let Value::Array(items) = body_value(body, options)? else {
        return Err(TranscodeError::InvalidValue(
            "expected a JSON array of messages, or NDJSON".into(),
        )
        .into());
    };
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            message_from_value(desc, item, options).map_err(|e| at_item("element", index, e))
        })
        .collect()
}

/// Prefixes an error with the position of the offending message.
fn at_item(what: &str, index: usize, error: TranscodeError) -> GrpcError {
    let at = |detail: String| format!("{what} {index}: {detail}");
    let error = match error {
        TranscodeError::MalformedJson(detail) => TranscodeError::MalformedJson(at(detail)),
        TranscodeError::UnknownField(detail) => TranscodeError::UnknownField(at(detail)),
        TranscodeError::InvalidValue(detail) => TranscodeError::InvalidValue(at(detail)),
        other => TranscodeError::InvalidValue(at(other.to_string())),
    };
    error.into()
}

/// NDJSON, one message per non-blank line.
pub struct LineReader {
    body: GatewayBody,
    buffer: BytesMut,
    ended: bool,
    line: usize,
    desc: MessageDescriptor,
    options: JsonOptions,
}

impl LineReader {
    async fn next(&mut self) -> Result<Option<DynamicMessage>, GrpcError> {
        loop {
            let newline = self.buffer.iter().position(|b| *b == b'\n');
            let line = match (newline, self.ended) {
                (Some(at), _) => self.buffer.split_to(at + 1),
                (None, true) if !self.buffer.is_empty() => self.buffer.split(),
                (None, true) => return Ok(None),
                (None, false) => {
                    self.pull().await?;
                    continue;
                }
            };
            self.line += 1;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let message = message_from_json(&self.desc, &line, self.options)
                .map_err(|e| at_item("line", self.line, e))?;
            return Ok(Some(message));
        }
    }

    /// Appends the next data chunk, or marks the end.
    async fn pull(&mut self) -> Result<(), GrpcError> {
        match self.body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    self.buffer.extend_from_slice(&data);
                }
                Ok(())
            }
            Some(Err(error)) => Err(client_body_error(error)),
            None => {
                self.ended = true;
                Ok(())
            }
        }
    }

    async fn read_to_end(&mut self) -> Result<BytesMut, GrpcError> {
        while !self.ended {
            self.pull().await?;
        }
        Ok(self.buffer.split())
    }
}
