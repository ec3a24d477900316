//! Path patterns: `/v1/orders/{id}` with an optional trailing `{*rest}`.

use std::fmt;

/// A validated route path pattern.
///
/// Syntax: literal segments, whole-segment parameters `{name}`, and an
/// optional trailing wildcard `{*name}` that captures the rest of the path
/// (slashes included). The syntax is matchit's, so the pattern string is
/// handed to the matcher unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathPattern {
    raw: String,
    params: Vec<String>,
    wildcard: Option<String>,
}

/// Why a pattern string is not a valid [`PathPattern`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("path pattern must start with '/'")]
    NoLeadingSlash,
    #[error("segment {segment:?}: a parameter must fill a whole segment, like {{id}}")]
    PartialParam { segment: String },
    #[error("parameter name {name:?} must be letters, digits and '_', not starting with a digit")]
    BadParamName { name: String },
    #[error("parameter {name:?} appears twice")]
    DuplicateParam { name: String },
    #[error("wildcard {{*{name}}} must be the last segment")]
    WildcardNotLast { name: String },
    #[error("segment {segment:?} contains {ch:?}, which is not allowed in a path pattern")]
    BadCharacter { segment: String, ch: char },
    #[error("segment {segment:?} is a dot segment; patterns must be normalized")]
    DotSegment { segment: String },
}

impl PathPattern {
    /// Parses and validates a pattern.
    pub fn parse(raw: &str) -> Result<Self, PatternError> {
        let rest = raw.strip_prefix('/').ok_or(PatternError::NoLeadingSlash)?;
        let mut params: Vec<String> = Vec::new();
        let mut wildcard = None;
        let segments: Vec<&str> = rest.split('/').collect();
        for (index, segment) in segments.iter().enumerate() {
            if let Some(name) = wildcard.as_ref() {
                return Err(PatternError::WildcardNotLast {
                    name: String::clone(name),
                });
            }
            match parse_segment(segment)? {
                Segment::Literal => {}
                Segment::Param(name) => push_unique(&mut params, name)?,
                Segment::Wildcard(name) => {
                    push_unique(&mut params, name.clone())?;
                    wildcard = Some(name);
                    let _ = index;
                }
            }
        }
        Ok(Self {
            raw: raw.to_owned(),
            params,
            wildcard,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Every captured parameter name, the wildcard's included, in order.
    pub fn param_names(&self) -> impl Iterator<Item = &str> {
        self.params.iter().map(String::as_str)
    }

    /// Whether the pattern ends in a `{*rest}` wildcard.
    pub fn has_wildcard(&self) -> bool {
        self.wildcard.is_some()
    }

    /// The literal text before the first parameter: the longest static
    /// prefix every matching path starts with.
    pub fn static_prefix(&self) -> &str {
        match self.raw.find('{') {
            Some(at) => &self.raw[..at],
            None => &self.raw,
        }
    }
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

enum Segment {
    Literal,
    Param(String),
    Wildcard(String),
}

fn parse_segment(segment: &str) -> Result<Segment, PatternError> {
    if segment == "." || segment == ".." {
        return Err(PatternError::DotSegment {
            segment: segment.to_owned(),
        });
    }
    if let Some(inner) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
        let (name, is_wildcard) = match inner.strip_prefix('*') {
            Some(name) => (name, true),
            None => (inner, false),
        };
        check_param_name(name)?;
        return Ok(if is_wildcard {
            Segment::Wildcard(name.to_owned())
        } else {
            Segment::Param(name.to_owned())
        });
    }
    if segment.contains('{') || segment.contains('}') {
        return Err(PatternError::PartialParam {
            segment: segment.to_owned(),
        });
    }
    if let Some(ch) = segment.chars().find(|c| !is_pattern_char(*c)) {
        return Err(PatternError::BadCharacter {
            segment: segment.to_owned(),
            ch,
        });
    }
    Ok(Segment::Literal)
}

/// RFC 3986 `pchar` minus percent-escapes: patterns are written decoded.
fn is_pattern_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@".contains(c)
}

fn check_param_name(name: &str) -> Result<(), PatternError> {
    let mut chars = name.chars();
    let valid_start = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if valid_start && chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Ok(())
    } else {
        Err(PatternError::BadParamName {
            name: name.to_owned(),
        })
    }
}

fn push_unique(params: &mut Vec<String>, name: String) -> Result<(), PatternError> {
    if params.contains(&name) {
        return Err(PatternError::DuplicateParam { name });
    }
    params.push(name);
    Ok(())
}
