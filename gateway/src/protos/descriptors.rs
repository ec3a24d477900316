//! Loading .proto files at runtime and finding methods in them.
//!
//! protox compiles the files in-process (no protoc) into a prost-reflect
//! [`DescriptorPool`]; the well-known types are built in. A file that
//! fails to compile becomes a [`ProtoError`] with its file, line and
//! column, so config errors can point at the proto itself.

use std::path::{Path, PathBuf};

use miette::Diagnostic as _;
use prost_reflect::{DescriptorPool, MethodDescriptor};

/// A proto that failed to compile (or was not found).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", location(.file, .line, .column))]
pub struct ProtoError {
    pub file: Option<String>,
    /// 1-based.
    pub line: Option<usize>,
    /// 1-based.
    pub column: Option<usize>,
    pub message: String,
}

fn location(file: &Option<String>, line: &Option<usize>, column: &Option<usize>) -> String {
    match (file, line, column) {
        (Some(file), Some(line), Some(column)) => format!("{file}:{line}:{column}: "),
        (Some(file), _, _) => format!("{file}: "),
        _ => String::new(),
    }
}

/// Compiles `files` with `includes` as import roots. With no includes,
/// each file's own directory is one.
pub fn compile_protos(
    files: &[PathBuf],
    includes: &[PathBuf],
) -> Result<DescriptorPool, ProtoError> {
    let mut roots: Vec<PathBuf> = includes.to_vec();
    if roots.is_empty() {
        roots.extend(
            files
                .iter()
                .filter_map(|f| f.parent().map(Path::to_path_buf)),
        );
    }
    let mut compiler = protox::Compiler::new(&roots).map_err(|e| proto_error(&e))?;
    compiler.include_imports(true);
    compiler.open_files(files).map_err(|e| proto_error(&e))?;
    Ok(compiler.descriptor_pool())
}

fn proto_error(error: &protox::Error) -> ProtoError {
    let mut file = error.file().map(str::to_owned);
    let (mut line, mut column) = (None, None);
    let label = error.labels().and_then(|mut labels| labels.next());
    let contents = label
        .zip(error.source_code())
        .and_then(|(label, source)| source.read_span(label.inner(), 0, 0).ok());
    if let Some(contents) = contents {
        line = Some(contents.line() + 1);
        column = Some(contents.column() + 1);
        file = file.or_else(|| contents.name().map(str::to_owned));
    }
    ProtoError {
        file,
        line,
        column,
        message: error.to_string(),
    }
}

/// Finds `package.Service/Method` (or `package.Service.Method`).
pub fn find_method(pool: &DescriptorPool, name: &str) -> Result<MethodDescriptor, String> {
    let (service_name, method_name) = name
        .rsplit_once('/')
        .or_else(|| name.rsplit_once('.'))
        .ok_or_else(|| format!("method {name:?} must be written package.Service/Method"))?;
    let service = pool.get_service_by_name(service_name).ok_or_else(|| {
        let known: Vec<String> = pool.services().map(|s| s.full_name().to_owned()).collect();
        format!(
            "no service {service_name:?} in the loaded protos (services: {})",
            known.join(", ")
        )
    })?;
    service
        .methods()
        .find(|m| m.name() == method_name)
        .ok_or_else(|| {
            let known: Vec<String> = service.methods().map(|m| m.name().to_owned()).collect();
            format!(
                "service {service_name} has no method {method_name:?} (methods: {})",
                known.join(", ")
            )
        })
}

/// gRPC's four call kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKind {
    Unary,
    ServerStreaming,
    ClientStreaming,
    Bidirectional,
}

impl CallKind {
    /// Which kind `method` is.
    pub fn of(method: &MethodDescriptor) -> Self {
        match (method.is_client_streaming(), method.is_server_streaming()) {
            (false, false) => CallKind::Unary,
            (false, true) => CallKind::ServerStreaming,
            (true, false) => CallKind::ClientStreaming,
            (true, true) => CallKind::Bidirectional,
        }
    }
}

/// The name [`find_method`] finds `method` by: `package.Service/Method`.
pub fn method_name(method: &MethodDescriptor) -> String {
    format!("{}/{}", method.parent_service().full_name(), method.name())
}

/// The gRPC request path of a method: `/package.Service/Method`.
pub fn grpc_path(method: &MethodDescriptor) -> String {
    format!("/{}/{}", method.parent_service().full_name(), method.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn proto_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto")
    }

    #[test]
    fn compiles_the_orders_proto_and_finds_methods() {
        let dir = proto_dir();
        let pool = compile_protos(&[dir.join("orders.proto")], std::slice::from_ref(&dir)).unwrap();
        let method = find_method(&pool, "orders.OrderService/WatchOrder").unwrap();
        assert!(method.is_server_streaming() && !method.is_client_streaming());
        assert_eq!(grpc_path(&method), "/orders.OrderService/WatchOrder");
        assert!(find_method(&pool, "orders.OrderService.GetOrder").is_ok());
        assert!(
            find_method(&pool, "orders.OrderService/Nope")
                .unwrap_err()
                .contains("GetOrder")
        );
        assert!(
            find_method(&pool, "x.Y/Z")
                .unwrap_err()
                .contains("orders.OrderService")
        );
    }

    #[test]
    fn a_syntax_error_names_file_line_and_column() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path().to_path_buf();
        let file = dir.join("broken.proto");
        std::fs::write(
            &file,
            "syntax = \"proto3\";\n\nmessage A {\n  string x = ;\n}\n",
        )
        .unwrap();
        let error =
            compile_protos(std::slice::from_ref(&file), std::slice::from_ref(&dir)).unwrap_err();
        assert_eq!(error.file.as_deref(), Some("broken.proto"));
        assert_eq!(error.line, Some(4), "{error}");
        assert!(error.to_string().starts_with("broken.proto:4:"), "{error}");
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let dir = proto_dir();
        let error =
            compile_protos(&[dir.join("nope.proto")], std::slice::from_ref(&dir)).unwrap_err();
        assert!(error.to_string().contains("nope.proto"), "{error}");
    }
}
