//! Splits an operation at its `@defer` fragments: the primary operation
//! without them, and one operation per deferred fragment that selects the
//! path down to it from the root. Each part is an ordinary operation,
//! validated, planned and cached like any other.
//!
//! Only fragments deferred in the operation's own selection tree are
//! delivered later; `@defer` inside a named fragment's body, inside a
//! deferred fragment, in a mutation or subscription, or for a client that
//! does not accept incremental delivery is executed inline, which the
//! incremental-delivery RFC allows. `@defer(if: false)` is inline too.

use std::collections::{HashMap, HashSet};

use graphql_tools::parser::query::{
    Definition, Directive, Document, Field, FragmentDefinition, InlineFragment,
    OperationDefinition, Query, Selection, SelectionSet, TypeCondition, Value, VariableDefinition,
};
use serde_json::{Map, Value as Json};

type Doc = Document<'static, String>;
type Selections = SelectionSet<'static, String>;

/// At most this many fragments are deferred in one operation.
pub const MAX_DEFERRED: usize = 16;

/// One step from the root to a deferred fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathStep {
    /// A field, by response key.
    Field(String),
    /// An inline fragment's type condition on the way.
    Type(String),
}

/// A deferred fragment as its own operation.
#[derive(Debug, Clone)]
pub struct DeferredPart {
    pub query: String,
    pub label: Option<String>,
    pub path: Vec<PathStep>,
    /// The fragment's type condition, if it has one.
    pub type_condition: Option<String>,
}

/// The operations to run.
#[derive(Debug, Clone)]
pub struct Split {
    pub primary: String,
    pub deferred: Vec<DeferredPart>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the operation defers {0} fragments; at most {MAX_DEFERRED} may be deferred")]
pub struct TooManyDeferred(pub usize);

/// A fragment found deferred, with the fields that lead to it.
struct Found {
    chain: Vec<Link>,
    type_condition: Option<String>,
    selections: Selections,
    label: Option<String>,
}

/// A field on the way (its selections left out) or a type condition.
#[derive(Clone)]
enum Link {
    Field(Field<'static, String>),
    Type(String),
}

/// Splits `document`. With `incremental` false, or for anything but a
/// query, every `@defer` is removed and everything runs inline.
pub fn split(
    document: &Doc,
    operation_name: Option<&str>,
    variables: &Map<String, Json>,
    incremental: bool,
) -> Result<Split, TooManyDeferred> {
    let mut inline = document.clone();
    for definition in &mut inline.definitions {
        strip_defers(definition_selections(definition));
    }
    let chosen = choose_operation(document, operation_name);
    let Some(query) = chosen.filter(|_| incremental) else {
        prune_unused_variables(&mut inline);
        return Ok(Split {
            primary: inline.to_string(),
            deferred: Vec::new(),
        });
    };
    let fragments = fragments_by_name(&inline);
    let mut primary_selections = query.selection_set.clone();
    let mut found = Vec::new();
    let mut finder = Finder {
        fragments: &fragments,
        variables,
        chain: Vec::new(),
        found: &mut found,
    };
    finder.walk(&mut primary_selections);
    if found.len() > MAX_DEFERRED {
        return Err(TooManyDeferred(found.len()));
    }
    let fragment_list: Vec<_> = fragments.values().copied().collect();
    let primary = operation_document(&query, primary_selections, &fragment_list);
    let deferred = found
        .into_iter()
        .map(|found| {
            let path = found
                .chain
                .iter()
                .map(|link| match link {
                    Link::Field(field) => {
                        PathStep::Field(field.alias.clone().unwrap_or_else(|| field.name.clone()))
                    }
                    Link::Type(name) => PathStep::Type(name.clone()),
                })
                .collect();
            let selections = chain_selections(&found);
            DeferredPart {
                query: operation_document(&query, selections, &fragment_list),
                label: found.label,
                path,
                type_condition: found.type_condition,
            }
        })
        .collect();
    Ok(Split { primary, deferred })
}

/// The operation that runs: the named one, else the only one.
fn choose_operation<'d>(document: &'d Doc, name: Option<&str>) -> Option<Query<'static, String>> {
    let operations: Vec<&'d OperationDefinition<'static, String>> = document
        .definitions
        .iter()
        .filter_map(|d| match d {
            Definition::Operation(o) => Some(o),
            Definition::Fragment(_) => None,
        })
        .collect();
    let operation = match name {
        Some(name) => operations.into_iter().find(|o| match o {
            OperationDefinition::Query(q) => q.name.as_deref() == Some(name),
            _ => false,
        })?,
        None if operations.len() == 1 => operations.into_iter().next()?,
        None => return None,
    };
    match operation {
        OperationDefinition::Query(query) => Some(query.clone()),
        OperationDefinition::SelectionSet(selection_set) => Some(Query {
            position: selection_set.span.0,
            name: None,
            variable_definitions: Vec::new(),
            directives: Vec::new(),
            selection_set: selection_set.clone(),
        }),
        OperationDefinition::Mutation(_) | OperationDefinition::Subscription(_) => None,
    }
}

