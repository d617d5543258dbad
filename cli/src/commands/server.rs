//! Running the control plane: `hyperfleet serve` (the API), `migrate`,
//! `dev` (the API with the sentinel and reference adapters in-process) and
//! `token new` (a bearer token and its auth-file line).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use hyperfleet::dev::DevConfig;
use hyperfleet_server::aggregation::{AdapterGraph, AggregationConfig, ConfigError};
use hyperfleet_server::auth::{self, Principal, Role, Tokens};
use hyperfleet_server::{Limits, Retention, ServerConfig, db, start};

use super::control_loop::{PacingArgs, SimulationArgs};
use super::{parse_duration, shutdown_signal};

#[derive(Args)]
pub struct TokenNewArgs {
    /// Who holds the token, for logs (`alice`, `dns-adapter`).
    #[arg(long)]
    subject: String,
    /// A team the holder belongs to (repeat, or separate with commas):
    /// members see the clusters whose `team` label is one of these.
    #[arg(long = "team", value_delimiter = ',')]
    teams: Vec<String>,
    /// admin (everything), member (its teams' clusters) or adapter (read
    /// everything, report statuses).
    #[arg(long)]
    role: Role,
}

#[derive(Args)]
pub struct DevArgs {
    #[command(flatten)]
    serve: ServeArgs,
    #[command(flatten)]
    simulation: SimulationArgs,
    #[command(flatten)]
    pacing: PacingArgs,
}

