//! The rules, the guards, the per-request check and the filter, on a
//! small supergraph composed by our composer.

use std::collections::HashSet;
use std::sync::Arc;

use hive_router_query_planner::ast::document::NormalizedDocument;
use hive_router_query_planner::ast::normalization::normalize_operation;
use hive_router_query_planner::planner::{Planner, QueryPlannerOptions};
use hive_router_query_planner::utils::parsing::{safe_parse_operation, safe_parse_schema};
use serde_json::{Map, Value, json};

use super::*;
use crate::graphql::supergraph_compose::{SubgraphSdl, compose_supergraph};

const SDL: &str = r#"
type Query {
  me: User
  users: [User!]!
  nodes: [Node]
  audit: String @requiresScopes(scopes: [["admin"]])
}
type User @key(fields: "id") {
  id: ID!
  name: String
  email: String! @authenticated
  wallet: Wallet
}
type Wallet @requiresScopes(scopes: [["payments:read"]]) {
  balance: Float
  iban: String @requiresScopes(scopes: [["payments:read", "pii:read"], ["admin"]])
}
interface Node { id: ID! label: String }
type Doc implements Node { id: ID! label: String }
type Vault implements Node { id: ID! label: String @authenticated }
extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key", "@authenticated", "@requiresScopes"])
"#;

fn planner() -> Planner {
    let supergraph = compose_supergraph(&[SubgraphSdl {
        name: "a".into(),
        url: "http://a.test/graphql".into(),
        sdl: SDL.into(),
    }])
    .expect("composes");
    let schema = safe_parse_schema(&supergraph).expect("parses");
    Planner::new_from_supergraph(&schema, QueryPlannerOptions::default()).expect("planner")
}

fn normalized(planner: &Planner, query: &str) -> NormalizedDocument {
    let document = safe_parse_operation(query).expect("query parses");
    normalize_operation(&planner.supergraph, &document, None).expect("normalized")
}

fn principal(scopes: &[&str]) -> Principal {
    Principal {
        scopes: scopes.iter().map(|s| Arc::from(*s)).collect(),
        ..Principal::default()
    }
}

/// The error paths of the guards `caller` fails, and the filtered
/// operation's text.
fn check(query: &str, caller: Option<&Principal>, variables: Value) -> (Vec<Value>, String) {
    let planner = planner();
    let rules = AuthorizationRules::from_supergraph(&planner.supergraph);
    let normalized = normalized(&planner, query);
    let operation = normalized.executable_operation();
    let guards = OperationGuards::collect(&rules, &planner.supergraph, operation, "Query");
    let variables: Map<String, Value> = serde_json::from_value(variables).unwrap();
    let removed = unauthorized(&guards, caller, &variables);
    let (errors, _) = AuthorizedVariant::describe(&guards, &removed);
    let paths = errors.into_iter().map(|e| json!(e.path)).collect();
    let selections: HashSet<u32> = removed
        .iter()
        .map(|i| guards.guards[*i].selection)
        .collect();
    let filtered = filter::without_selections(operation, &selections)
        .map_or_else(|| "(nothing)".to_owned(), |op| op.to_string());
    (
        paths,
        filtered.split_whitespace().collect::<Vec<_>>().join(" "),
    )
}

#[test]
fn requires_scopes_is_an_or_of_ands_and_needs_a_caller() {
    let requirement = Requirement {
        authenticated: false,
        scopes: vec![
            vec![Arc::from("payments:read"), Arc::from("pii:read")],
            vec![Arc::from("admin")],
        ],
    };
    assert!(!requirement.is_met_by(None));
    assert!(!requirement.is_met_by(Some(&principal(&["payments:read"]))));
    assert!(requirement.is_met_by(Some(&principal(&["pii:read", "payments:read"]))));
    assert!(requirement.is_met_by(Some(&principal(&["admin"]))));
    let authenticated = Requirement {
        authenticated: true,
        scopes: Vec::new(),
    };
    assert!(!authenticated.is_met_by(None));
    assert!(authenticated.is_met_by(Some(&principal(&[]))));
}

