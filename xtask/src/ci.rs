//! `cargo xtask ci`: the checks CI runs, in the order that fails fastest.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use anyhow::{Result, bail};

use crate::{docs_check, openapi, release, schemathesis, sdk, workspace_root};

/// The test command README gives; CI runs exactly this.
pub const TEST_COMMAND: &[&str] = &["cargo", "test", "--workspace"];

pub fn run() -> Result<()> {
    cargo(&["cargo", "fmt", "--all", "--check"])?;
    step("openapi check", || openapi::FILE.check(None))?;
    step("sdk check", || sdk::FILE.check(None))?;
    step(
        "spec-diff against the newest released contract",
        release::check,
    )?;
    cargo(&[
        "cargo",
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ])?;
    // Again with every feature: the SDK's `tls` is off in a plain build.
    cargo(&[
        "cargo",
        "clippy",
        "--workspace",
        "--all-targets",
        "--all-features",
        "--",
        "-D",
        "warnings",
    ])?;
    // The SDK's docs, as docs.rs renders them (every feature): a broken
    // link or stray HTML in a doc comment fails here.
    doc_sdk()?;
    // The adapter example needs `amqp`, so `--workspace` builds skip it;
    // its e2e test (tests/tests/dns_adapter_example.rs) runs this build.
    cargo(&[
        "cargo",
        "build",
        "-p",
        "hyperfleet-sdk",
        "--example",
        "dns_adapter",
        "--features",
        "amqp",
    ])?;
    step("schemathesis against a running server", schemathesis::run)?;
    step(
        "/docs rendered in headless Chromium shows every operation",
        docs_check::run,
    )?;
    // Last, so its summary is the closing line of the log.
    tests(TEST_COMMAND)
}

/// Run the test command, echoing its output, and close with one line that
/// sums every test binary's result (cargo prints one line per binary, and
/// the last of them is often a doc-test binary with nothing in it).
fn tests(command: &[&str]) -> Result<()> {
    println!("==> {}", command.join(" "));
    let mut child = Command::new(command[0])
        .args(&command[1..])
        .current_dir(workspace_root())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut totals = Totals::default();
    if let Some(stdout) = child.stdout.take() {
        for line in BufReader::new(stdout).lines() {
            let line = line?;
            println!("{line}");
            totals.add(&line);
        }
    }
    let status = child.wait()?;
    println!(
        "tests: {} passed, {} failed, {} skipped",
        totals.passed, totals.failed, totals.ignored
    );
    if !status.success() {
        bail!("`{}` failed with {status}", command.join(" "));
    }
    if totals.passed == 0 {
        bail!("`{}` ran no test", command.join(" "));
    }
    Ok(())
}

#[derive(Debug, Default, PartialEq)]
struct Totals {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Totals {
    /// Add a libtest summary such as
    /// `test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; ...`.
    fn add(&mut self, line: &str) {
        let Some(counts) = line.strip_prefix("test result: ") else {
            return;
        };
        for part in counts.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(what), Some(number)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(number) = number.parse::<u64>() else {
                continue;
            };
            match what {
                "passed" => self.passed += number,
                "failed" => self.failed += number,
                "ignored" => self.ignored += number,
                _ => {}
            }
        }
    }
}

/// The SDK's doc command README gives, with rustdoc warnings denied.
pub const DOC_COMMAND: &[&str] = &[
    "cargo",
    "doc",
    "-p",
    "hyperfleet-sdk",
    "--all-features",
    "--no-deps",
];

fn doc_sdk() -> Result<()> {
    println!("==> RUSTDOCFLAGS=\"-D warnings\" {}", DOC_COMMAND.join(" "));
    let status = Command::new(DOC_COMMAND[0])
        .args(&DOC_COMMAND[1..])
        .env("RUSTDOCFLAGS", "-D warnings")
        .current_dir(workspace_root())
        .status()?;
    if !status.success() {
        bail!("the SDK's docs have warnings ({status})");
    }
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

#[cfg(test)]
mod tests {
    use super::Totals;

    #[test]
    fn sums_libtest_summaries() {
        let mut totals = Totals::default();
        totals.add("test result: ok. 12 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 1.74s");
        totals
            .add("test result: FAILED. 3 passed; 2 failed; 0 ignored; 0 measured; 0 filtered out");
        totals.add("test sqlite::a ... ok");
        assert_eq!(
            totals,
            Totals {
                passed: 15,
                failed: 2,
                ignored: 1
            }
        );
    }
}
