//! Template expressions: `{id}`, `{order.customer_id}`,
//! `{order.items[*].product_id|join}`, and strings that mix them with text.
//!
//! Parsing is pure and knows nothing of calls or routes: an expression's
//! root is just a name. [`Expr::resolve`] later decides, against the route's
//! path parameters and the composition's call names, whether that root is a
//! parameter or a call; that is what gives the call graph its edges.
//!
//! This is the composition's template language, plain and pure, shared by
//! the config (which parses and checks templates) and `compose` (which
//! renders them per request): [`eval`] evaluates expressions against one
//! request's values, [`value`] is the JSON-shaped templates and [`shape`]
//! their `$from` views.

pub mod eval;
pub mod shape;
pub mod value;

use std::fmt;

/// One step into a JSON value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// `.name`
    Field(String),
    /// `[3]`
    Index(usize),
    /// `[*]`: the rest of the path is applied to every element.
    Each,
}

/// What the root of an expression names, once resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Root {
    /// A path parameter of the route (`{id}`); never followed by a path.
    Param(String),
    /// The JSON result of a call: its index in the plan, and its name.
    Call { index: usize, name: String },
    /// Not yet resolved (straight out of the parser).
    Name(String),
}

/// How a value is post-processed before it is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// An array becomes its elements joined with the separator (`,` by
    /// default): `|join` or `|join(;)`.
    Join(String),
}

/// `root.path[*].more|filter`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expr {
    pub root: Root,
    pub path: Vec<Segment>,
    pub filter: Option<Filter>,
}

/// A piece of a [`StringTemplate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Literal(String),
    Expr(Expr),
}

/// Text with `{expr}` holes. `{{` and `}}` stand for literal braces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StringTemplate {
    pub parts: Vec<Part>,
}

/// Why a template did not parse; `offset` is a byte offset in its text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (at offset {offset} of \"{text}\")")]
pub struct TemplateSyntaxError {
    pub text: String,
    pub offset: usize,
    pub message: String,
}

/// Names an expression may refer to, for [`Expr::resolve`].
pub trait Scope {
    /// The index of the call with this name.
    fn call_index(&self, name: &str) -> Option<usize>;
    /// Whether the route captures a path parameter with this name.
    fn has_param(&self, name: &str) -> bool;
}

impl StringTemplate {
    /// Parses `text`, with every `{...}` as an expression.
    pub fn parse(text: &str) -> Result<Self, TemplateSyntaxError> {
        let error = |offset: usize, message: &str| TemplateSyntaxError {
            text: text.to_owned(),
            offset,
            message: message.to_owned(),
        };
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text.char_indices().peekable();
        while let Some((at, c)) = rest.next() {
            match c {
                '{' if rest.next_if(|&(_, n)| n == '{').is_some() => literal.push('{'),
                '}' if rest.next_if(|&(_, n)| n == '}').is_some() => literal.push('}'),
                '}' => return Err(error(at, "unmatched `}` (write `}}` for a literal brace)")),
                '{' => {
                    let close = text[at..]
                        .find('}')
                        .ok_or_else(|| error(at, "unclosed `{`"))?;
                    let inner = &text[at + 1..at + close];
                    let expr = Expr::parse(inner)
                        .map_err(|(offset, message)| error(at + 1 + offset, &message))?;
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Expr(expr));
                    while rest.next_if(|&(i, _)| i <= at + close).is_some() {}
                }
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Self { parts })
    }

    /// The expression, when the whole template is exactly one `{expr}`.
    pub fn as_single_expr(&self) -> Option<&Expr> {
        match self.parts.as_slice() {
            [Part::Expr(expr)] => Some(expr),
            _ => None,
        }
    }

    pub fn exprs(&self) -> impl Iterator<Item = &Expr> {
        self.parts.iter().filter_map(|part| match part {
            Part::Expr(expr) => Some(expr),
            Part::Literal(_) => None,
        })
    }

    pub fn exprs_mut(&mut self) -> impl Iterator<Item = &mut Expr> {
        self.parts.iter_mut().filter_map(|part| match part {
            Part::Expr(expr) => Some(expr),
            Part::Literal(_) => None,
        })
    }

    /// The text of the literal parts (the whole text when there are no holes).
    pub fn literal_text(&self) -> String {
        self.parts
            .iter()
            .map(|part| match part {
                Part::Literal(text) => text.as_str(),
                Part::Expr(_) => "",
            })
            .collect()
    }

