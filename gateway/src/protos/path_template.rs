//! `google.api.http` path templates, turned into route patterns.
//!
//! The template grammar (from google/api/http.proto):
//!
//! ```text
//! Template = "/" Segments [ Verb ] ;
//! Segments = Segment { "/" Segment } ;
//! Segment  = "*" | "**" | LITERAL | Variable ;
//! Variable = "{" FieldPath [ "=" Segments ] "}" ;
//! Verb     = ":" LITERAL ;
//! ```
//!
//! A template becomes an ordinary [`PathPattern`](crate::router::PathPattern)
//! string plus the [`Variable`]s that rebuild each bound field's value from
//! the captured parameters, so annotation routes go through the same route
//! table and conflict checks as every other route. `{order_id}` keeps its
//! name as the parameter; richer variables (`{name=shelves/*}`, dotted
//! field paths) get generated parameter names.

use std::fmt::Write as _;

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate {
    /// Route pattern syntax: `/v1/shelves/{_p0}/books/{book}`.
    pub pattern: String,
    pub variables: Vec<Variable>,
}

/// A field bound from the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// `["shelf", "name"]` for `{shelf.name}`.
    pub field_path: Vec<String>,
    /// How the field's value is rebuilt from the captures.
    pub parts: Vec<VariablePart>,
}

/// One `/`-separated piece of a variable's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariablePart {
    Literal(String),
    /// The value of this route parameter.
    Param(String),
}

impl Variable {
    /// The field's value from the captured parameters (already decoded).
    pub fn value(&self, param: impl Fn(&str) -> Option<String>) -> Option<String> {
        let mut pieces = Vec::with_capacity(self.parts.len());
        for part in &self.parts {
            match part {
                VariablePart::Literal(text) => pieces.push(text.clone()),
                VariablePart::Param(name) => pieces.push(param(name)?),
            }
        }
        Some(pieces.join("/"))
    }
}

/// Why a template cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("path template {template:?}: {problem}")]
pub struct TemplateError {
    pub template: String,
    pub problem: String,
}

/// Parses a template.
pub fn parse(template: &str) -> Result<PathTemplate, TemplateError> {
    let fail = |problem: &str| TemplateError {
        template: template.to_owned(),
        problem: problem.to_owned(),
    };
    let rest = template
        .strip_prefix('/')
        .ok_or_else(|| fail("must start with '/'"))?;
    let (body, verb) = split_verb(rest);
    let mut builder = Builder::default();
    for segment in split_top_level(body).map_err(|p| fail(&p))? {
        builder.segment(segment).map_err(|p| fail(&p))?;
    }
    if let Some(verb) = verb {
        builder.verb(verb).map_err(|p| fail(&p))?;
    }
    Ok(PathTemplate {
        pattern: builder.pattern,
        variables: builder.variables,
    })
}

/// Splits `a/b:verb` at the verb's colon (one outside braces, in the last segment).
fn split_verb(rest: &str) -> (&str, Option<&str>) {
    let last_segment_start = rest.rfind(['/', '}']).map_or(0, |i| i + 1);
    match rest[last_segment_start..].find(':') {
        Some(at) => (
            &rest[..last_segment_start + at],
            Some(&rest[last_segment_start + at + 1..]),
        ),
        None => (rest, None),
    }
}

