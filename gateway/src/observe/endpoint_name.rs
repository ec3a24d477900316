//! [`EndpointName`]: how the sinks name one upstream endpoint, built once
//! per endpoint with its pool and shared by every attempt's record.
//!
//! A measurement decided its shape: naming an attempt by two `Arc<str>`
//! (backend, endpoint) cost two reference-count writes on cache lines
//! every worker shares, the access log escaped both names again for
//! every record, and the metrics looked the endpoint's series up by name
//! in two maps. Here an attempt clones one `Arc`, the access log copies
//! names escaped once, and the metrics keep the endpoint's series in the
//! name itself after the first lookup.

use std::sync::{Arc, OnceLock};

use super::metrics::EndpointSeriesSlot;
use crate::json_write;

/// One upstream endpoint as logs, metrics and traces name it.
#[derive(Debug)]
pub struct EndpointName {
    /// The backend's name (from the config).
    pub backend: Arc<str>,
    /// The endpoint's base URL.
    pub endpoint: Arc<str>,
    /// `backend` as a JSON string (quoted and escaped).
    backend_json: Box<str>,
    /// `endpoint` as a JSON string (quoted and escaped).
    endpoint_json: Box<str>,
    /// The endpoint's metrics series, once a gateway's metrics resolved it.
    series: OnceLock<EndpointSeriesSlot>,
}

impl EndpointName {
    pub fn new(backend: &Arc<str>, endpoint: &Arc<str>) -> Arc<Self> {
        Arc::new(Self {
            backend: Arc::clone(backend),
            endpoint: Arc::clone(endpoint),
            backend_json: json_string(backend),
            endpoint_json: json_string(endpoint),
            series: OnceLock::new(),
        })
    }

    /// The backend's name as a JSON string, quotes included.
    pub fn backend_json(&self) -> &str {
        &self.backend_json
    }

    /// The endpoint's URL as a JSON string, quotes included.
    pub fn endpoint_json(&self) -> &str {
        &self.endpoint_json
    }

    /// Where the metrics keep this endpoint's series.
    pub(super) fn series_slot(&self) -> &OnceLock<EndpointSeriesSlot> {
        &self.series
    }
}

fn json_string(text: &str) -> Box<str> {
    let mut out = Vec::with_capacity(text.len() + 2);
    json_write::string(&mut out, text);
    // JSON text written from a `str` is UTF-8.
    String::from_utf8(out).unwrap_or_default().into_boxed_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_json_forms_are_what_serde_json_writes() {
        let name = EndpointName::new(&Arc::from("or\"ders"), &Arc::from("http://h:1/a\\b"));
        assert_eq!(
            name.backend_json(),
            serde_json::to_string("or\"ders").expect("json")
        );
        assert_eq!(
            name.endpoint_json(),
            serde_json::to_string("http://h:1/a\\b").expect("json")
        );
        assert_eq!(&*name.backend, "or\"ders");
        assert_eq!(&*name.endpoint, "http://h:1/a\\b");
    }
}
