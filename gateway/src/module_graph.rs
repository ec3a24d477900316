//! The module graph rule, checked: `config` imports no handler or runtime
//! module (`compose`, `grpc`, `graphql`, `proxy`, `upstream`, `pipeline`,
//! `snapshot`, ...). Config is plain data; the runtime is built from it.
//!
//! Every `.rs` file of `src/config.rs` and `src/config/` is scanned for paths into those
//! modules, written from the crate root (`crate::compose`) or reached with
//! `super::` chains. Runs with the unit tests (`cargo test -p gateway`).

use std::path::{Path, PathBuf};

/// Modules `config` must not reach.
const FORBIDDEN: &[&str] = &[
    "admin", "compose", "dispatch", "events", "graphql", "grpc", "layers", "pipeline", "proxy",
    "reload", "runtime", "server", "snapshot", "upstream", "workers",
];

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// `config/compile/compose.rs` → `["config", "compile", "compose"]`.
fn module_path(relative: &str) -> Vec<String> {
    relative
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect()
}

/// The top-level module a path written at `module` starts in, if it
/// starts with `crate::` or `super::`.
fn top_module(module: &[String], path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split("::").collect();
    if segments.first() == Some(&"crate") {
        return segments.get(1).map(|s| (*s).to_owned());
    }
    let supers = segments.iter().take_while(|s| **s == "super").count();
    if supers == 0 {
        return None;
    }
    let base = module.len().checked_sub(supers)?;
    if base > 0 {
        return Some(module[0].clone());
    }
    segments.get(supers).map(|s| (*s).to_owned())
}

/// Every `crate::…` / `super::…` path in `source` (identifiers and `::`).
fn paths(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut previous = ' ';
    for (i, c) in source.char_indices() {
        let rest = &source[i..];
        let at_word = !(previous.is_ascii_alphanumeric() || previous == '_' || previous == ':');
        previous = c;
        if at_word && (rest.starts_with("crate::") || rest.starts_with("super::")) {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .unwrap_or(rest.len());
            found.push(rest[..end].to_owned());
        }
    }
    found
}

#[test]
fn config_imports_no_handler_or_runtime_module() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![src.join("config.rs")];
    rust_files(&src.join("config"), &mut files);
    let mut violations = Vec::new();
    for file in &files {
        let relative = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let module = module_path(&relative);
        let source = std::fs::read_to_string(file).unwrap();
        for path in paths(&source) {
            let Some(top) = top_module(&module, &path) else {
                continue;
            };
            if FORBIDDEN.contains(&top.as_str()) {
                violations.push(format!("{relative}: {path}"));
            }
        }
    }
    assert!(files.len() > 20, "scanned too few files: {}", files.len());
    assert!(
        violations.is_empty(),
        "config reaches handler/runtime modules:\n{}",
        violations.join("\n")
    );
}

#[test]
fn the_scanner_sees_crate_and_super_paths() {
    let module = module_path("config/compile/compose.rs");
    assert_eq!(
        top_module(&module, "crate::compose::ComposePlan"),
        Some("compose".into())
    );
    assert_eq!(top_module(&module, "super::routes"), Some("config".into()));
    assert_eq!(
        top_module(&module, "super::super::super::grpc::GrpcRoute"),
        Some("grpc".into())
    );
    assert_eq!(top_module(&module, "std::sync::Arc"), None);
    assert_eq!(
        paths("use crate::compose::x; a_crate::y; super::super::grpc::z"),
        vec!["crate::compose::x", "super::super::grpc::z"]
    );
}
