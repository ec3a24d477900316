//! Compiles `proto/*.proto` with protox (pure Rust, no system `protoc`)
//! and generates the tonic client and server code.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Read at run time, not `env!` at compile time: the compiled build
    // script is reused by checkouts that share a target directory, and an
    // embedded path would point at another checkout's protos.
    let proto_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../proto");
    let files = [proto_dir.join("orders.proto")];
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        proto_dir.join("google").display()
    );
    let descriptors = protox::compile(&files, [&proto_dir])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    Ok(())
}
