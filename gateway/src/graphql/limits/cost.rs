//! The cost of a document once its fragments are expanded, computed in
//! time linear in the document: every fragment is summarised once
//! (memoised), and a spread adds its fragment's summary instead of walking
//! it again. So `fragment F22 { ...F21 ...F21 }` costs one addition, while
//! its expanded size (2^22 fields) is still reported exactly (saturating).
//! A fragment that spreads itself, directly or through others, is found
//! on the way (the spec forbids cycles; walking one would never end).

use std::collections::HashMap;

use graphql_tools::parser::query::{Definition, Document, Selection, SelectionSet};

type Doc = Document<'static, String>;
type Set = SelectionSet<'static, String>;

/// The cost of one selection set with its fragments expanded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    /// Fields after fragment expansion, nested ones included.
    pub fields: u64,
    /// Fields directly in this set after merging its fragments (the root
    /// fields, for an operation).
    pub width: u64,
    /// The widest selection set nested below this one.
    pub widest_below: u64,
    /// Selection depth (a leaf field is 1).
    pub depth: u64,
    /// Aliased fields after fragment expansion.
    pub aliases: u64,
}

impl Cost {
    /// Adds the cost of a set merged into this one (a spread or an inline
    /// fragment): its fields join this set.
    fn merge(&mut self, other: Cost) {
        self.fields = self.fields.saturating_add(other.fields);
        self.width = self.width.saturating_add(other.width);
        self.widest_below = self.widest_below.max(other.widest_below);
        self.depth = self.depth.max(other.depth);
        self.aliases = self.aliases.saturating_add(other.aliases);
    }

    /// Adds one field whose own selection set costs `below`.
    fn add_field(&mut self, aliased: bool, below: Cost) {
        self.fields = self.fields.saturating_add(1).saturating_add(below.fields);
        self.width = self.width.saturating_add(1);
        self.widest_below = self.widest_below.max(below.width).max(below.widest_below);
        self.depth = self.depth.max(below.depth.saturating_add(1));
        self.aliases = self
            .aliases
            .saturating_add(u64::from(aliased))
            .saturating_add(below.aliases);
    }

    /// The widest selection set in this set or below it.
    pub fn widest(&self) -> u64 {
        self.width.max(self.widest_below)
    }
}

/// A fragment that spreads itself: the names along the cycle, first
/// repeated at the end (`A → B → A`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentCycle(pub Vec<String>);

enum State {
    Visiting,
    Done(Cost),
}

/// Summarises fragments on demand, each once.
pub struct CostAnalysis<'d> {
    fragments: HashMap<&'d str, &'d Set>,
    states: HashMap<&'d str, State>,
    /// The fragments being summarised, outermost first (for cycle paths).
    stack: Vec<&'d str>,
}

impl<'d> CostAnalysis<'d> {
    pub fn new(document: &'d Doc) -> Self {
        let mut fragments = HashMap::new();
        for definition in &document.definitions {
            if let Definition::Fragment(f) = definition {
                // A duplicate name is a validation error; the first counts.
                fragments.entry(f.name.as_str()).or_insert(&f.selection_set);
            }
        }
        CostAnalysis {
            fragments,
            states: HashMap::new(),
            stack: Vec::new(),
        }
    }

    /// The cost of `set`. An unknown fragment costs nothing here
    /// (validation reports it).
    pub fn selection_set(&mut self, set: &'d Set) -> Result<Cost, FragmentCycle> {
        let mut cost = Cost::default();
        for item in &set.items {
            match item {
                Selection::Field(field) => {
                    let below = self.selection_set(&field.selection_set)?;
                    cost.add_field(field.alias.is_some(), below);
                }
                Selection::InlineFragment(inline) => {
                    cost.merge(self.selection_set(&inline.selection_set)?);
                }
                Selection::FragmentSpread(spread) => {
                    cost.merge(self.fragment(&spread.fragment_name)?);
                }
            }
        }
        Ok(cost)
    }

