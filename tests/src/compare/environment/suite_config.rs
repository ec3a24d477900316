//! The gateway config the suite measures: the repository's routes.yaml,
//! its backend URLs pointed at the running mocks, plus the suite's own
//! routes when this build accepts them.
//!
//! The suite's routes are the order-details composition without caches, in
//! parallel and in sequential mode, so that it makes the same four calls
//! as the chatty client (the shipped route caches the catalog). They are
//! inserted at the top of the `routes:` list and kept only if the whole
//! file still compiles: a build without composition runs every other
//! scenario, and the report says why the composed series were skipped.

use std::path::{Path, PathBuf};

use mock_backends::{MockBackends, ServiceKind, SubgraphKind, Subgraphs};

use crate::compare::CompareError;

/// The suite's composed routes (parallel, then sequential).
pub const COMPOSED_PATH: &str = "/compare/orders/{id}/details";
pub const COMPOSED_SEQUENTIAL_PATH: &str = "/compare/orders/{id}/details-sequential";

const COMPOSED_ROUTES: &str = r#"
  # Added by the comparison suite: the order-details composition without
  # caches, in both modes, making the chatty client's four calls.
  - name: compare-order-details
    path: /compare/orders/{id}/details
    method: GET
    timeout: 5s
    compose:
      calls:
        order:    { backend: orders,   path: "/v1/orders/{id}" }
        customer: { backend: users,    path: "/v1/users/{order.customer_id}" }
        products: { backend: products, path: "/v1/products?ids={order.items[*].product_id|join}" }
        payment:  { backend: payments, path: "/v1/payments/{id}" }
  - name: compare-order-details-sequential
    path: /compare/orders/{id}/details-sequential
    method: GET
    timeout: 5s
    compose:
      sequential: true
      calls:
        order:    { backend: orders,   path: "/v1/orders/{id}" }
        customer: { backend: users,    path: "/v1/users/{order.customer_id}" }
        products: { backend: products, path: "/v1/products?ids={order.items[*].product_id|join}" }
        payment:  { backend: payments, path: "/v1/payments/{id}" }
"#;

/// The config file written, and why the suite's own routes were left out
/// (if they were).
#[derive(Debug)]
pub struct SuiteConfig {
    pub path: PathBuf,
    pub rejected_routes: Option<String>,
}

/// Writes the config into `dir`, with `proto/` linked beside it (the gRPC
/// bridge resolves its .proto paths from the config's folder) and the
/// repository's `supergraph.graphql` pointed at the running subgraphs.
pub fn write(
    dir: &Path,
    mocks: &MockBackends,
    subgraphs: &Subgraphs,
) -> Result<SuiteConfig, CompareError> {
    let repo = crate::gateway::repo_path("");
    let source = std::fs::read_to_string(repo.join("routes.yaml"))
        .map_err(|e| CompareError::Start(format!("read routes.yaml: {e}")))?;
    let shipped = point_at_mocks(source, mocks);
    let io = |e: std::io::Error| CompareError::Output(dir.display().to_string(), e);
    std::fs::create_dir_all(dir).map_err(io)?;
    link_protos(&repo.join("proto"), &dir.join("proto")).map_err(io)?;
    write_supergraph(&repo, dir, subgraphs).map_err(io)?;
    let path = dir.join("routes.yaml");
    std::fs::write(&path, with_suite_routes(&shipped)).map_err(io)?;
    let rejected_routes = match gateway::config::load_file(&path) {
        Ok(_) => None,
        Err(errors) => {
            std::fs::write(&path, &shipped).map_err(io)?;
            Some(
                errors
                    .to_string()
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
            )
        }
    };
    Ok(SuiteConfig {
        path,
        rejected_routes,
    })
}

/// Copies `supergraph.graphql` (if the repository has one) with every
/// default subgraph URL replaced by the running subgraph's.
/// Points `link` at the repository's protos, replacing a link left by an
/// earlier run (which may dangle, e.g. into a deleted checkout).
fn link_protos(protos: &Path, link: &Path) -> std::io::Result<()> {
    if std::fs::read_link(link).is_ok_and(|target| target == protos) {
        return Ok(());
    }
    if std::fs::symlink_metadata(link).is_ok() {
        std::fs::remove_file(link)?;
    }
    std::os::unix::fs::symlink(protos, link)
}

fn write_supergraph(repo: &Path, dir: &Path, subgraphs: &Subgraphs) -> std::io::Result<()> {
    let Ok(source) = std::fs::read_to_string(repo.join("supergraph.graphql")) else {
        return Ok(());
    };
    let text = SubgraphKind::ALL.iter().fold(source, |text, kind| {
        text.replace(
            &format!("http://{}/graphql", kind.default_addr()),
            &subgraphs.get(*kind).url(),
        )
    });
    std::fs::write(dir.join("supergraph.graphql"), text)
}

fn point_at_mocks(yaml: String, mocks: &MockBackends) -> String {
    ServiceKind::ALL.iter().fold(yaml, |text, kind| {
        text.replace(
            &format!("http://{}", kind.default_addr()),
            &format!("http://{}", mocks.service(*kind).addr),
        )
    })
}

/// Inserts the suite's routes right after the `routes:` line.
fn with_suite_routes(yaml: &str) -> String {
    match yaml.find("\nroutes:\n") {
        Some(at) => {
            let split = at + "\nroutes:".len();
            format!(
                "{}{}{}",
                &yaml[..split],
                COMPOSED_ROUTES.trim_end(),
                &yaml[split..]
            )
        }
        None => yaml.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_routes_go_first_in_the_routes_list() {
        let yaml = "listen: x\nroutes:\n  - path: /a\n    backend: b\ngrpc:\n  protos: []\n";
        let merged = with_suite_routes(yaml);
        let suite = merged.find("compare-order-details").unwrap();
        assert!(merged.find("routes:").unwrap() < suite);
        assert!(suite < merged.find("- path: /a").unwrap());
        assert!(merged.ends_with("grpc:\n  protos: []\n"));
    }
}