#[test]
fn rules_are_read_from_fields_and_types() {
    let planner = planner();
    let rules = AuthorizationRules::from_supergraph(&planner.supergraph);
    assert!(
        rules
            .of_field("User", "email")
            .is_some_and(|r| r.authenticated)
    );
    assert_eq!(
        rules.of_type("Wallet").map(|r| r.scopes.clone()),
        Some(vec![vec![Arc::from("payments:read")]])
    );
    assert_eq!(
        rules.of_field("Wallet", "iban").map(|r| r.scopes.len()),
        Some(2)
    );
    assert!(rules.of_field("User", "name").is_none());
    assert!(rules.of_type("User").is_none());
}

#[test]
fn a_supergraph_without_directives_has_no_rules_and_no_guards() {
    let supergraph = compose_supergraph(&[SubgraphSdl {
        name: "a".into(),
        url: "http://a.test/graphql".into(),
        sdl: "type Query { a: String }".into(),
    }])
    .unwrap();
    let planner =
        Planner::new_from_supergraph(&safe_parse_schema(&supergraph).unwrap(), Default::default())
            .unwrap();
    let rules = AuthorizationRules::from_supergraph(&planner.supergraph);
    assert!(rules.is_empty());
    let operation = normalized(&planner, "{ a }");
    let guards = OperationGuards::collect(
        &rules,
        &planner.supergraph,
        operation.executable_operation(),
        "Query",
    );
    assert!(guards.is_empty());
}

#[test]
fn an_anonymous_caller_loses_every_guarded_field() {
    let (paths, filtered) = check(
        "{ me { name email wallet { balance iban } } users { id email } audit }",
        None,
        json!({}),
    );
    // `iban` is under the removed `wallet`: one error, for `wallet`.
    assert_eq!(
        paths,
        vec![
            json!(["me", "email"]),
            json!(["me", "wallet"]),
            json!(["users", "@", "email"]),
            json!(["audit"])
        ]
    );
    assert_eq!(filtered, "{me{name} users{id}}");
}

#[test]
fn scopes_decide_field_by_field() {
    let reader = principal(&["payments:read"]);
    let (paths, filtered) = check(
        "{ me { email wallet { balance iban } } }",
        Some(&reader),
        json!({}),
    );
    assert_eq!(paths, vec![json!(["me", "wallet", "iban"])]);
    assert_eq!(filtered, "{me{email wallet{balance}}}");
    let admin = principal(&["payments:read", "admin"]);
    let (paths, _) = check("{ me { wallet { iban } } audit }", Some(&admin), json!({}));
    assert!(paths.is_empty());
}

#[test]
fn a_selection_set_left_empty_keeps_typename_and_no_root_field_plans_nothing() {
    let (_, filtered) = check("{ me { email } }", None, json!({}));
    assert_eq!(filtered, "{me{__typename}}");
    let (paths, filtered) = check("{ audit }", None, json!({}));
    assert_eq!(paths, vec![json!(["audit"])]);
    assert_eq!(filtered, "(nothing)");
}

#[test]
fn skipped_fields_are_not_checked() {
    let query = "query($s: Boolean!) { me { name email @skip(if: $s) } }";
    let (paths, _) = check(query, None, json!({ "s": true }));
    assert!(paths.is_empty());
    let (paths, _) = check(query, None, json!({ "s": false }));
    assert_eq!(paths, vec![json!(["me", "email"])]);
}

#[test]
fn an_interface_field_needs_every_implementation_allowed() {
    let (paths, filtered) = check("{ nodes { id label } }", None, json!({}));
    assert_eq!(paths, vec![json!(["nodes", "@", "label"])]);
    assert!(!filtered.contains("label"), "{filtered}");
    let (paths, _) = check("{ nodes { ... on Doc { label } } }", None, json!({}));
    assert!(paths.is_empty(), "Doc.label is not guarded: {paths:?}");
    let (paths, _) = check("{ nodes { id label } }", Some(&principal(&[])), json!({}));
    assert!(paths.is_empty());
}