struct Finder<'a> {
    fragments: &'a HashMap<&'a str, &'a FragmentDefinition<'static, String>>,
    variables: &'a Map<String, Json>,
    chain: Vec<Link>,
    found: &'a mut Vec<Found>,
}

impl Finder<'_> {
    /// Removes the deferred fragments from `selections`, recording them.
    fn walk(&mut self, selections: &mut Selections) {
        let mut kept = Vec::with_capacity(selections.items.len());
        let mut deferred_any = false;
        for mut item in std::mem::take(&mut selections.items) {
            match &mut item {
                Selection::Field(field) => {
                    let mut link = field.clone();
                    link.selection_set.items.clear();
                    self.chain.push(Link::Field(link));
                    self.walk(&mut field.selection_set);
                    self.chain.pop();
                }
                Selection::InlineFragment(fragment) => {
                    if let Some(label) = self.deferred(&mut fragment.directives) {
                        self.record(
                            fragment.type_condition.as_ref().map(condition_name),
                            fragment.selection_set.clone(),
                            label,
                        );
                        deferred_any = true;
                        continue;
                    }
                    let condition = fragment.type_condition.as_ref().map(condition_name);
                    if let Some(name) = &condition {
                        self.chain.push(Link::Type(name.clone()));
                    }
                    self.walk(&mut fragment.selection_set);
                    if condition.is_some() {
                        self.chain.pop();
                    }
                }
                Selection::FragmentSpread(spread) => {
                    if let Some(label) = self.deferred(&mut spread.directives)
                        && let Some(definition) = self.fragments.get(spread.fragment_name.as_str())
                    {
                        let condition = condition_name(&definition.type_condition);
                        self.record(Some(condition), definition.selection_set.clone(), label);
                        deferred_any = true;
                        continue;
                    }
                }
            }
            kept.push(item);
        }
        selections.items = kept;
        if deferred_any {
            keep_valid(selections);
        }
    }

    /// Whether `directives` defer (`Some(label)`); removes `@defer` either way.
    fn deferred(&self, directives: &mut Vec<Directive<'static, String>>) -> Option<Option<String>> {
        let position = directives.iter().position(|d| d.name == "defer")?;
        let directive = directives.remove(position);
        let mut label = None;
        let mut active = true;
        for (name, value) in &directive.arguments {
            match (name.as_str(), value) {
                ("label", Value::String(text)) => label = Some(text.clone()),
                ("if", Value::Boolean(on)) => active = *on,
                ("if", Value::Variable(variable)) => {
                    active = self.variables.get(variable).and_then(Json::as_bool) != Some(false);
                }
                _ => {}
            }
        }
        active.then_some(label)
    }

    /// Records a deferred fragment; `@defer` nested in it runs inline
    /// with it.
    fn record(
        &mut self,
        type_condition: Option<String>,
        mut selections: Selections,
        label: Option<String>,
    ) {
        strip_defers(&mut selections);
        self.found.push(Found {
            chain: self.chain.clone(),
            type_condition,
            selections,
            label,
        });
    }
}