#[derive(Args)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite://FILE` (created if missing) or
    /// `postgres://USER@HOST:PORT/DB`.
    #[arg(long, env = "HYPERFLEET_DATABASE_URL", default_value = db::DEFAULT_DATABASE_URL)]
    database_url: String,
}

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "HYPERFLEET_LISTEN", default_value = "127.0.0.1:8000")]
    listen: SocketAddr,
    #[command(flatten)]
    database: DatabaseArgs,
    /// On SIGTERM, how long in-flight requests may take to finish.
    #[arg(long, env = "HYPERFLEET_SHUTDOWN_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    shutdown_timeout: Duration,
    /// Most connections to PostgreSQL (SQLite always uses 8). On few cores,
    /// fewer connections than concurrent requests can serve more requests.
    #[arg(long, env = "HYPERFLEET_DATABASE_POOL_SIZE", default_value_t = db::DEFAULT_POSTGRES_POOL_SIZE)]
    database_pool_size: u32,
    /// The longest one database statement may run (such as `5s`, `500ms`;
    /// `0s`: no limit). A request whose statement runs longer is answered
    /// 503 and the statement is stopped, so no request holds a connection
    /// for longer; a list waits at most as long for its turn.
    #[arg(long, env = "HYPERFLEET_STATEMENT_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    statement_timeout: Duration,
    /// Most list requests whose queries run at once; more wait for a turn
    /// (at most `--statement-timeout`, then 503). Default: a quarter of the
    /// pool, and no more than this machine's cores, since each list keeps a
    /// core busy and more only slow lookups and adapters' reports. While a
    /// write is in flight, lists that start get one fewer (at least one).
    /// Raise it when PostgreSQL runs on a machine with more cores.
    #[arg(long, env = "HYPERFLEET_LIST_CONCURRENCY", value_parser = clap::value_parser!(u32).range(1..))]
    list_concurrency: Option<u32>,
    /// Which adapters each kind requires and in what order they run: a YAML
    /// file (docs/statuses.md). Without it (and without the two lists
    /// below): validation, then dns, then infrastructure for clusters;
    /// validation, then infrastructure for node pools.
    #[arg(long, env = "HYPERFLEET_AGGREGATION_CONFIG", conflicts_with_all = ["cluster_adapters", "nodepool_adapters"])]
    aggregation_config: Option<PathBuf>,
    /// Shorthand for a config without order: the adapters that must be
    /// complete for a cluster to be Ready (comma-separated, all run at once;
    /// empty: clusters are Ready at once).
    #[arg(long, env = "HYPERFLEET_CLUSTER_ADAPTERS")]
    cluster_adapters: Option<String>,
    /// Shorthand for a config without order, for node pools (comma-separated;
    /// empty: node pools are Ready at once).
    #[arg(long, env = "HYPERFLEET_NODEPOOL_ADAPTERS")]
    nodepool_adapters: Option<String>,
    /// Require bearer tokens: a YAML (or JSON) file mapping SHA-256 token
    /// hashes to subject, teams and role; add entries with `hyperfleet token
    /// new`. Without it the API is open to anyone who can reach it.
    #[arg(long, env = "HYPERFLEET_AUTH_FILE")]
    auth: Option<PathBuf>,
    /// Close a connection that has no request in flight for this long.
    #[arg(long, env = "HYPERFLEET_IDLE_TIMEOUT", default_value = "60s", value_parser = parse_positive_duration)]
    idle_timeout: Duration,
    /// A request's headers must all arrive within this long of their first
    /// byte, else 408 `RequestTimeout` and the connection is closed.
    #[arg(long, env = "HYPERFLEET_HEADER_TIMEOUT", default_value = "10s", value_parser = parse_positive_duration)]
    header_timeout: Duration,
    /// A request's body must all arrive within this long of the end of its
    /// headers, else 408 `RequestTimeout` and the connection is closed.
    #[arg(long, env = "HYPERFLEET_BODY_TIMEOUT", default_value = "30s", value_parser = parse_positive_duration)]
    body_timeout: Duration,
    /// Most open client connections. At the cap a new connection closes the
    /// oldest one without a request in flight (503 `Unavailable` if every
    /// one is busy). Lowered to fit the file limit, whose soft value is
    /// raised to the hard one at start.
    #[arg(long, env = "HYPERFLEET_MAX_CONNECTIONS", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// The change feed keeps each change while it is among the newest this
    /// many (or younger than `--watch-retention-age`); a watch from an older
    /// position is 410. For tests; hidden from `--help`.
    #[arg(
        long,
        env = "HYPERFLEET_WATCH_RETENTION_CHANGES",
        default_value_t = 100_000,
        hide = true
    )]
    watch_retention_changes: u64,
    /// The change feed keeps each change at least this long. For tests;
    /// hidden from `--help`.
    #[arg(long, env = "HYPERFLEET_WATCH_RETENTION_AGE", default_value = "1h", value_parser = parse_duration, hide = true)]
    watch_retention_age: Duration,
    /// How often old changes and expired idempotency keys are removed. For
    /// tests; hidden from `--help`.
    #[arg(long, env = "HYPERFLEET_WATCH_TRIM_INTERVAL", default_value = "30s", value_parser = parse_positive_duration, hide = true)]
    watch_trim_interval: Duration,
}

/// A duration that is more than zero.
fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        Duration::ZERO => Err(format!("{text:?}: must be more than zero")),
        duration => Ok(duration),
    }
}

/// `hyperfleet migrate`.
pub async fn migrate(args: DatabaseArgs) -> Result<()> {
    db::connect_and_migrate(&args.database_url)
        .await
        .with_context(|| format!("cannot migrate {}", redact(&args.database_url)))?;
    tracing::info!(database = %redact(&args.database_url), "migrations applied");
    Ok(())
}

/// `hyperfleet config check FILE`.
pub fn config_check(file: &std::path::Path) -> Result<()> {
    let config = AggregationConfig::load(file)?;
    println!("{}: ok", file.display());
    for (kind, graph) in [("cluster", &config.cluster), ("nodepool", &config.nodepool)] {
        println!("{kind}: {}", describe(graph));
    }
    Ok(())
}

