//! Nothing to see: this crate exists for its manifest (see `Cargo.toml`). It is not among the
//! workspace's default members, so `cargo build` and `cargo test` never build it.
