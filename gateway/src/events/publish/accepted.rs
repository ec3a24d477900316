//! The 202 bodies, written through [`crate::json_write`] (byte for byte
//! what `serde_json` writes, the tests compare): `{"id":..,"position":..,
//! "topic":..}` for one event, `{"topic":..,"events":[{"id":..,
//! "position":..},..]}` for a batch. `serde_json`'s writer cost about 900
//! instructions per event of a batch (callgrind, batches of 16 on
//! JetStream), most of it escaping the member names and the ids a byte
//! at a time.

use crate::json_write;

/// The body for one event.
pub(super) fn one(id: &str, position: u64, topic: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + id.len() + topic.len());
    out.extend_from_slice(b"{\"id\":");
    json_write::string(&mut out, id);
    out.extend_from_slice(b",\"position\":");
    out.extend_from_slice(itoa::Buffer::new().format(position).as_bytes());
    out.extend_from_slice(b",\"topic\":");
    json_write::string(&mut out, topic);
    out.push(b'}');
    out
}

/// A batch's body, one event at a time, in order.
pub(super) struct BatchBody {
    out: Vec<u8>,
    events: usize,
}

impl BatchBody {
    pub(super) fn new(topic: &str, events: usize) -> Self {
        let mut out = Vec::with_capacity(32 + topic.len() + events * 64);
        out.extend_from_slice(b"{\"topic\":");
        json_write::string(&mut out, topic);
        out.extend_from_slice(b",\"events\":[");
        Self { out, events: 0 }
    }

    pub(super) fn push(&mut self, id: &str, position: u64) {
        if self.events > 0 {
            self.out.push(b',');
        }
        self.events += 1;
        self.out.extend_from_slice(b"{\"id\":");
        json_write::string(&mut self.out, id);
        self.out.extend_from_slice(b",\"position\":");
        self.out
            .extend_from_slice(itoa::Buffer::new().format(position).as_bytes());
        self.out.push(b'}');
    }

    pub(super) fn finish(mut self) -> Vec<u8> {
        self.out.extend_from_slice(b"]}");
        self.out
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{BatchBody, one};

    const AWKWARD: &str = "quote \" backslash \\ newline \n é";

    #[test]
    fn one_events_body_is_what_serde_json_writes() {
        for (id, topic) in [("e-1", "orders"), (AWKWARD, AWKWARD), ("", "")] {
            let expected = json!({"id": id, "position": 42, "topic": topic});
            assert_eq!(one(id, 42, topic), serde_json::to_vec(&expected).unwrap());
        }
    }

    #[test]
    fn a_batchs_body_is_what_serde_json_writes() {
        for count in [0_u64, 1, 3] {
            let mut body = BatchBody::new(AWKWARD, 3);
            let mut events = Vec::new();
            for n in 0..count {
                let id = format!("{AWKWARD}-{n}");
                body.push(&id, u64::MAX - n);
                events.push(json!({"id": id, "position": u64::MAX - n}));
            }
            let expected = json!({"topic": AWKWARD, "events": events});
            assert_eq!(body.finish(), serde_json::to_vec(&expected).unwrap());
        }
    }
}