fn condition_name(condition: &TypeCondition<'static, String>) -> String {
    match condition {
        TypeCondition::On(name) => name.clone(),
    }
}

/// A selection set emptied by deferring keeps `__typename`, so it stays valid.
fn keep_valid(selections: &mut Selections) {
    if selections.items.is_empty() {
        selections
            .items
            .push(Selection::Field(typename_field(selections.span.0)));
    }
}

fn typename_field(position: graphql_tools::parser::Pos) -> Field<'static, String> {
    Field {
        position,
        alias: None,
        name: "__typename".to_owned(),
        arguments: Vec::new(),
        directives: Vec::new(),
        selection_set: SelectionSet {
            span: (position, position),
            items: Vec::new(),
        },
    }
}

/// The fields from the root down to the fragment, then the fragment.
fn chain_selections(found: &Found) -> Selections {
    let span = found.selections.span;
    let mut inner = SelectionSet {
        span,
        items: vec![Selection::InlineFragment(InlineFragment {
            position: span.0,
            type_condition: found.type_condition.clone().map(TypeCondition::On),
            directives: Vec::new(),
            selection_set: found.selections.clone(),
        })],
    };
    for link in found.chain.iter().rev() {
        let item = match link {
            Link::Field(field) => {
                let mut field = field.clone();
                field.selection_set = inner;
                Selection::Field(field)
            }
            Link::Type(name) => Selection::InlineFragment(InlineFragment {
                position: span.0,
                type_condition: Some(TypeCondition::On(name.clone())),
                directives: Vec::new(),
                selection_set: inner,
            }),
        };
        inner = SelectionSet {
            span,
            items: vec![item],
        };
    }
    inner
}

/// A document with `query` on `selections`, the fragments and variables
/// they use (unused ones would fail validation).
fn operation_document(
    query: &Query<'static, String>,
    selections: Selections,
    fragments: &[&FragmentDefinition<'static, String>],
) -> String {
    let by_name: HashMap<&str, &FragmentDefinition<'static, String>> =
        fragments.iter().map(|f| (f.name.as_str(), *f)).collect();
    let mut used_fragments = Vec::new();
    let mut seen = HashSet::new();
    let mut used_variables = HashSet::new();
    collect_uses(
        &selections,
        &by_name,
        &mut seen,
        &mut used_fragments,
        &mut used_variables,
    );
    for directive in &query.directives {
        for (_, value) in &directive.arguments {
            variables_in(value, &mut used_variables);
        }
    }
    let variable_definitions: Vec<VariableDefinition<'static, String>> = query
        .variable_definitions
        .iter()
        .filter(|v| used_variables.contains(v.name.as_str()))
        .cloned()
        .collect();
    let mut definitions = vec![Definition::Operation(OperationDefinition::Query(Query {
        position: query.position,
        name: query.name.clone(),
        variable_definitions,
        directives: query.directives.clone(),
        selection_set: selections,
    }))];
    definitions.extend(
        used_fragments
            .into_iter()
            .map(|f| Definition::Fragment(f.clone())),
    );
    Document { definitions }.to_string()
}

fn collect_uses<'f>(
    selections: &Selections,
    fragments: &HashMap<&str, &'f FragmentDefinition<'static, String>>,
    seen: &mut HashSet<String>,
    used: &mut Vec<&'f FragmentDefinition<'static, String>>,
    variables: &mut HashSet<String>,
) {
    for item in &selections.items {
        let (directives, nested) = match item {
            Selection::Field(field) => {
                for (_, value) in &field.arguments {
                    variables_in(value, variables);
                }
                (&field.directives, Some(&field.selection_set))
            }
            Selection::InlineFragment(fragment) => {
                (&fragment.directives, Some(&fragment.selection_set))
            }
            Selection::FragmentSpread(spread) => {
                if seen.insert(spread.fragment_name.clone())
                    && let Some(definition) = fragments.get(spread.fragment_name.as_str())
                {
                    used.push(definition);
                    collect_uses(&definition.selection_set, fragments, seen, used, variables);
                }
                (&spread.directives, None)
            }
        };
        for directive in directives {
            for (_, value) in &directive.arguments {
                variables_in(value, variables);
            }
        }
        if let Some(nested) = nested {
            collect_uses(nested, fragments, seen, used, variables);
        }
    }
}

