//! `cargo xtask`: the project's own automation (contract generation and
//! checks, the CI sequence). Run `cargo xtask --help`.

mod bench;
mod ci;
mod drift;
mod openapi;
mod sdk;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(about = "HyperFleet project automation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The OpenAPI document derived from the API trait (openapi.yaml).
    Openapi {
        #[command(subcommand)]
        action: Action,
    },
    /// The client crate generated from openapi.yaml (sdk/src/generated.rs).
    Sdk {
        #[command(subcommand)]
        action: Action,
    },
    /// Everything CI checks: fmt, clippy, openapi check, sdk check, tests.
    Ci,
    /// Seed PostgreSQL with a fleet, load the release server, compare with
    /// pgbench running the same SQL (see BENCHMARKS.md). Not part of CI.
    Bench(bench::BenchArgs),
    /// Mixed load from 64 clients against PostgreSQL, then an invariant
    /// check (tests/benches/soak.rs). Not part of CI.
    Soak {
        /// How long to run.
        #[arg(long, default_value_t = 300)]
        seconds: u64,
    },
}

#[derive(Subcommand)]
enum Action {
    /// Rewrite the generated file.
    Generate,
    /// Fail, showing the first difference, when the file is not exactly what
    /// generation would write.
    Check {
        /// Compare against this file instead of the checked-in one.
        #[arg(long)]
        file: Option<PathBuf>,
    },
}

fn main() -> Result<()> {
    match Cli::parse().command {
        Command::Openapi {
            action: Action::Generate,
        } => openapi::generate(),
        Command::Openapi {
            action: Action::Check { file },
        } => openapi::check(file),
        Command::Sdk {
            action: Action::Generate,
        } => sdk::generate(),
        Command::Sdk {
            action: Action::Check { file },
        } => sdk::check(file),
        Command::Ci => ci::run(),
        Command::Bench(args) => bench::run(args),
        Command::Soak { seconds } => {
            let status = std::process::Command::new("cargo")
                .args([
                    "bench",
                    "-p",
                    "hyperfleet-e2e",
                    "--bench",
                    "soak",
                    "--",
                    "--seconds",
                ])
                .arg(seconds.to_string())
                .current_dir(workspace_root())
                .status()?;
            anyhow::ensure!(status.success(), "the soak failed: {status}");
            Ok(())
        }
    }
}

/// The workspace root (xtask sits one level below it).
fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}
