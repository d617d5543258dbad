//! `cargo xtask ci`: the checks CI runs, in the order that fails fastest.

use std::process::Command;

use anyhow::{Result, bail};

use crate::{openapi, sdk, workspace_root};

/// The test command README gives; CI runs exactly this.
pub const TEST_COMMAND: &[&str] = &["cargo", "test", "--workspace"];

pub fn run() -> Result<()> {
    cargo(&["cargo", "fmt", "--all", "--check"])?;
    step("openapi check", || openapi::check(None))?;
    step("sdk check", || sdk::check(None))?;
    cargo(&[
        "cargo",
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    cargo(TEST_COMMAND)?;
    println!("xtask ci: all checks passed");
    Ok(())
}

fn step(name: &str, check: impl FnOnce() -> Result<()>) -> Result<()> {
    println!("==> {name}");
    check()
}

fn cargo(command: &[&str]) -> Result<()> {
    println!("==> {}", command.join(" "));
    let status = Command::new(command[0])
        .args(&command[1..])
        .current_dir(workspace_root())
        .status()?;
    if !status.success() {
        bail!("`{}` failed with {status}", command.join(" "));
    }
    Ok(())
}
