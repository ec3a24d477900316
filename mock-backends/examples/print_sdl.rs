//! Prints the SDL every subgraph serves as `_service { sdl }`:
//! `cargo run -p mock-backends --example print_sdl`.

fn main() {
    let store = std::sync::Arc::new(mock_backends::Store::seeded());
    for kind in mock_backends::SubgraphKind::ALL {
        println!("# ---- {kind}\n{}", kind.sdl(store.clone()));
    }
}
