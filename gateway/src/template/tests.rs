//! Template parsing and resolution.

use super::*;

fn field(name: &str) -> Segment {
    Segment::Field(name.to_owned())
}

struct Names;

impl Scope for Names {
    fn call_index(&self, name: &str) -> Option<usize> {
        ["order", "products"].iter().position(|call| *call == name)
    }

    fn has_param(&self, name: &str) -> bool {
        name == "id"
    }
}

#[test]
fn parses_literals_and_holes() {
    let template = StringTemplate::parse("/v1/users/{order.customer_id}").unwrap();
    assert_eq!(template.parts.len(), 2);
    assert_eq!(template.parts[0], Part::Literal("/v1/users/".into()));
    let expr = template.exprs().next().unwrap();
    assert_eq!(expr.root, Root::Name("order".into()));
    assert_eq!(expr.path, [field("customer_id")]);
}

#[test]
fn parses_wildcards_indices_and_join() {
    let template =
        StringTemplate::parse("/v1/products?ids={order.items[*].product_id|join}").unwrap();
    let expr = template.exprs().next().unwrap();
    assert_eq!(
        expr.path,
        [field("items"), Segment::Each, field("product_id")]
    );
    assert_eq!(expr.filter, Some(Filter::Join(",".into())));
    let expr = Expr::parse("order.items[2].id|join(;)").unwrap();
    assert_eq!(expr.path, [field("items"), Segment::Index(2), field("id")]);
    assert_eq!(expr.filter, Some(Filter::Join(";".into())));
    assert_eq!(expr.to_string(), "order.items[2].id|join(;)");
}

#[test]
fn doubled_braces_are_literal() {
    let template = StringTemplate::parse("{{x}} {id}").unwrap();
    assert_eq!(template.parts[0], Part::Literal("{x} ".into()));
    assert!(StringTemplate::parse("{{plain}}").unwrap().is_literal());
}

#[test]
fn a_single_expression_is_recognised() {
    assert!(
        StringTemplate::parse("{order.total}")
            .unwrap()
            .as_single_expr()
            .is_some()
    );
    assert!(
        StringTemplate::parse("total: {order.total}")
            .unwrap()
            .as_single_expr()
            .is_none()
    );
}

#[test]
fn syntax_errors_name_the_offset() {
    let cases = [
        ("/v1/{order", 4, "unclosed `{`"),
        ("/v1/}", 4, "unmatched `}`"),
        ("{}", 1, "expected a name"),
        ("{order.}", 7, "expected a field name"),
        ("{order[x]}", 6, "is not an index"),
        ("{order|upper}", 7, "unknown filter"),
        ("{order.a b}", 8, "unexpected ` `"),
    ];
    for (text, offset, message) in cases {
        let error = StringTemplate::parse(text).unwrap_err();
        assert_eq!(error.offset, offset, "{text}: {error}");
        assert!(error.message.contains(message), "{text}: {error}");
    }
}

#[test]
fn resolution_tells_calls_from_params() {
    let mut call = Expr::parse("products.items").unwrap();
    call.resolve(&Names).unwrap();
    assert_eq!(
        call.root,
        Root::Call {
            index: 1,
            name: "products".into()
        }
    );
    assert_eq!(call.call(), Some(1));
    let mut param = Expr::parse("id").unwrap();
    param.resolve(&Names).unwrap();
    assert_eq!(param.root, Root::Param("id".into()));
}

#[test]
fn unknown_names_and_param_paths_are_rejected() {
    let error = Expr::parse("ordr.id").unwrap().resolve(&Names).unwrap_err();
    assert!(
        error.contains("`ordr`, which is neither a call nor a path parameter"),
        "{error}"
    );
    let error = Expr::parse("id.x").unwrap().resolve(&Names).unwrap_err();
    assert!(error.contains("has no fields"), "{error}");
}