#[test]
fn variants_are_kept_by_outcome_and_bounded() {
    let variants = AuthorizedVariants::default();
    let variant = |removed: Vec<usize>| {
        Arc::new(AuthorizedVariant {
            removed: removed.into_boxed_slice(),
            plan: None,
            errors: Vec::new(),
            withheld: Vec::new(),
        })
    };
    variants.insert(variant(vec![0]));
    variants.insert(variant(vec![0, 2]));
    assert!(variants.get(&[0]).is_some());
    assert!(variants.get(&[0, 2]).is_some());
    assert!(variants.get(&[2]).is_none());
    for n in 10..40 {
        variants.insert(variant(vec![n]));
    }
    assert_eq!(variants.len(), MAX_VARIANTS);
    assert!(variants.get(&[0]).is_none(), "the oldest went first");
    assert!(variants.get(&[39]).is_some());
}

/// Through `prepare`: each caller gets the plan of what they may see,
/// whatever was prepared before for someone else.
#[tokio::test]
async fn a_plan_made_for_one_caller_is_never_served_to_a_less_privileged_one() {
    use crate::config::model::SupergraphSource;
    use crate::graphql::prepare::prepare;
    use crate::graphql::request::GraphqlRequest;
    use crate::graphql::service::GraphqlService;
    use crate::graphql::subgraph_pools::SubgraphPools;
    use crate::graphql::supergraph::Supergraph;

    let sdl = compose_supergraph(&[SubgraphSdl {
        name: "a".into(),
        url: "http://a.test/graphql".into(),
        sdl: SDL.into(),
    }])
    .unwrap();
    let pools = Arc::new(SubgraphPools::default());
    let supergraph = Arc::new(Supergraph::from_sdl(&sdl, &pools).expect("loads"));
    let service = GraphqlService::new(
        Default::default(),
        SupergraphSource::Subgraphs(Vec::new()),
        pools,
        Some(Arc::clone(&supergraph)),
    );
    let request = |principal: Option<Principal>| GraphqlRequest {
        query: "{ me { name email wallet { balance iban } } }".into(),
        principal,
        ..GraphqlRequest::default()
    };
    let fetched = |prepared: &crate::graphql::prepare::PreparedOperation| {
        serde_json::to_string(prepared.plan().expect("a plan").as_ref()).unwrap()
    };
    // The most privileged caller first: the whole operation's plan.
    let admin = Some(principal(&["payments:read", "admin"]));
    let full = prepare(&service, &supergraph, &request(admin.clone()))
        .await
        .unwrap();
    assert!(full.authorized.is_none());
    assert!(fetched(&full).contains("iban") && fetched(&full).contains("email"));
    // Then less privileged callers, each with its own variant.
    let reader = prepare(
        &service,
        &supergraph,
        &request(Some(principal(&["payments:read"]))),
    )
    .await
    .unwrap();
    assert!(reader.cache_hit, "the prepared operation is shared");
    let plan = fetched(&reader);
    assert!(
        plan.contains("email") && plan.contains("balance") && !plan.contains("iban"),
        "{plan}"
    );
    let anonymous = prepare(&service, &supergraph, &request(None))
        .await
        .unwrap();
    let plan = fetched(&anonymous);
    assert!(
        !plan.contains("email") && !plan.contains("wallet"),
        "{plan}"
    );
    assert_eq!(anonymous.operation.authorized.len(), 2);
    // The privileged caller still gets the whole plan afterwards.
    let again = prepare(&service, &supergraph, &request(admin))
        .await
        .unwrap();
    assert!(again.authorized.is_none() && fetched(&again).contains("iban"));
}
