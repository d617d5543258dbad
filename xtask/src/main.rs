//! `cargo xtask`: the project's own automation (contract generation and
//! checks, the CI sequence). Run `cargo xtask --help`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};
use xtask::{
    bench, ci, docs_check, drift, openapi, release, replicas, schemathesis, sdk, sentinel_bench,
    spec_diff, workspace_root,
};

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
    /// List every change between two OpenAPI 3.0 documents, classified as
    /// breaking, compatible or info for existing clients. Exit status: 0 when
    /// nothing breaks, 1 when something does, 2 when a document cannot be read.
    SpecDiff {
        /// The older document: a file, or `git:REV:PATH` (`git:REV` alone
        /// means `openapi.yaml` at the repository root).
        old: String,
        /// The newer document, in the same forms.
        new: String,
        /// `human` (one line per change and a summary) or `json`.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Freeze openapi.yaml as openapi/released/v<info.version>.yaml. Refused
    /// when that release exists with other content, or when openapi.yaml
    /// breaks the newest release without a major version bump.
    Release,
    /// Run schemathesis (pinned, in a venv under target/) against the
    /// debug server on SQLite, with every check; fail on any finding.
    Schemathesis,
    /// Render /docs of the debug server (with --auth on) in headless
    /// Chromium and check that it shows every operation of openapi.yaml.
    DocsCheck,
    /// Everything CI checks: fmt, openapi and sdk freshness, spec-diff
    /// against the newest release, clippy, schemathesis, the /docs check,
    /// tests.
    Ci,
    /// Seed PostgreSQL with a fleet, load the release server, compare with
    /// pgbench running the same SQL (see BENCHMARKS.md); `bench replicas`:
    /// the control loop with API replicas and sentinels killed mid-run;
    /// `bench sentinel`: the sentinel's cost at fleet scale, before and
    /// after the change feed. Not part of CI.
    #[command(args_conflicts_with_subcommands = true)]
    Bench {
        #[command(subcommand)]
        kind: Option<BenchKind>,
        #[command(flatten)]
        args: bench::BenchArgs,
    },
    /// Mixed load from 64 clients against PostgreSQL, then an invariant
    /// check (tests/benches/soak.rs). Not part of CI.
    Soak {
        /// How long to run.
        #[arg(long, default_value_t = 300)]
        seconds: u64,
    },
}

#[derive(Subcommand)]
enum BenchKind {
    /// 3 API replicas on one PostgreSQL, 2 sentinels and the reference
    /// adapters on RabbitMQ; one replica and the leading sentinel killed
    /// half-way through the creates; against one API and one sentinel.
    Replicas(replicas::ReplicasArgs),
    /// The sentinel's API requests and CPU per minute at fleet scale with
    /// 1 % of the clusters changing per minute, for the polling sentinel
    /// (a git revision) and this tree's; `dev` create -> Ready of each.
    Sentinel(Box<sentinel_bench::SentinelBenchArgs>),
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

impl Action {
    fn run(self, generated: &drift::Generated) -> Result<()> {
        match self {
            Action::Generate => generated.generate(),
            Action::Check { file } => generated.check(file),
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Openapi { action } => action.run(&openapi::FILE),
        Command::Sdk { action } => action.run(&sdk::FILE),
        Command::SpecDiff { old, new, format } => {
            return match spec_diff_command(&old, &new, format) {
                Ok(false) => ExitCode::SUCCESS,
                Ok(true) => ExitCode::from(1),
                Err(error) => {
                    eprintln!("error: {error:#}");
                    ExitCode::from(2)
                }
            };
        }
        Command::Release => release::release(),
        Command::Schemathesis => schemathesis::run(),
        Command::DocsCheck => docs_check::run(),
        Command::Ci => ci::run(),
        Command::Bench {
            kind: Some(BenchKind::Replicas(args)),
            ..
        } => replicas::run(args),
        Command::Bench {
            kind: Some(BenchKind::Sentinel(args)),
            ..
        } => sentinel_bench::run(*args),
        Command::Bench { kind: None, args } => bench::run(args),
        Command::Soak { seconds } => soak(seconds),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Print the comparison; `Ok(true)` when something breaks.
fn spec_diff_command(old: &str, new: &str, format: Format) -> Result<bool> {
    let report = spec_diff::diff(&spec_diff::load(old)?, &spec_diff::load(new)?)?;
    match format {
        Format::Human => print!("{}", report.human()),
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    Ok(report.is_breaking())
}

/// The soak lives with the end-to-end tests, which have the server and SDK.
fn soak(seconds: u64) -> Result<()> {
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