    /// The cost of the fragment named `name`, memoised.
    pub fn fragment(&mut self, name: &str) -> Result<Cost, FragmentCycle> {
        let Some((&key, &set)) = self.fragments.get_key_value(name) else {
            return Ok(Cost::default());
        };
        match self.states.get(key) {
            Some(State::Done(cost)) => return Ok(*cost),
            Some(State::Visiting) => return Err(self.cycle_to(key)),
            None => {}
        }
        self.states.insert(key, State::Visiting);
        self.stack.push(key);
        let cost = self.selection_set(set)?;
        self.stack.pop();
        self.states.insert(key, State::Done(cost));
        Ok(cost)
    }

    fn cycle_to(&self, name: &str) -> FragmentCycle {
        let start = self.stack.iter().position(|n| *n == name).unwrap_or(0);
        let mut path: Vec<String> = self.stack[start..]
            .iter()
            .map(|n| (*n).to_owned())
            .collect();
        path.push(name.to_owned());
        FragmentCycle(path)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use graphql_tools::parser::query::OperationDefinition;

    fn parse(query: &str) -> Doc {
        graphql_tools::parser::parse_query::<String>(query)
            .unwrap()
            .into_static()
    }

    fn operation_cost(query: &str) -> Result<Cost, FragmentCycle> {
        let document = parse(query);
        let set = document
            .definitions
            .iter()
            .find_map(|d| match d {
                Definition::Operation(OperationDefinition::SelectionSet(s)) => Some(s.clone()),
                Definition::Operation(OperationDefinition::Query(q)) => {
                    Some(q.selection_set.clone())
                }
                _ => None,
            })
            .unwrap();
        CostAnalysis::new(&document).selection_set(&set)
    }

    /// `fragment F0 { id }`, `fragment Fk { ...Fk-1 ...Fk-1 }`, `{ customers { ...Fn } }`.
    pub(crate) fn fragment_bomb(levels: usize) -> String {
        let mut query =
            format!("{{ customers {{ ...F{levels} }} }}\nfragment F0 on Customer {{ id }}\n");
        for k in 1..=levels {
            query.push_str(&format!(
                "fragment F{k} on Customer {{ ...F{p} ...F{p} }}\n",
                p = k - 1
            ));
        }
        query
    }

    #[test]
    fn plain_fields_are_counted_with_width_depth_and_aliases() {
        let cost = operation_cost("{ a { b c: d { e } } f }").unwrap();
        assert_eq!(
            cost,
            Cost {
                fields: 5,
                width: 2,
                widest_below: 2,
                depth: 3,
                aliases: 1,
            }
        );
    }

    #[test]
    fn fragments_expand_into_their_spread_sites() {
        let query = "{ a { ...F ... on T { x } } } fragment F on T { y z: w { v } }";
        let cost = operation_cost(query).unwrap();
        // a, x, y, z, v
        assert_eq!(cost.fields, 5);
        assert_eq!(cost.width, 1);
        // `a` merges x, y and z.
        assert_eq!(cost.widest(), 3);
        assert_eq!(cost.depth, 3);
        assert_eq!(cost.aliases, 1);
    }

    #[test]
    fn the_fragment_bomb_is_measured_exactly_without_expanding_it() {
        let cost = operation_cost(&fragment_bomb(22)).unwrap();
        assert_eq!(cost.fields, 1 + (1 << 22));
        assert_eq!(cost.widest(), 1 << 22);
        assert_eq!(cost.depth, 2);
        // Far past u64: the count saturates instead of overflowing.
        let huge = operation_cost(&fragment_bomb(70)).unwrap();
        assert_eq!(huge.fields, u64::MAX);
    }

    #[test]
    fn repeated_spreads_reuse_the_memoised_fragment() {
        let query = "{ a { ...F ...F ...F } } fragment F on T { b c }";
        assert_eq!(operation_cost(query).unwrap().fields, 7);
    }

    #[test]
    fn a_fragment_cycle_is_reported_with_its_path() {
        let query = "{ ...A } fragment A on Q { ...B } fragment B on Q { x ...A }";
        assert_eq!(
            operation_cost(query).unwrap_err(),
            FragmentCycle(vec!["A".into(), "B".into(), "A".into()])
        );
        let direct = "{ ...A } fragment A on Q { ...A }";
        assert_eq!(
            operation_cost(direct).unwrap_err(),
            FragmentCycle(vec!["A".into(), "A".into()])
        );
    }

    #[test]
    fn unknown_fragments_cost_nothing() {
        assert_eq!(operation_cost("{ a ...Missing }").unwrap().fields, 1);
    }
}