/// Splits on `/` outside braces.
fn split_top_level(body: &str) -> Result<Vec<&str>, String> {
    let mut segments = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (index, ch) in body.char_indices() {
        match ch {
            '{' if depth == 0 => depth = 1,
            '{' => return Err("nested '{'".into()),
            '}' if depth == 1 => depth = 0,
            '}' => return Err("unbalanced '}'".into()),
            '/' if depth == 0 => {
                segments.push(&body[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unclosed '{'".into());
    }
    segments.push(&body[start..]);
    Ok(segments)
}

#[derive(Default)]
struct Builder {
    pattern: String,
    variables: Vec<Variable>,
    generated: usize,
    ended_with_wildcard: bool,
}

impl Builder {
    fn segment(&mut self, segment: &str) -> Result<(), String> {
        if self.ended_with_wildcard {
            return Err("'**' must be the last segment".into());
        }
        if let Some(inner) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            return self.variable(inner);
        }
        self.pattern.push('/');
        self.capture_or_literal(segment).map(|_| ())
    }

    /// Appends one segment (after its '/') and returns how it captures.
    fn capture_or_literal(&mut self, segment: &str) -> Result<VariablePart, String> {
        match segment {
            "*" => Ok(self.capture(false)),
            "**" => Ok(self.capture(true)),
            "" => Err("empty segment".into()),
            literal if literal.contains(['{', '}', '*', ':']) => {
                Err(format!("bad literal segment {literal:?}"))
            }
            literal => {
                self.pattern.push_str(literal);
                Ok(VariablePart::Literal(literal.to_owned()))
            }
        }
    }

    fn capture(&mut self, wildcard: bool) -> VariablePart {
        let name = format!("_p{}", self.generated);
        self.generated += 1;
        self.push_param(&name, wildcard);
        VariablePart::Param(name)
    }

    fn push_param(&mut self, name: &str, wildcard: bool) {
        let star = if wildcard { "*" } else { "" };
        let _ = write!(self.pattern, "{{{star}{name}}}");
        self.ended_with_wildcard = wildcard;
    }

    fn variable(&mut self, inner: &str) -> Result<(), String> {
        let (path, sub) = match inner.split_once('=') {
            Some((path, sub)) => (path, Some(sub)),
            None => (inner, None),
        };
        let field_path: Vec<String> = path.split('.').map(str::to_owned).collect();
        if field_path.iter().any(|f| !is_ident(f)) {
            return Err(format!("bad field path {path:?}"));
        }
        let parts = match sub {
            None | Some("*") if field_path.len() == 1 => {
                self.pattern.push('/');
                self.push_param(&field_path[0], false);
                vec![VariablePart::Param(field_path[0].clone())]
            }
            None => self.sub_segments("*")?,
            Some(sub) => self.sub_segments(sub)?,
        };
        self.variables.push(Variable { field_path, parts });
        Ok(())
    }

    fn sub_segments(&mut self, sub: &str) -> Result<Vec<VariablePart>, String> {
        let mut parts = Vec::new();
        for segment in sub.split('/') {
            if self.ended_with_wildcard {
                return Err("'**' must be the last segment".into());
            }
            self.pattern.push('/');
            parts.push(self.capture_or_literal(segment)?);
        }
        Ok(parts)
    }

    fn verb(&mut self, verb: &str) -> Result<(), String> {
        let ends_in_literal = !self.pattern.ends_with('}');
        if verb.is_empty() || verb.contains(['/', '{', '}', '*', ':']) {
            return Err(format!("bad verb {verb:?}"));
        }
        if !ends_in_literal {
            return Err(
                "a verb after a variable or '*' is not supported; end the path in a literal".into(),
            );
        }
        let _ = write!(self.pattern, ":{verb}");
        Ok(())
    }
}

fn is_ident(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(name: &str) -> VariablePart {
        VariablePart::Param(name.into())
    }

    #[test]
    fn simple_variable_keeps_its_name() {
        let parsed = parse("/v1/orders/{order_id}").unwrap();
        assert_eq!(parsed.pattern, "/v1/orders/{order_id}");
        assert_eq!(
            parsed.variables,
            vec![Variable {
                field_path: vec!["order_id".into()],
                parts: vec![param("order_id")]
            }]
        );
    }

    #[test]
    fn literal_verb_is_part_of_the_last_segment() {
        assert_eq!(
            parse("/v1/orders:batch").unwrap().pattern,
            "/v1/orders:batch"
        );
    }

    #[test]
    fn multi_segment_variable_rebuilds_its_value() {
        let parsed = parse("/v1/{name=shelves/*/books/*}").unwrap();
        assert_eq!(parsed.pattern, "/v1/shelves/{_p0}/books/{_p1}");
        let value =
            parsed.variables[0].value(|p| Some(if p == "_p0" { "s1".into() } else { "b2".into() }));
        assert_eq!(value.as_deref(), Some("shelves/s1/books/b2"));
    }

    #[test]
    fn double_star_becomes_a_trailing_wildcard() {
        let parsed = parse("/v1/files/{path=**}").unwrap();
        assert_eq!(parsed.pattern, "/v1/files/{*_p0}");
        assert!(parse("/v1/{path=**}/x").is_err());
    }

    #[test]
    fn dotted_field_path_gets_a_generated_param() {
        let parsed = parse("/v1/{order.id}/items").unwrap();
        assert_eq!(parsed.pattern, "/v1/{_p0}/items");
        assert_eq!(
            parsed.variables[0].field_path,
            vec!["order".to_owned(), "id".to_owned()]
        );
    }

    #[test]
    fn rejects_malformed_templates() {
        for bad in [
            "v1/x",
            "/v1/{id",
            "/v1/{a{b}}",
            "/v1//x",
            "/v1/{9x}",
            "/v1/{id}:cancel",
            "/v1/x:",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
