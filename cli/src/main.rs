//! `hyperfleet`: the HyperFleet control plane's command line; it parses
//! arguments and wires the API server and the control loop together.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

use hyperfleet::dev::DevConfig;
use hyperfleet_control_loop::reference_adapters::{SimulatedAdapter, Simulation, kinds_of};
use hyperfleet_control_loop::sentinel::{self, Sentinel, SentinelConfig};
use hyperfleet_sdk::Client;
use hyperfleet_sdk::adapter::AdapterRuntime;
use hyperfleet_server::auth::{self, Principal, Role, Tokens};
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
    /// Everything in one process on SQLite: the API, the sentinel and the
    /// reference adapters over an in-process bus.
    Dev(DevArgs),
    /// Poll the API and publish reconcile events to RabbitMQ.
    Sentinel(SentinelArgs),
    /// Run a reference adapter on its RabbitMQ queue.
    Adapter(AdapterArgs),
    /// Bearer tokens for `serve --auth FILE`.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a new random token, and the line of the auth file that accepts
    /// it. The token is shown once and stored nowhere; the file holds only
    /// its SHA-256 hash.
    New(TokenNewArgs),
}

#[derive(Args)]
struct TokenNewArgs {
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

/// Where the API is, and the token to show it.
#[derive(Args)]
struct ApiArgs {
    /// Base URL of the API.
    #[arg(
        long,
        env = "HYPERFLEET_API_URL",
        default_value = "http://127.0.0.1:8000"
    )]
    api_url: String,
    /// Bearer token, for an API that runs with `--auth` (an adapter-role
    /// token is enough).
    #[arg(long, env = "HYPERFLEET_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

impl ApiArgs {
    fn client(&self) -> Result<Client> {
        match &self.token {
            Some(token) => {
                Client::new_with_token(&self.api_url, token).context("cannot build the API client")
            }
            None => Ok(Client::new(&self.api_url)),
        }
    }
}

#[derive(Args)]
struct DevArgs {
    #[command(flatten)]
    serve: ServeArgs,
    #[command(flatten)]
    simulation: SimulationArgs,
    #[command(flatten)]
    pacing: PacingArgs,
}

#[derive(Args)]
struct BrokerArgs {
    /// RabbitMQ URL.
    #[arg(
        long,
        env = "HYPERFLEET_BROKER",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f"
    )]
    broker: String,
    /// Topic exchange of reconcile events.
    #[arg(long, env = "HYPERFLEET_EXCHANGE", default_value = "hyperfleet")]
    exchange: String,
    /// Adapter queues are named PREFIX.ADAPTER.
    #[arg(long, env = "HYPERFLEET_QUEUE_PREFIX", default_value = "hyperfleet")]
    queue_prefix: String,
}

impl BrokerArgs {
    fn topology(&self) -> hyperfleet_sdk::amqp::Topology {
        hyperfleet_sdk::amqp::Topology {
            exchange: self.exchange.clone(),
            queue_prefix: self.queue_prefix.clone(),
            queue_expires: None,
        }
    }
}

#[derive(Args)]
struct PacingArgs {
    /// Time between sentinel cycles.
    #[arg(long, env = "HYPERFLEET_POLL_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    poll_interval: Duration,
    /// Events for a resource that is not Ready come at most this often, and
    /// only after this long without a report.
    #[arg(long, env = "HYPERFLEET_BACKOFF", default_value = "10s", value_parser = parse_duration)]
    backoff: Duration,
    /// Ready resources are re-checked this often.
    #[arg(long, env = "HYPERFLEET_RESYNC", default_value = "30m", value_parser = parse_duration)]
    resync: Duration,
}

impl PacingArgs {
    fn config(&self) -> SentinelConfig {
        SentinelConfig {
            poll_interval: self.poll_interval,
            backoff: self.backoff,
            resync: self.resync,
            ..SentinelConfig::default()
        }
    }
}

#[derive(Args)]
struct SentinelArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(flatten)]
    broker: BrokerArgs,
    #[command(flatten)]
    pacing: PacingArgs,
}

#[derive(Args)]
struct SimulationArgs {
    /// How long one simulated attempt takes.
    #[arg(long, env = "HYPERFLEET_WORK", default_value = "500ms", value_parser = parse_duration)]
    work: Duration,
    /// Chance (0 to 1) that an attempt fails.
    #[arg(long, env = "HYPERFLEET_FAILURE_RATE", default_value_t = 0.0)]
    failure_rate: f64,
    /// Fail this many attempts first (to watch recovery).
    #[arg(long, env = "HYPERFLEET_FAIL_FIRST", default_value_t = 0)]
    fail_first: u32,
    /// Wait this long before retrying a failed or unfinished event.
    #[arg(long, env = "HYPERFLEET_RETRY_DELAY", default_value = "2s", value_parser = parse_duration)]
    retry_delay: Duration,
}

impl SimulationArgs {
    fn simulation(&self) -> Simulation {
        Simulation {
            work: self.work,
            failure_rate: self.failure_rate,
            fail_first: self.fail_first,
        }
    }
}