    /// Whether the template has no holes.
    pub fn is_literal(&self) -> bool {
        self.exprs().next().is_none()
    }
}

impl Expr {
    /// Parses the inside of `{...}`. Errors carry a byte offset into `text`.
    pub fn parse(text: &str) -> Result<Self, (usize, String)> {
        let (body, filter) = match text.split_once('|') {
            Some((body, filter)) => (
                body,
                Some(parse_filter(filter).map_err(|m| (body.len() + 1, m))?),
            ),
            None => (text, None),
        };
        let mut cursor = Cursor { text: body, at: 0 };
        let root = cursor.ident().ok_or((
            0,
            "expected a name, such as {id} or {order.customer_id}".to_owned(),
        ))?;
        let mut path = Vec::new();
        while !cursor.done() {
            path.push(cursor.segment()?);
        }
        Ok(Self {
            root: Root::Name(root.to_owned()),
            path,
            filter,
        })
    }

    /// Replaces a [`Root::Name`] with what it names. A name that is both a
    /// call and a parameter, or neither, is an error; so is a parameter
    /// followed by a path.
    pub fn resolve(&mut self, scope: &dyn Scope) -> Result<(), String> {
        let Root::Name(name) = &self.root else {
            return Ok(());
        };
        let call = scope.call_index(name);
        let param = scope.has_param(name);
        self.root = match (call, param) {
            (Some(_), true) => {
                return Err(format!(
                    "`{name}` is both a call and a path parameter; rename the call"
                ));
            }
            (Some(index), false) => Root::Call {
                index,
                name: name.clone(),
            },
            (None, true) if self.path.is_empty() => Root::Param(name.clone()),
            (None, true) => {
                return Err(format!(
                    "path parameter `{name}` is a string and has no fields (in {{{self}}})"
                ));
            }
            (None, false) => {
                return Err(format!(
                    "`{{{self}}}` names `{name}`, which is neither a call nor a path parameter of the route"
                ));
            }
        };
        Ok(())
    }

    /// The call this expression reads, if any.
    pub fn call(&self) -> Option<usize> {
        match self.root {
            Root::Call { index, .. } => Some(index),
            _ => None,
        }
    }
}

fn parse_filter(text: &str) -> Result<Filter, String> {
    let text = text.trim();
    if text == "join" {
        return Ok(Filter::Join(",".to_owned()));
    }
    if let Some(separator) = text
        .strip_prefix("join(")
        .and_then(|rest| rest.strip_suffix(')'))
    {
        return Ok(Filter::Join(separator.to_owned()));
    }
    Err(format!(
        "unknown filter `{text}`; the only filter is `join` or `join(SEPARATOR)`"
    ))
}

/// A byte cursor over an expression body.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    fn done(&self) -> bool {
        self.at >= self.text.len()
    }

    fn ident(&mut self) -> Option<&'a str> {
        let rest = &self.text[self.at..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .unwrap_or(rest.len());
        (len > 0).then(|| {
            self.at += len;
            &rest[..len]
        })
    }

    fn segment(&mut self) -> Result<Segment, (usize, String)> {
        let start = self.at;
        let rest = &self.text[self.at..];
        if rest.starts_with('.') {
            self.at += 1;
            let name = self
                .ident()
                .ok_or((self.at, "expected a field name after `.`".to_owned()))?;
            return Ok(Segment::Field(name.to_owned()));
        }
        if rest.starts_with('[') {
            let close = rest.find(']').ok_or((start, "unclosed `[`".to_owned()))?;
            self.at += close + 1;
            return match &rest[1..close] {
                "*" => Ok(Segment::Each),
                index => index.parse().map(Segment::Index).map_err(|_| {
                    (
                        start,
                        format!("`[{index}]` is not an index; use a number or `*`"),
                    )
                }),
            };
        }
        Err((
            start,
            format!(
                "unexpected `{}`; expected `.field`, `[N]` or `[*]`",
                &rest[..1]
            ),
        ))
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.root {
            Root::Param(name) | Root::Name(name) | Root::Call { name, .. } => f.write_str(name)?,
        }
        for segment in &self.path {
            match segment {
                Segment::Field(name) => write!(f, ".{name}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
                Segment::Each => f.write_str("[*]")?,
            }
        }
        match &self.filter {
            Some(Filter::Join(sep)) if sep == "," => f.write_str("|join"),
            Some(Filter::Join(sep)) => write!(f, "|join({sep})"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
