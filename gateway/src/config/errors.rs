//! Config errors: each one carries the file, line and column it points at.
//!
//! Loading never stops at the first mistake. Every step writes into one
//! [`Diagnostics`] collector; the caller turns it into [`ConfigErrors`],
//! sorted by position, whose `Display` is exactly what `gateway check`
//! prints: one `FILE:LINE:COL: message` per line.

use std::fmt;

use marked_yaml::Span;

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file label given to the loader (usually the path as typed).
    pub file: String,
    /// 1-based line and column; `None` for whole-file problems such as an
    /// unreadable file.
    pub position: Option<Position>,
    pub message: String,
}

/// A 1-based line and column in the source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.position {
            Some(Position { line, column }) => {
                write!(f, "{}:{line}:{column}: {}", self.file, self.message)
            }
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

/// Every problem found in a config file, sorted by position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors {
    errors: Vec<ConfigError>,
}

impl ConfigErrors {
    pub fn iter(&self) -> std::slice::Iter<'_, ConfigError> {
        self.errors.iter()
    }

    pub fn len(&self) -> usize {
        self.errors.len()
    }

    /// Always false for a value returned by the loader; here for clippy.
    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }
}

impl<'a> IntoIterator for &'a ConfigErrors {
    type Item = &'a ConfigError;
    type IntoIter = std::slice::Iter<'a, ConfigError>;

    fn into_iter(self) -> Self::IntoIter {
        self.errors.iter()
    }
}

/// One error per line, no trailing newline.
impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.errors.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Collects errors while one file is loaded and compiled.
#[derive(Debug)]
pub(crate) struct Diagnostics {
    file: String,
    errors: Vec<ConfigError>,
}

impl Diagnostics {
    pub(crate) fn new(file_label: &str) -> Self {
        Self {
            file: file_label.to_owned(),
            errors: Vec::new(),
        }
    }

    /// Records an error at the start of `span`.
    pub(crate) fn error(&mut self, span: &Span, message: impl Into<String>) {
        let position = span.start().map(|mark| Position {
            line: mark.line(),
            column: mark.column(),
        });
        self.push(position, message.into());
    }

    /// Records an error that has no position (e.g. an unreadable file).
    pub(crate) fn file_error(&mut self, message: impl Into<String>) {
        self.push(None, message.into());
    }

    /// Records an error in another file (a .proto the config names).
    pub(crate) fn error_in(
        &mut self,
        file: &str,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) {
        self.errors.push(ConfigError {
            file: file.to_owned(),
            position: Some(Position { line, column }),
            message: message.into(),
        });
    }

    fn push(&mut self, position: Option<Position>, message: String) {
        self.errors.push(ConfigError {
            file: self.file.clone(),
            position,
            message,
        });
    }

    pub(crate) fn error_count(&self) -> usize {
        self.errors.len()
    }

    pub(crate) fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// Every recorded error, sorted by position (ties keep the order they
    /// were found in). Never empty: a rejection always says why.
    pub(crate) fn into_errors(mut self) -> ConfigErrors {
        if self.errors.is_empty() {
            self.file_error("rejected without a recorded reason (this is a bug in the gateway)");
        }
        let mut errors = self.errors;
        errors.sort_by_key(|error| error.position);
        errors.dedup();
        ConfigErrors { errors }
    }
}

/// The closest candidate to a misspelt name, if one is close enough to be
/// a plausible typo: `"order"` → `"orders"`.
pub(crate) fn closest<'a>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (wanted.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|candidate| (strsim::levenshtein(wanted, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// `" (did you mean \"x\"?)"` or an empty string.
pub(crate) fn did_you_mean<'a>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> String {
    closest(wanted, candidates)
        .map(|name| format!(" (did you mean \"{name}\"?)"))
        .unwrap_or_default()
}
