//! The ids in README's curl tour are real seeded ids, so the tour works.

use std::collections::HashSet;

use uuid::Uuid;

fn uuids_in(text: &str) -> Vec<Uuid> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(35))
        .filter_map(|start| text.get(start..start + 36))
        .filter_map(|candidate| Uuid::parse_str(candidate).ok())
        .collect()
}

#[test]
fn every_id_in_the_readme_is_seeded() {
    let readme = std::fs::read_to_string(tests::gateway::repo_path("README.md")).unwrap();
    let seeded: HashSet<Uuid> = mock_backends::seed::customer_ids()
        .into_iter()
        .chain(mock_backends::seed::product_ids())
        .chain(mock_backends::seed::order_ids())
        .collect();
    let found = uuids_in(&readme);
    assert!(found.len() >= 3, "the tour names seeded ids");
    for id in found {
        assert!(
            seeded.contains(&id),
            "README.md names {id}, which is not a seeded id"
        );
    }
}
