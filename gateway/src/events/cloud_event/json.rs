//! An event's JSON (the CloudEvents JSON format), as the stores keep it
//! and the NATS payload carries it: byte for byte what `serde_json`
//! writes for [`CloudEvent`] (the tests compare the two), through
//! [`crate::json_write`]. `serde_json`'s writer escaped every string a
//! byte at a time: about 4,800 instructions of the 33,000 a batched
//! JetStream publish cost per event (callgrind,
//! docs/latency-comparison.md "JetStream acks through the store's own
//! inbox").

use super::CloudEvent;
use crate::json_write;

impl CloudEvent {
    /// The event as one JSON object: the attributes in the struct's order,
    /// then the extensions in name order.
    pub fn to_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.estimated_json_len());
        out.extend_from_slice(b"{\"specversion\":");
        json_write::string(&mut out, &self.specversion);
        out.extend_from_slice(b",\"id\":");
        json_write::string(&mut out, &self.id);
        out.extend_from_slice(b",\"source\":");
        json_write::string(&mut out, &self.source);
        out.extend_from_slice(b",\"type\":");
        json_write::string(&mut out, &self.event_type);
        optional(&mut out, b",\"subject\":", self.subject.as_deref());
        optional(&mut out, b",\"time\":", self.time.as_deref());
        optional(
            &mut out,
            b",\"datacontenttype\":",
            self.datacontenttype.as_deref(),
        );
        if let Some(data) = &self.data {
            out.extend_from_slice(b",\"data\":");
            json_write::value(&mut out, data);
        }
        optional(&mut out, b",\"data_base64\":", self.data_base64.as_deref());
        for (name, value) in &self.extensions {
            out.push(b',');
            json_write::string(&mut out, name);
            out.push(b':');
            json_write::value(&mut out, value);
        }
        out.push(b'}');
        out
    }

    /// The JSON's length without `data`'s, plus room for a small `data`:
    /// one allocation for most events.
    fn estimated_json_len(&self) -> usize {
        const MEMBER_NAMES: usize = 100;
        const SMALL_DATA: usize = 192;
        let texts = [
            Some(&self.id),
            Some(&self.source),
            Some(&self.event_type),
            self.subject.as_ref(),
            self.time.as_ref(),
            self.datacontenttype.as_ref(),
            self.data_base64.as_ref(),
        ];
        let attributes: usize = texts.iter().flatten().map(|text| text.len() + 3).sum();
        MEMBER_NAMES + attributes + SMALL_DATA + self.extensions.len() * 64
    }
}

fn optional(out: &mut Vec<u8>, member: &[u8], value: Option<&str>) {
    if let Some(value) = value {
        out.extend_from_slice(member);
        json_write::string(out, value);
    }
}

#[cfg(test)]
mod tests;
