//! `hyperfleet`: the HyperFleet control plane's command line. It runs the
//! API server and the control loop, and talks to a running API as a user
//! (`cluster`, `nodepool`); the subcommands live in `commands/`.

mod commands;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use commands::cluster::ClusterArgs;
use commands::completion::{self, Shell};
use commands::control_loop::{self, AdapterArgs, SentinelArgs};
use commands::nodepool::NodepoolArgs;
use commands::server::{self, DatabaseArgs, DevArgs, ServeArgs, TokenNewArgs};
use hyperfleet_server::aggregation::ConfigError;

#[derive(Parser)]
#[command(
    version,
    about = "HyperFleet: control-plane API for cluster and node-pool provisioning"
)]
struct Cli {
    /// Log output format.
    #[arg(long, global = true, env = "HYPERFLEET_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Pretty,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (migrating the database first).
    Serve(ServeArgs),
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Everything in one process on SQLite: the API, the sentinel and the
    /// reference adapters over an in-process bus.
    Dev(DevArgs),
    /// Follow the API (list, then its change feed) and publish reconcile
    /// events to RabbitMQ.
    Sentinel(SentinelArgs),
    /// Run a reference adapter on its RabbitMQ queue.
    Adapter(AdapterArgs),
    /// Bearer tokens for `serve --auth FILE`.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Create, list, read, change, delete, wait for and watch clusters on
    /// a running API (--server, HYPERFLEET_URL).
    Cluster(ClusterArgs),
    /// The same for node pools, inside a cluster (--cluster).
    Nodepool(NodepoolArgs),
    /// Print the completion script of a shell (`source <(hyperfleet
    /// completion bash)`).
    Completion {
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Check an aggregation config file (`--aggregation-config`) as `serve`
    /// would, without starting anything: exit status 0 and the order of the
    /// adapters when it is usable, 2 and the problem when it is not.
    Check {
        /// The YAML file.
        file: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a new random token, and the line of the auth file that accepts
    /// it. The token is shown once and stored nowhere; the file holds only
    /// its SHA-256 hash.
    New(TokenNewArgs),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // `dev` polls itself every second; its request log would drown the
    // rest. The client commands print their own results and errors.
    let default_filter = match cli.command {
        Command::Dev(_) => "info,dropshot=warn",
        Command::Cluster(_)
        | Command::Nodepool(_)
        | Command::Completion { .. }
        | Command::Config(_) => "warn",
        _ => "info",
    };
    init_tracing(cli.log_format, default_filter);
    let outcome = match cli.command {
        Command::Cluster(args) => commands::cluster::run(args).await,
        Command::Nodepool(args) => commands::nodepool::run(args).await,
        Command::Completion { shell } => {
            completion::print(shell, Cli::command());
            Ok(())
        }
        Command::Migrate(args) => control_plane(server::migrate(args).await),
        Command::Serve(args) => control_plane(server::serve(args).await),
        Command::Dev(args) => control_plane(server::dev(args).await),
        Command::Sentinel(args) => control_plane(control_loop::sentinel(args).await),
        Command::Adapter(args) => control_plane(control_loop::adapter(args).await),
        Command::Token(TokenCommand::New(args)) => control_plane(server::token_new(args)),
        Command::Config(ConfigCommand::Check { file }) => {
            control_plane(server::config_check(&file))
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {failure}");
            failure.exit_code()
        }
    }
}

/// The server-side commands fail with a chain of causes; on one line. A
/// configuration that cannot be used exits 2, as a bad argument does, so
/// scripts tell it from a runtime failure (1).
fn control_plane(result: anyhow::Result<()>) -> Result<(), commands::api::Failure> {
    result.map_err(|error| {
        let message = format!("{error:#}");
        match error.downcast_ref::<ConfigError>() {
            Some(_) => commands::api::Failure::Usage(message),
            None => commands::api::Failure::Other(message),
        }
    })
}

fn init_tracing(format: LogFormat, default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    // Every format goes through the escaping writer: a value from a request
    // (a label key, a path) must not be able to forge a log line or write a
    // NUL, whatever the format does or does not escape itself.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| hyperfleet_server::logging::Escaping(std::io::stderr()));
    match format {
        LogFormat::Pretty => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
