//! routes.yaml: loading, validation and compilation, in two steps.
//!
//! 1. **Raw** (`raw`, `sections`): the YAML is parsed into a
//!    `marked_yaml::Node` tree, then each top-level section, each backend and
//!    each route is deserialised on its own into `deny_unknown_fields` serde
//!    types whose values carry their line and column.
//! 2. **Compile** (`compile`): the raw types become the immutable
//!    [`GatewayConfig`](model::GatewayConfig): durations and sizes parsed,
//!    backends resolved, path patterns parsed, rewrite templates checked,
//!    route conflicts found with `RouteTable::build`.
//!
//! Neither step stops at the first mistake: every error is collected into
//! [`ConfigErrors`], each as `FILE:LINE:COL: message`, sorted by position.
//! Only this module knows YAML; the rest of the gateway sees `model` types.
//!
//! # Adding a section
//!
//! * A **top-level section** (`grpc:` proto files, `graphql:` supergraph,
//!   resilience or security defaults): add a field to `raw::RawConfig`, its
//!   name to `sections::SECTIONS` and an arm to `sections::read_section`,
//!   then a `compile/<section>.rs` called from `compile::compile`, and a
//!   field on `model::GatewayConfig` for the result.
//! * A **route action** (`grpc:` transcoding, `compose:` aggregation): add
//!   the key to `raw::RawRoute`, then follow the three steps at the top of
//!   `compile/routes.rs`. A route must carry exactly one action key
//!   (`backend`, `grpc`, `compose`, ...); that rule is already enforced.
//! * A **per-route setting** shared by every action (retries, auth, rate
//!   limit): add it to `raw::RawRoute` and `model::RouteSpec`, and compile it
//!   in `compile/routes.rs::compile_route`.
//!   A setting that is a policy becomes a layer in the route's pipeline:
//!   `pipeline::policy_layers` (ARCHITECTURE.md, "Adding a policy layer").
//!   A setting only some actions apply goes in `compile/action_keys.rs`,
//!   so that the others refuse it.
//!
//! The user-facing reference is docs/configuration.md.

mod compile;
mod errors;
pub mod model;
mod raw;
mod raw_events;
mod raw_graphql;
mod raw_grpc;
mod raw_log;
mod raw_security;
mod raw_tls;
mod raw_tracing;
mod sections;
mod units;

#[cfg(test)]
mod events_tests;
#[cfg(test)]
mod health_tests;
#[cfg(test)]
mod log_tests;
#[cfg(test)]
mod rate_limit_tests;
#[cfg(test)]
mod resilience_tests;
#[cfg(test)]
mod security_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tls_tests;

/// The composition compiler (`compose:` input → `ComposeSpec`), public for
/// the benches.
pub use compile::compose::build as compose_build;

use std::path::Path;

use sha2::{Digest, Sha256};

pub use errors::{ConfigError, ConfigErrors, Position};
pub use model::GatewayConfig;

use errors::Diagnostics;

/// Reads and compiles a config file. Errors name the file as `path` is
/// written. An unreadable file is one error without a position.
pub fn load_file(path: &Path) -> Result<GatewayConfig, ConfigErrors> {
    let label = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => load_bytes(&bytes, &label, path.parent().unwrap_or(Path::new("."))),
        Err(error) => {
            let mut diag = Diagnostics::new(&label);
            diag.file_error(format!("cannot read file: {error}"));
            Err(diag.into_errors())
        }
    }
}

/// The `tracing:` section of a config file alone, for the binary to set
/// up its trace pipeline before anything else starts (the rest of the
/// file is not compiled: no protos are read). `None` when the file cannot
/// be read or the section has errors; the full load reports them.
pub fn load_tracing(path: &Path) -> Option<model::TracingSettings> {
    let source = std::fs::read_to_string(path).ok()?;
    let mut diag = Diagnostics::new(&path.display().to_string());
    let raw = sections::read(&source, &mut diag)?;
    let mut section_diag = Diagnostics::new("");
    let base_dir = path.parent().unwrap_or(Path::new("."));
    let settings = compile::compile_tracing(raw.tracing.as_ref(), base_dir, &mut section_diag);
    (!section_diag.has_errors()).then_some(settings)
}

