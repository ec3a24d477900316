//! Rejects request paths whose meaning depends on who decodes them.

/// Why a request path is refused before routing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path must start with '/'")]
    NotAbsolute,
    #[error("path contains a dot segment ({segment:?})")]
    DotSegment { segment: String },
    #[error("path contains an encoded slash or backslash ({escape})")]
    EncodedSeparator { escape: String },
    #[error("path contains an encoded dot segment ({segment:?})")]
    EncodedDotSegment { segment: String },
    #[error("path contains a backslash")]
    Backslash,
    #[error("path contains an encoded NUL byte")]
    EncodedNul,
    #[error("path contains a malformed percent-escape")]
    BadEscape,
}

/// Checks a raw (undecoded) request path.
///
/// The router matches on the raw path and the proxy forwards the same raw
/// path. That is only safe if no backend could normalise the path into a
/// different route, so dot segments (raw or encoded), encoded slashes and
/// backslashes, and encoded NULs are refused.
pub fn check_path(path: &str) -> Result<(), PathError> {
    let rest = path.strip_prefix('/').ok_or(PathError::NotAbsolute)?;
    // Every refusal below needs a `.`, a `%` or a `\`: a path with none
    // of them (most paths) is safe after one vectorised scan. Checking
    // each segment cost about 700 instructions for a 48-byte path
    // (callgrind, docs/latency-comparison.md, 2026-12-02, evening).
    if memchr::memchr3(b'.', b'%', b'\\', rest.as_bytes()).is_none() {
        return Ok(());
    }
    check_segments(rest)
}

/// The full check of a path after its leading `/`, for a path with a
/// `.`, `%` or `\` somewhere.
fn check_segments(rest: &str) -> Result<(), PathError> {
    if rest.contains('\\') {
        return Err(PathError::Backslash);
    }
    for segment in rest.split('/') {
        check_segment(segment)?;
    }
    Ok(())
}

fn check_segment(segment: &str) -> Result<(), PathError> {
    if segment == "." || segment == ".." {
        return Err(PathError::DotSegment {
            segment: segment.to_owned(),
        });
    }
    let bytes = segment.as_bytes();
    let mut decoded_dots = 0usize;
    let mut decoded_len = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let byte = if bytes[i] == b'%' {
            let escape = segment.get(i..i + 3).ok_or(PathError::BadEscape)?;
            let value = u8::from_str_radix(&escape[1..], 16).map_err(|_| PathError::BadEscape)?;
            match value {
                b'/' | b'\\' => {
                    return Err(PathError::EncodedSeparator {
                        escape: escape.to_owned(),
                    });
                }
                0 => return Err(PathError::EncodedNul),
                _ => {}
            }
            i += 3;
            value
        } else {
            i += 1;
            bytes[i - 1]
        };
        decoded_len += 1;
        if byte == b'.' {
            decoded_dots += 1;
        }
    }
    if decoded_len > 0 && decoded_len <= 2 && decoded_dots == decoded_len {
        return Err(PathError::EncodedDotSegment {
            segment: segment.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fast path answers exactly as the full check for every path of
    /// up to five bytes over an alphabet holding each byte a rule looks at
    /// (and hex digits, for escapes).
    #[test]
    fn the_fast_path_agrees_with_the_full_check() {
        const ALPHABET: &[u8] = b"/.%\\a2eF0";
        let mut paths = vec![b"/".to_vec()];
        let mut last = paths.clone();
        for _ in 0..5 {
            last = last
                .iter()
                .flat_map(|path| {
                    ALPHABET.iter().map(move |byte| {
                        let mut longer = path.clone();
                        longer.push(*byte);
                        longer
                    })
                })
                .collect();
            paths.extend(last.iter().cloned());
        }
        assert!(paths.len() > 60_000);
        for path in paths {
            let path = String::from_utf8(path).expect("ascii");
            assert_eq!(check_path(&path), check_segments(&path[1..]), "{path:?}");
        }
    }
}