#[derive(Args)]
struct AdapterArgs {
    /// Adapter name: validation, dns or infrastructure.
    #[arg(long, env = "HYPERFLEET_ADAPTER_NAME")]
    name: String,
    #[command(flatten)]
    api: ApiArgs,
    #[command(flatten)]
    broker: BrokerArgs,
    #[command(flatten)]
    simulation: SimulationArgs,
    /// Unacknowledged events held at once.
    #[arg(long, env = "HYPERFLEET_PREFETCH", default_value_t = 8)]
    prefetch: u16,
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
    /// On SIGTERM, how long in-flight requests may take to finish.
    #[arg(long, env = "HYPERFLEET_SHUTDOWN_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    shutdown_timeout: Duration,
    /// Most connections to PostgreSQL (SQLite always uses 4). On few cores,
    /// fewer connections than concurrent requests can serve more requests.
    #[arg(long, env = "HYPERFLEET_DATABASE_POOL_SIZE", default_value_t = db::DEFAULT_POSTGRES_POOL_SIZE)]
    database_pool_size: u32,
    /// The longest one database statement may run (such as `5s`, `500ms`;
    /// `0s`: no limit). A request whose statement runs longer is answered
    /// 503 and the statement is stopped, so no request holds a connection
    /// for longer; a list waits at most as long for its turn.
    #[arg(long, env = "HYPERFLEET_STATEMENT_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    statement_timeout: Duration,
    /// Adapters that must be complete for a cluster to be Ready
    /// (comma-separated; empty: clusters are Ready at once).
    #[arg(long, env = "HYPERFLEET_CLUSTER_ADAPTERS", default_value = DEFAULT_CLUSTER_ADAPTERS)]
    cluster_adapters: String,
    /// Adapters that must be complete for a node pool to be Ready
    /// (comma-separated; empty: node pools are Ready at once).
    #[arg(long, env = "HYPERFLEET_NODEPOOL_ADAPTERS", default_value = DEFAULT_NODEPOOL_ADAPTERS)]
    nodepool_adapters: String,
    /// Require bearer tokens: a YAML (or JSON) file mapping SHA-256 token
    /// hashes to subject, teams and role; add entries with `hyperfleet token
    /// new`. Without it the API is open to anyone who can reach it.
    #[arg(long, env = "HYPERFLEET_AUTH_FILE")]
    auth: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    // `dev` polls itself every second; its request log would drown the rest.
    let default_filter = match cli.command {
        Command::Dev(_) => "info,dropshot=warn",
        _ => "info",
    };
    init_tracing(cli.log_format, default_filter);
    match cli.command {
        Command::Migrate(args) => {
            db::connect_and_migrate(&args.database_url)
                .await
                .with_context(|| format!("cannot migrate {}", redact(&args.database_url)))?;
            tracing::info!(database = %redact(&args.database_url), "migrations applied");
            Ok(())
        }
        Command::Serve(args) => serve(args).await,
        Command::Dev(args) => dev(args).await,
        Command::Sentinel(args) => sentinel(args).await,
        Command::Adapter(args) => adapter(args).await,
        Command::Token(TokenCommand::New(args)) => token_new(args),
    }
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
        cluster_adapters: split_list(&args.cluster_adapters),
        nodepool_adapters: split_list(&args.nodepool_adapters),
        auth,
    })
}

fn token_new(args: TokenNewArgs) -> Result<()> {
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

async fn dev(args: DevArgs) -> Result<()> {
    let config = DevConfig {
        server: server_config(&args.serve)?,
        simulation: args.simulation.simulation(),
        sentinel: args.pacing.config(),
        retry_delay: args.simulation.retry_delay,
    };
    let running = hyperfleet::dev::start(config).await?;
    let address = running.server.local_addr();
    tracing::info!(
        "HyperFleet dev: API on http://{address}/api/hyperfleet/v1 with the sentinel and the \
         validation, dns and infrastructure adapters in-process"
    );
    shutdown_signal().await;
    tracing::info!("shutting down");
    let limit = args.serve.shutdown_timeout;
    tokio::time::timeout(limit, running.stop())
        .await
        .map_err(|_| anyhow::anyhow!("in-flight requests did not finish in {limit:?}"))?
        .map_err(anyhow::Error::msg)
}

async fn sentinel(args: SentinelArgs) -> Result<()> {
    let connect = sentinel::rabbitmq(args.broker.broker.clone(), args.broker.topology());
    let sentinel = Sentinel::new(args.api.client()?, connect, args.pacing.config());
    tracing::info!(api = %args.api.api_url, exchange = %args.broker.exchange, "sentinel running");
    sentinel.run(shutdown_signal()).await;
    Ok(())
}

async fn adapter(args: AdapterArgs) -> Result<()> {
    let kinds = kinds_of(&args.name);
    let adapter = SimulatedAdapter::new(&args.name, kinds, args.simulation.simulation());
    let runtime =
        AdapterRuntime::new(args.api.client()?, adapter).retry_delay(args.simulation.retry_delay);
    let topology = args.broker.topology();
    let mut pause = Duration::from_secs(1);
    loop {
        match hyperfleet_sdk::amqp::subscribe(
            &args.broker.broker,
            &topology,
            &args.name,
            kinds,
            args.prefetch,
        )
        .await
        {
            Ok(inbox) => {
                tracing::info!(adapter = %args.name, "consuming");
                tokio::select! {
                    result = runtime.run(inbox) => {
                        result.map_err(anyhow::Error::msg)?;
                        anyhow::bail!("the broker closed the queue");
                    }
                    () = shutdown_signal() => return Ok(()),
                }
            }
            Err(error) => {
                tracing::warn!(%error, retry_in = ?pause, "cannot reach the broker");
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = shutdown_signal() => return Ok(()),
                }
                pause = (pause * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// `500ms`, `2s`, `30m`, `1h`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a number and a unit, like 2s"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(number)),
        "s" => Ok(Duration::from_secs(number)),
        "m" => Ok(Duration::from_secs(number * 60)),
        "h" => Ok(Duration::from_secs(number * 3600)),
        _ => Err(format!("{text:?}: the unit must be ms, s, m or h")),
    }
}

async fn serve(args: ServeArgs) -> Result<()> {
    let config = server_config(&args)?;
    let args_shutdown_timeout = args.shutdown_timeout;
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

fn init_tracing(format: LogFormat, default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Pretty => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
