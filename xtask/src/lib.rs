//! The xtask library: everything `cargo xtask` does, as modules that the
//! binary (`main.rs`) and the integration tests (`xtask/tests/`) share.

pub mod bench;
pub mod ci;
pub mod docs_check;
pub mod drift;
pub mod local_services;
pub mod openapi;
pub mod release;
pub mod replicas;
pub mod schemathesis;
pub mod sdk;
pub mod sentinel_bench;
pub mod spec_diff;

use std::path::PathBuf;

/// The workspace root (xtask sits one level below it).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}
