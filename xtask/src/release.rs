//! `cargo xtask release`: freeze `openapi.yaml` as
//! `openapi/released/v<info.version>.yaml`, and the CI check that compares
//! the contract with the newest release.
//!
//! Released documents are what downstream teams pinned; they never change.
//! A breaking change against the newest one is refused unless the major
//! version of `info.version` (`API_VERSION` in `server/api/src/lib.rs`) is
//! above the released one.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use semver::Version;

use crate::{openapi, spec_diff, workspace_root};

/// Where released documents live.
pub fn released_dir() -> PathBuf {
    workspace_root().join("openapi/released")
}

/// Every released document, by version, newest last.
pub fn released() -> Result<Vec<(Version, PathBuf)>> {
    let dir = released_dir();
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(error) => return Err(error).with_context(|| format!("cannot list {}", dir.display())),
    };
    for entry in entries {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        let Some(version) = name
            .strip_prefix('v')
            .and_then(|rest| rest.strip_suffix(".yaml"))
        else {
            continue;
        };
        let version = Version::parse(version)
            .with_context(|| format!("{} is not named v<semver>.yaml", path.display()))?;
        out.push((version, path));
    }
    // Semver order, not file-name order (v1.10.0 comes after v1.9.0).
    out.sort();
    Ok(out)
}

/// `info.version` of the checked-in contract.
fn current_version() -> Result<Version> {
    let document = spec_diff::load(&openapi::path().to_string_lossy())?;
    Version::parse(&document.info.version)
        .with_context(|| format!("info.version {:?} is not semver", document.info.version))
}

/// Compare the contract with the newest release and print the result; fail
/// on a breaking change unless the major version went up.
pub fn check() -> Result<()> {
    let Some((released, released_path)) = released()?.pop() else {
        println!(
            "no released contract in {}; nothing to compare",
            released_dir().display()
        );
        return Ok(());
    };
    let current = current_version()?;
    println!(
        "comparing openapi.yaml (v{current}) with {} (v{released})",
        released_path.display()
    );
    if current < released {
        bail!("openapi.yaml is v{current}, older than the released v{released}");
    }
    let report = spec_diff::diff(
        &spec_diff::load(&released_path.to_string_lossy())?,
        &spec_diff::load(&openapi::path().to_string_lossy())?,
    )?;
    print!("{}", report.human());
    if !report.is_breaking() {
        return Ok(());
    }
    if current.major > released.major {
        println!(
            "{} breaking change(s) accepted: the major version went from {} to {}",
            report.breaking, released.major, current.major
        );
        return Ok(());
    }
    bail!(
        "{} breaking change(s) against the released v{released}: make them compatible, or \
         bump the major version of API_VERSION (server/api/src/lib.rs) and regenerate",
        report.breaking
    )
}

/// Copy `openapi.yaml` to `openapi/released/v<info.version>.yaml`.
pub fn release() -> Result<()> {
    let version = current_version()?;
    let target = released_dir().join(format!("v{version}.yaml"));
    let text = std::fs::read_to_string(openapi::path())
        .with_context(|| format!("cannot read {}", openapi::path().display()))?;
    if target.exists() {
        let released = std::fs::read_to_string(&target)
            .with_context(|| format!("cannot read {}", target.display()))?;
        if released == text {
            println!("v{version} is already released as {}", target.display());
            return Ok(());
        }
        bail!(
            "v{version} is already released as {} and differs from openapi.yaml; released \
             contracts never change: bump API_VERSION (server/api/src/lib.rs), run `cargo xtask \
             openapi generate`, then release again",
            target.display()
        );
    }
    // The same gate as CI, so a release never needs a CI run to be refused.
    check()?;
    std::fs::create_dir_all(released_dir())
        .with_context(|| format!("cannot create {}", released_dir().display()))?;
    std::fs::write(&target, text).with_context(|| format!("cannot write {}", target.display()))?;
    println!("released v{version} as {}", target.display());
    Ok(())
}
