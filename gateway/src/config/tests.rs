//! Config loading tests: whole files in, compiled config or errors out.

use super::*;

#[test]
fn scratch() {
    let errors = load_str(include_str!("testdata/many_mistakes.yaml"), "routes.yaml").unwrap_err();
    println!("{errors}");
    let ok = load_str(include_str!("../../../routes.yaml"), "routes.yaml");
    println!(
        "{:?}",
        ok.map(|c| c.routes.len()).map_err(|e| e.to_string())
    );
}
