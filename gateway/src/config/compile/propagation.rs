//! `propagate:` and a composition call's `propagate:` list: header
//! propagation rules, checked name by name (every bad or gateway-managed
//! name is its own error, at its line and column).

use http::{HeaderName, HeaderValue};

use super::super::errors::Diagnostics;
use super::super::model::{GraphqlConfig, HeaderRule, Propagation, SupergraphSource, is_managed};
use super::super::raw::{RawHeaderRule, RawPropagation, Text};

/// Compiles the top-level section. With `graphql.subgraphs` listed, a rule
/// list for a subgraph that is not among them is an error (with a
/// supergraph file the names are only known when it loads).
pub(super) fn compile_propagation(
    raw: Option<&RawPropagation>,
    graphql: Option<&GraphqlConfig>,
    diag: &mut Diagnostics,
) -> Propagation {
    let Some(raw) = raw else {
        return Propagation::default();
    };
    let listed = graphql.and_then(|config| match &config.source {
        SupergraphSource::Subgraphs(list) => Some(list),
        SupergraphSource::File(_) => None,
    });
    let mut subgraphs = std::collections::BTreeMap::new();
    for (name, rules) in &raw.subgraphs.0 {
        if let Some(list) = listed.filter(|list| !list.iter().any(|s| s.name == name.as_str())) {
            let known: Vec<&str> = list.iter().map(|s| s.name.as_str()).collect();
            diag.error(
                name.span(),
                format!(
                    "propagate.subgraphs: {:?} is not a subgraph of graphql.subgraphs ({})",
                    name.as_str(),
                    known.join(", ")
                ),
            );
        }
        let what = format!("propagate.subgraphs.{}", name.as_str());
        subgraphs.insert(name.as_str().to_owned(), compile_rules(rules, &what, diag));
    }
    Propagation {
        all: compile_rules(&raw.all, "propagate.all", diag),
        subgraphs,
    }
}

/// Compiles one rule list; `what` names it in messages.
pub(crate) fn compile_rules(
    raw: &[RawHeaderRule],
    what: &str,
    diag: &mut Diagnostics,
) -> Vec<HeaderRule> {
    raw.iter()
        .filter_map(|rule| compile_rule(rule, what, diag))
        .collect()
}

fn compile_rule(raw: &RawHeaderRule, what: &str, diag: &mut Diagnostics) -> Option<HeaderRule> {
    match raw {
        RawHeaderRule::Propagate(rule) => {
            let what = format!("{what}: propagate");
            let named = header_name(&rule.named, &format!("{what}.named"), diag);
            let rename = rule
                .rename
                .as_ref()
                .map(|text| header_name(text, &format!("{what}.rename"), diag));
            let default = rule
                .default
                .as_ref()
                .map(|text| header_value(text, &format!("{what}.default"), diag));
            Some(HeaderRule::Propagate {
                named: named?,
                rename: rename.map_or(Some(None), |name| name.map(Some))?,
                default: default.map_or(Some(None), |value| value.map(Some))?,
            })
        }
        RawHeaderRule::Insert(rule) => {
            let what = format!("{what}: insert");
            let name = header_name(&rule.name, &format!("{what}.name"), diag);
            let value = header_value(&rule.value, &format!("{what}.value"), diag);
            Some(HeaderRule::Insert {
                name: name?,
                value: value?,
            })
        }
        RawHeaderRule::Remove(rule) => Some(HeaderRule::Remove {
            named: header_name(&rule.named, &format!("{what}: remove.named"), diag)?,
        }),
    }
}

/// A valid header name the gateway does not manage itself.
fn header_name(text: &Text, what: &str, diag: &mut Diagnostics) -> Option<HeaderName> {
    let Ok(name) = HeaderName::from_bytes(text.as_bytes()) else {
        diag.error(
            text.span(),
            format!("{what}: \"{}\" is not a valid header name", text.as_str()),
        );
        return None;
    };
    if is_managed(&name) {
        diag.error(
            text.span(),
            format!(
                "{what}: \"{name}\" is set by the gateway itself (request id, forwarding, trace context or framing) and cannot be propagated, inserted or removed"
            ),
        );
        return None;
    }
    Some(name)
}

fn header_value(text: &Text, what: &str, diag: &mut Diagnostics) -> Option<HeaderValue> {
    HeaderValue::from_str(text)
        .map_err(|_| {
            diag.error(
                text.span(),
                format!(
                    "{what}: the value {:?} is not a valid header value (visible ASCII only, no line breaks)",
                    text.as_str()
                ),
            )
        })
        .ok()
}

#[cfg(test)]
mod tests {
    use crate::config::load_str;
    use crate::config::model::HeaderRule;

    #[test]
    fn rules_compile_in_order_global_and_per_subgraph() {
        let yaml = r#"
graphql:
  subgraphs: [{ name: products, url: "http://127.0.0.1:1/graphql" }]
propagate:
  all:
    - propagate: { named: Authorization }
    - propagate: { named: x-tenant, rename: x-tenant-id, default: none }
    - insert: { name: x-gateway, value: bff }
  subgraphs:
    products:
      - remove: { named: authorization }
"#;
        let config = load_str(yaml, "routes.yaml").unwrap();
        let all = &config.propagate.all;
        assert_eq!(all.len(), 3);
        assert!(
            matches!(&all[0], HeaderRule::Propagate { named, rename: None, default: None } if named == "authorization")
        );
        assert!(
            matches!(&all[1], HeaderRule::Propagate { rename: Some(r), default: Some(d), .. } if r == "x-tenant-id" && d == "none")
        );
        assert!(
            matches!(&all[2], HeaderRule::Insert { name, value } if name == "x-gateway" && value == "bff")
        );
        let [global, own] = config.propagate.for_subgraph("products");
        assert_eq!(global.len(), 3);
        assert!(matches!(&own[0], HeaderRule::Remove { named } if named == "authorization"));
        assert!(config.propagate.for_subgraph("other")[1].is_empty());
    }

    #[test]
    fn nothing_is_propagated_by_default() {
        let config = load_str("listen: 127.0.0.1:0\n", "routes.yaml").unwrap();
        assert!(config.propagate.all.is_empty());
        assert!(config.propagate.subgraphs.is_empty());
    }

    #[test]
    fn every_bad_rule_is_reported_at_its_position() {
        let yaml = r#"graphql:
  subgraphs: [{ name: products, url: "http://127.0.0.1:1/graphql" }]
backends:
  users: { url: "http://127.0.0.1:1" }
propagate:
  all:
    - propagate: { named: "bad name" }
    - propagate: { named: x-ok, rename: x-request-id }
    - insert: { name: x-a, value: "line\nbreak" }
    - remove: { named: traceparent }
  subgraphs:
    reviews:
      - insert: { name: host, value: h }
routes:
  - path: /c
    compose:
      calls:
        one:
          backend: users
          path: /x
          propagate:
            - propagate: { named: "x y" }
"#;
        let text = load_str(yaml, "routes.yaml").unwrap_err().to_string();
        insta::assert_snapshot!(text);
    }

    #[test]
    fn an_unknown_rule_kind_names_the_known_ones() {
        let yaml = "propagate:\n  all:\n    - rename: { named: x-b }\n";
        let text = load_str(yaml, "routes.yaml").unwrap_err().to_string();
        insta::assert_snapshot!(text);
    }
}