/// `validation; dns after validation; ...`, or `no adapters`.
fn describe(graph: &AdapterGraph) -> String {
    if graph.names().is_empty() {
        return "no adapters".to_string();
    }
    graph
        .names()
        .iter()
        .map(|name| match graph.after(name) {
            [] => name.clone(),
            after => format!("{name} after {}", after.join(", ")),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The aggregation config `serve` and `dev` run with: the file, else the
/// lists (a kind without its list keeps the default), else the default.
fn aggregation(args: &ServeArgs) -> Result<AggregationConfig, ConfigError> {
    if let Some(path) = &args.aggregation_config {
        return AggregationConfig::load(path);
    }
    let mut config = AggregationConfig::default();
    let list = |flag: &str, value: &str| {
        AdapterGraph::unordered(&split_list(value)).map_err(|message| ConfigError {
            source_name: flag.to_string(),
            message,
        })
    };
    if let Some(value) = &args.cluster_adapters {
        config.cluster = list("--cluster-adapters", value)?;
    }
    if let Some(value) = &args.nodepool_adapters {
        config.nodepool = list("--nodepool-adapters", value)?;
    }
    Ok(config)
}

fn server_config(args: &ServeArgs) -> Result<ServerConfig> {
    let auth = match &args.auth {
        Some(path) => Some(Tokens::load(path)?),
        None => None,
    };
    Ok(ServerConfig {
        listen: args.listen,
        database_url: args.database.database_url.clone(),
        database_pool_size: Some(args.database_pool_size),
        statement_timeout: args.statement_timeout,
        aggregation: aggregation(args)?,
        auth,
        limits: Limits {
            idle_timeout: args.idle_timeout,
            header_timeout: args.header_timeout,
            body_timeout: args.body_timeout,
            max_connections: args.max_connections as usize,
        },
        retention: Retention {
            changes: args.watch_retention_changes,
            age: args.watch_retention_age,
            every: args.watch_trim_interval,
        },
        list_concurrency: args.list_concurrency.map(|n| n as usize),
    })
}

pub fn token_new(args: TokenNewArgs) -> Result<()> {
    let principal = Principal {
        subject: args.subject,
        teams: args.teams,
        role: args.role,
    };
    let minted = auth::mint(&principal).map_err(anyhow::Error::msg)?;
    println!(
        "# The token for {} (shown once, stored nowhere):",
        principal.subject
    );
    println!("{}", minted.token);
    println!("# The line to add to the auth file (--auth / HYPERFLEET_AUTH_FILE):");
    println!("{}", minted.line);
    Ok(())
}

pub async fn dev(args: DevArgs) -> Result<()> {
    let config = DevConfig {
        server: server_config(&args.serve)?,
        simulation: args.simulation.simulation(),
        sentinel: args.pacing.config(),
        retry_delay: args.simulation.retry_delay,
    };
    let running = hyperfleet::dev::start(config).await?;
    let address = running.server.local_addr();
    tracing::info!(
        "HyperFleet dev: API on http://{address}/api/hyperfleet/v1 (API reference: \
         http://{address}/docs) with the sentinel and the validation, dns and infrastructure \
         adapters in-process"
    );
    shutdown_signal().await;
    tracing::info!("shutting down");
    let limit = args.serve.shutdown_timeout;
    tokio::time::timeout(limit, running.stop())
        .await
        .map_err(|_| anyhow::anyhow!("in-flight requests did not finish in {limit:?}"))?
        .map_err(anyhow::Error::msg)
}

pub async fn serve(args: ServeArgs) -> Result<()> {
    let config = server_config(&args)?;
    let args_shutdown_timeout = args.shutdown_timeout;
    let server = start(config).await?;
    let address = server.local_addr();
    tracing::info!(
        %address,
        database = %redact(&args.database.database_url),
        "HyperFleet API listening on http://{address}/api/hyperfleet/v1 \
         (API reference: http://{address}/docs)"
    );
    tokio::select! {
        result = server.stopped() => {
            result.map_err(anyhow::Error::msg).context("the HTTP server stopped")?;
            anyhow::bail!("the HTTP server stopped unexpectedly")
        }
        () = shutdown_signal() => {
            tracing::info!("shutting down: finishing in-flight requests");
            // In-flight requests get a bounded time to finish.
            tokio::time::timeout(args_shutdown_timeout, server.stop())
                .await
                .map_err(|_| anyhow::anyhow!("in-flight requests did not finish in {args_shutdown_timeout:?}"))?
                .map_err(anyhow::Error::msg)
                .context("shutdown failed")?;
            tracing::info!("stopped");
            Ok(())
        }
    }
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
