//! `hyperfleet`: the HyperFleet control plane's command line.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use hyperfleet_server::{
    DEFAULT_CLUSTER_ADAPTERS, DEFAULT_NODEPOOL_ADAPTERS, ServerConfig, db, start,
};

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
}

#[derive(Args)]
struct DatabaseArgs {
    /// Database URL: `sqlite://FILE` (created if missing) or
    /// `postgres://USER@HOST:PORT/DB`.
    #[arg(long, env = "HYPERFLEET_DATABASE_URL", default_value = db::DEFAULT_DATABASE_URL)]
    database_url: String,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "HYPERFLEET_LISTEN", default_value = "127.0.0.1:8000")]
    listen: SocketAddr,
    #[command(flatten)]
    database: DatabaseArgs,
    /// Most connections to PostgreSQL (SQLite always uses 4). On few cores,
    /// fewer connections than concurrent requests can serve more requests.
    #[arg(long, env = "HYPERFLEET_DATABASE_POOL_SIZE", default_value_t = db::DEFAULT_POSTGRES_POOL_SIZE)]
    database_pool_size: u32,
    /// Adapters that must be complete for a cluster to be Ready
    /// (comma-separated; empty: clusters are Ready at once).
    #[arg(long, env = "HYPERFLEET_CLUSTER_ADAPTERS", default_value = DEFAULT_CLUSTER_ADAPTERS)]
    cluster_adapters: String,
    /// Adapters that must be complete for a node pool to be Ready
    /// (comma-separated; empty: node pools are Ready at once).
    #[arg(long, env = "HYPERFLEET_NODEPOOL_ADAPTERS", default_value = DEFAULT_NODEPOOL_ADAPTERS)]
    nodepool_adapters: String,
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    match cli.command {
        Command::Migrate(args) => {
            let db = db::connect(&args.database_url, None)
                .await
                .with_context(|| format!("cannot open {}", args.database_url))?;
            db::migrate(&db).await.context("migration failed")?;
            tracing::info!(database = %redact(&args.database_url), "migrations applied");
            Ok(())
        }
        Command::Serve(args) => serve(args).await,
    }
}

async fn serve(args: ServeArgs) -> Result<()> {
    let config = ServerConfig {
        listen: args.listen,
        database_url: args.database.database_url.clone(),
        database_pool_size: Some(args.database_pool_size),
        cluster_adapters: split_list(&args.cluster_adapters),
        nodepool_adapters: split_list(&args.nodepool_adapters),
    };
    let server = start(config).await?;
    tracing::info!(
        address = %server.local_addr(),
        database = %redact(&args.database.database_url),
        "HyperFleet API listening on http://{}/api/hyperfleet/v1",
        server.local_addr()
    );
    tokio::select! {
        result = server.stopped() => {
            result.map_err(anyhow::Error::msg).context("the HTTP server stopped")?;
            anyhow::bail!("the HTTP server stopped unexpectedly")
        }
        () = shutdown_signal() => {
            tracing::info!("shutting down: finishing in-flight requests");
            server.stop().await.map_err(anyhow::Error::msg).context("shutdown failed")?;
            tracing::info!("stopped");
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return ctrl_c.await.unwrap_or_default(),
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.unwrap_or_default();
}

fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

/// A URL fit for logs: any password replaced.
fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Pretty => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