fn variables_in(value: &Value<'static, String>, out: &mut HashSet<String>) {
    match value {
        Value::Variable(name) => {
            out.insert(name.clone());
        }
        Value::List(items) => items.iter().for_each(|v| variables_in(v, out)),
        Value::Object(fields) => fields.iter().for_each(|(_, v)| variables_in(v, out)),
        _ => {}
    }
}

/// The document's fragment definitions, by name.
fn fragments_by_name(document: &Doc) -> HashMap<&str, &FragmentDefinition<'static, String>> {
    document
        .definitions
        .iter()
        .filter_map(|d| match d {
            Definition::Fragment(f) => Some((f.name.as_str(), f)),
            Definition::Operation(_) => None,
        })
        .collect()
}

/// Drops the variable definitions an operation no longer uses (the
/// removed `@defer(if: $v)` may have been the only use).
fn prune_unused_variables(document: &mut Doc) {
    let fragments = fragments_by_name(document);
    let mut pruned = Vec::new();
    for (index, definition) in document.definitions.iter().enumerate() {
        let (selections, directives, definitions) = match definition {
            Definition::Operation(OperationDefinition::Query(q)) => {
                (&q.selection_set, &q.directives, &q.variable_definitions)
            }
            Definition::Operation(OperationDefinition::Mutation(m)) => {
                (&m.selection_set, &m.directives, &m.variable_definitions)
            }
            Definition::Operation(OperationDefinition::Subscription(s)) => {
                (&s.selection_set, &s.directives, &s.variable_definitions)
            }
            _ => continue,
        };
        let mut used = HashSet::new();
        collect_uses(
            selections,
            &fragments,
            &mut HashSet::new(),
            &mut Vec::new(),
            &mut used,
        );
        for directive in directives {
            for (_, value) in &directive.arguments {
                variables_in(value, &mut used);
            }
        }
        let kept: Vec<_> = definitions
            .iter()
            .filter(|v| used.contains(v.name.as_str()))
            .cloned()
            .collect();
        pruned.push((index, kept));
    }
    for (index, kept) in pruned {
        match &mut document.definitions[index] {
            Definition::Operation(OperationDefinition::Query(q)) => q.variable_definitions = kept,
            Definition::Operation(OperationDefinition::Mutation(m)) => {
                m.variable_definitions = kept
            }
            Definition::Operation(OperationDefinition::Subscription(s)) => {
                s.variable_definitions = kept
            }
            _ => {}
        }
    }
}

/// The selection set of an operation or fragment definition.
fn definition_selections<'d>(
    definition: &'d mut Definition<'static, String>,
) -> &'d mut Selections {
    match definition {
        Definition::Fragment(fragment) => &mut fragment.selection_set,
        Definition::Operation(OperationDefinition::SelectionSet(set)) => set,
        Definition::Operation(OperationDefinition::Query(q)) => &mut q.selection_set,
        Definition::Operation(OperationDefinition::Mutation(m)) => &mut m.selection_set,
        Definition::Operation(OperationDefinition::Subscription(s)) => &mut s.selection_set,
    }
}

/// Removes every `@defer`, keeping the fragments (inline execution).
fn strip_defers(selections: &mut Selections) {
    for item in &mut selections.items {
        match item {
            Selection::Field(field) => strip_defers(&mut field.selection_set),
            Selection::InlineFragment(fragment) => {
                fragment.directives.retain(|d| d.name != "defer");
                strip_defers(&mut fragment.selection_set);
            }
            Selection::FragmentSpread(spread) => spread.directives.retain(|d| d.name != "defer"),
        }
    }
}

#[cfg(test)]
mod tests;
