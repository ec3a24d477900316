//! Label values with a bounded number of distinct values: status classes,
//! normalised methods, and [`BoundedNames`] for names that come from
//! requests or subgraphs (GraphQL operation names, error codes).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use http::{Method, StatusCode};

/// The label value of a method outside the standard set (OpenTelemetry's
/// `http.request.method` rule).
pub const OTHER_METHOD: &str = "_OTHER";

/// The label value for names past a [`BoundedNames`] cap.
pub const OTHER_NAME: &str = "_other";

/// The route label of a request refused before routing (no route matched,
/// or the request was refused by the edge checks).
pub const UNMATCHED_ROUTE: &str = "_unmatched";

/// The standard methods, in their label order; anything else is `_OTHER`.
pub const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
];

/// How many method slots a per-route table needs (the standard ones and
/// `_OTHER`).
pub const METHOD_SLOTS: usize = METHODS.len() + 1;

/// The status classes, in their label order; anything outside 100..=599
/// is `other`.
pub const STATUS_CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"];

/// The slot of `method` in [`METHODS`], or the last slot for `_OTHER`.
pub fn method_index(method: &Method) -> usize {
    METHODS
        .iter()
        .position(|known| *known == method.as_str())
        .unwrap_or(METHODS.len())
}

/// The label value of a method slot.
pub fn method_label(index: usize) -> &'static str {
    METHODS.get(index).copied().unwrap_or(OTHER_METHOD)
}

/// The slot of `status` in [`STATUS_CLASSES`].
pub fn status_class_index(status: StatusCode) -> usize {
    match status.as_u16() {
        100..=599 => usize::from(status.as_u16() / 100) - 1,
        _ => STATUS_CLASSES.len() - 1,
    }
}

/// `2xx` for 200..=299, and so on.
pub fn status_class(status: StatusCode) -> &'static str {
    STATUS_CLASSES[status_class_index(status)]
}

/// A set of label values that stops growing at `cap` distinct values:
/// the first `cap` names seen are kept as they are, every later new name
/// is reported as [`OTHER_NAME`]. Names longer than `max_len` bytes are
/// reported as `_other` too, so neither the number of series nor their
/// size depends on what clients send.
#[derive(Debug)]
pub struct BoundedNames {
    cap: usize,
    max_len: usize,
    seen: Mutex<HashSet<Arc<str>>>,
}

impl BoundedNames {
    pub fn new(cap: usize, max_len: usize) -> Self {
        Self {
            cap,
            max_len,
            seen: Mutex::new(HashSet::new()),
        }
    }

    /// The label value for `name`.
    pub fn label(&self, name: &str) -> Arc<str> {
        if name.len() > self.max_len {
            return Arc::from(OTHER_NAME);
        }
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(known) = seen.get(name) {
            return Arc::clone(known);
        }
        if seen.len() >= self.cap {
            return Arc::from(OTHER_NAME);
        }
        let name: Arc<str> = Arc::from(name);
        seen.insert(Arc::clone(&name));
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_methods_keep_their_name_and_others_are_other() {
        for name in METHODS {
            let method = Method::from_bytes(name.as_bytes()).expect("method");
            assert_eq!(method_label(method_index(&method)), name);
        }
        let custom = Method::from_bytes(b"PURGE").expect("method");
        assert_eq!(method_label(method_index(&custom)), "_OTHER");
        assert_eq!(method_index(&custom), METHOD_SLOTS - 1);
        // Methods are case-sensitive: `get` is not GET.
        let lower = Method::from_bytes(b"get").expect("method");
        assert_eq!(method_label(method_index(&lower)), "_OTHER");
    }

    #[test]
    fn status_classes() {
        let class = |code: u16| status_class(StatusCode::from_u16(code).expect("status"));
        assert_eq!(class(101), "1xx");
        assert_eq!(class(200), "2xx");
        assert_eq!(class(304), "3xx");
        assert_eq!(class(404), "4xx");
        assert_eq!(class(499), "4xx");
        assert_eq!(class(503), "5xx");
        assert_eq!(class(600), "other");
        assert_eq!(class(999), "other");
    }

    #[test]
    fn bounded_names_stop_growing_at_their_cap() {
        let names = BoundedNames::new(2, 8);
        assert_eq!(&*names.label("First"), "First");
        assert_eq!(&*names.label("Second"), "Second");
        assert_eq!(&*names.label("Third"), "_other");
        // Names already seen keep their own label past the cap.
        assert_eq!(&*names.label("First"), "First");
        assert_eq!(&*names.label("Second"), "Second");
    }

    #[test]
    fn overlong_names_are_other_and_take_no_slot() {
        let names = BoundedNames::new(1, 4);
        assert_eq!(&*names.label("TooLong"), "_other");
        assert_eq!(&*names.label("Ok"), "Ok");
    }
}
