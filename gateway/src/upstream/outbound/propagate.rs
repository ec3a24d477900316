//! Applying header propagation rules (`propagate:`): pure, from the
//! client's headers to a derived call's headers. The names no rule may
//! touch are checked when the config is compiled
//! ([`crate::config::model::is_managed`]).

use http::HeaderMap;

use crate::config::model::HeaderRule;

/// Applies `rules` in order, reading `client` and writing `out`.
pub fn apply_rules(rules: &[HeaderRule], client: &HeaderMap, out: &mut HeaderMap) {
    for rule in rules {
        match rule {
            HeaderRule::Propagate {
                named,
                rename,
                default,
            } => {
                let target = rename.as_ref().unwrap_or(named);
                let mut values = client.get_all(named).iter().peekable();
                if values.peek().is_none() {
                    if let Some(value) = default {
                        out.insert(target.clone(), value.clone());
                    }
                    continue;
                }
                out.remove(target);
                for value in values {
                    out.append(target.clone(), value.clone());
                }
            }
            HeaderRule::Insert { name, value } => {
                out.insert(name.clone(), value.clone());
            }
            HeaderRule::Remove { named } => {
                out.remove(named);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::is_managed;
    use http::{HeaderName, HeaderValue};

    fn name(text: &'static str) -> HeaderName {
        HeaderName::from_static(text)
    }

    fn client() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_static("Bearer t"));
        headers.append("x-tenant", HeaderValue::from_static("a"));
        headers.append("x-tenant", HeaderValue::from_static("b"));
        headers
    }

    #[test]
    fn nothing_is_propagated_without_rules() {
        let mut out = HeaderMap::new();
        apply_rules(&[], &client(), &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn propagate_copies_every_value_under_its_name_or_the_new_one() {
        let rules = [
            HeaderRule::Propagate {
                named: name("authorization"),
                rename: None,
                default: None,
            },
            HeaderRule::Propagate {
                named: name("x-tenant"),
                rename: Some(name("x-tenant-id")),
                default: None,
            },
        ];
        let mut out = HeaderMap::new();
        apply_rules(&rules, &client(), &mut out);
        assert_eq!(out["authorization"], "Bearer t");
        let tenants: Vec<_> = out.get_all("x-tenant-id").iter().collect();
        assert_eq!(tenants, ["a", "b"]);
        assert!(!out.contains_key("x-tenant"));
    }

    #[test]
    fn a_default_is_sent_only_when_the_client_sent_nothing() {
        let rule = |named| HeaderRule::Propagate {
            named: name(named),
            rename: None,
            default: Some(HeaderValue::from_static("anonymous")),
        };
        let mut out = HeaderMap::new();
        apply_rules(
            &[rule("x-user"), rule("authorization")],
            &client(),
            &mut out,
        );
        assert_eq!(out["x-user"], "anonymous");
        assert_eq!(out["authorization"], "Bearer t");
    }

    #[test]
    fn later_rules_win_insert_replaces_and_remove_undoes() {
        let all = [
            HeaderRule::Propagate {
                named: name("authorization"),
                rename: None,
                default: None,
            },
            HeaderRule::Insert {
                name: name("x-source"),
                value: HeaderValue::from_static("global"),
            },
        ];
        let own = [
            HeaderRule::Remove {
                named: name("authorization"),
            },
            HeaderRule::Insert {
                name: name("x-source"),
                value: HeaderValue::from_static("subgraph"),
            },
        ];
        let mut out = HeaderMap::new();
        apply_rules(&all, &client(), &mut out);
        apply_rules(&own, &client(), &mut out);
        assert!(!out.contains_key("authorization"));
        assert_eq!(out["x-source"], "subgraph");
        assert_eq!(out.get_all("x-source").iter().count(), 1);
    }

    #[test]
    fn the_gateways_own_headers_are_managed() {
        for managed in ["x-request-id", "x-forwarded-for", "traceparent", "host"] {
            assert!(is_managed(&HeaderName::from_static(managed)));
        }
        assert!(!is_managed(&name("authorization")));
    }
}