/// What `gateway check FILE` runs: the same as [`load_file`]. Print the
/// `Err`'s `Display` (one `FILE:LINE:COL: message` per line) and exit 1.
pub fn check_file(path: &Path) -> Result<GatewayConfig, ConfigErrors> {
    load_file(path)
}

/// Only the `log:` section of a config file, so the binary can set up
/// its logs before it starts the gateway, which then loads the whole file
/// and reports every error. A file that cannot be read, or whose `log:`
/// section has a mistake, gives the defaults here.
pub fn load_log_settings(path: &Path) -> model::log::LogSettings {
    let Ok(source) = std::fs::read_to_string(path) else {
        return model::log::LogSettings::default();
    };
    let label = path.display().to_string();
    // Mistakes elsewhere in the file are not this function's to report.
    let Some(raw) = sections::read(&source, &mut Diagnostics::new(&label)) else {
        return model::log::LogSettings::default();
    };
    let mut diag = Diagnostics::new(&label);
    let base_dir = path.parent().unwrap_or(Path::new("."));
    let settings = compile::log::log_settings(raw.log.as_ref(), base_dir, &mut diag);
    if diag.has_errors() {
        return model::log::LogSettings::default();
    }
    settings
}

/// Refuses a reload to `next` that would drop every route `current`
/// serves, unless the file says so with `routes: []`: editors and deploy
/// tools truncate a file before writing it, and an empty file must not
/// take every route down. Refuses one that turns the listener's TLS on
/// or off too (the socket's protocol is fixed at start), and one that
/// changes `events.store` (the store is opened at start).
pub fn check_reload(
    next: &GatewayConfig,
    current: &GatewayConfig,
    file_label: &str,
) -> Result<(), ConfigErrors> {
    let mut diag = Diagnostics::new(file_label);
    if next.server.tls.is_some() != current.server.tls.is_some() {
        diag.file_error(
            "server.tls: turning TLS on or off on the listener needs a restart; the running listener is unchanged",
        );
    }
    let store = |config: &GatewayConfig| config.events.as_ref().map(|events| events.store.clone());
    if store(next) != store(current) {
        diag.file_error(
            "events.store: the event store is opened at start; adding, removing or changing it needs a restart (the running store is unchanged)",
        );
    }
    let drops_routes =
        next.routes.is_empty() && !current.routes.is_empty() && !next.routes_declared_empty;
    if drops_routes {
        diag.file_error(format!(
            "has no routes, so this reload would drop all {} routes that serve now; if that is intended, write `routes: []`",
            current.routes.len()
        ));
    }
    if diag.has_errors() {
        return Err(diag.into_errors());
    }
    Ok(())
}

/// Compiles config text; `file_label` prefixes every error message.
/// Relative paths in it (such as `grpc.protos`) are taken from the current
/// directory.
pub fn load_str(source: &str, file_label: &str) -> Result<GatewayConfig, ConfigErrors> {
    load_bytes(source.as_bytes(), file_label, Path::new("."))
}

/// [`load_str`] with relative paths (such as `grpc.protos`) taken from
/// `base_dir`, as if the text were a file there.
pub fn load_str_in(
    source: &str,
    file_label: &str,
    base_dir: &Path,
) -> Result<GatewayConfig, ConfigErrors> {
    load_bytes(source.as_bytes(), file_label, base_dir)
}

fn load_bytes(
    bytes: &[u8],
    file_label: &str,
    base_dir: &Path,
) -> Result<GatewayConfig, ConfigErrors> {
    let mut diag = Diagnostics::new(file_label);
    let Ok(source) = std::str::from_utf8(bytes) else {
        diag.file_error("is not valid UTF-8");
        return Err(diag.into_errors());
    };
    let hash = hex::encode(Sha256::digest(bytes));
    let compiled = sections::read(source, &mut diag)
        .and_then(|raw| compile::compile(&raw, hash, base_dir, &mut diag));
    match compiled {
        Some(config) if !diag.has_errors() => Ok(config),
        _ => Err(diag.into_errors()),
    }
}
