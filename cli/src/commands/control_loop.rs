//! Running the control loop against an API elsewhere: `hyperfleet
//! sentinel` (lists the API, then follows its change feed; publishes
//! reconcile events to RabbitMQ) and
//! `hyperfleet adapter` (a reference adapter on its RabbitMQ queue).
//!
//! Any number of sentinels may run against one broker and API: they elect
//! one (through an exclusive queue on RabbitMQ, see the SDK's
//! `AmqpPublisher`), which publishes; the others stand by and take over
//! within `--lease-timeout` when it goes. `--metrics-addr` serves what each
//! process does, including whether a sentinel leads.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;

use hyperfleet_control_loop::metrics::{self, MetricsServer, Render};
use hyperfleet_control_loop::reference_adapters::{SimulatedAdapter, Simulation, kinds_of};
use hyperfleet_control_loop::sentinel::{self, Sentinel, SentinelConfig};
use hyperfleet_sdk::Client;
use hyperfleet_sdk::adapter::AdapterRuntime;
use hyperfleet_sdk::amqp::{AdapterQueue, Topology};

use super::{parse_duration, shutdown_signal};

/// Where the API is, and the token to show it.
#[derive(Args)]
pub struct ApiArgs {
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
    /// PEM file of a private CA to trust, besides the platform's roots, for
    /// an https:// API URL (and, for the broker, an amqps:// URL).
    #[arg(long, env = "HYPERFLEET_CA_FILE")]
    ca_file: Option<std::path::PathBuf>,
}

impl ApiArgs {
    pub fn client(&self) -> Result<Client> {
        match (&self.ca_file, &self.token) {
            (Some(_), token) => {
                let ca = self.ca_pem()?.unwrap_or_default();
                Client::new_with_ca(&self.api_url, token.as_deref(), ca.as_bytes())
                    .context("cannot build the API client")
            }
            (None, Some(token)) => {
                Client::new_with_token(&self.api_url, token).context("cannot build the API client")
            }
            (None, None) => Ok(Client::new(&self.api_url)),
        }
    }

    /// The private CA's certificates, when `--ca-file` is given.
    fn ca_pem(&self) -> Result<Option<String>> {
        self.ca_file
            .as_ref()
            .map(|path| {
                std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read --ca-file {}", path.display()))
            })
            .transpose()
    }
}

#[derive(Args)]
pub struct BrokerArgs {
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
    /// Adapter queues are named PREFIX.ADAPTER (the sentinel declares them,
    /// the adapter consumes its own).
    #[arg(long, env = "HYPERFLEET_QUEUE_PREFIX", default_value = "hyperfleet")]
    queue_prefix: String,
    /// Let RabbitMQ delete a queue after it has had no consumer for this
    /// long (for temporary environments; every side must agree, since
    /// RabbitMQ refuses a queue declared again with another value).
    /// Default: never.
    #[arg(long, env = "HYPERFLEET_QUEUE_EXPIRES", value_parser = seconds_or_duration)]
    queue_expires: Option<Duration>,
}

impl BrokerArgs {
    /// The topology, declaring the queues of `adapters` on connect, trusting
    /// `ca_pem` for an amqps:// broker.
    pub fn topology(&self, adapters: &[String], ca_pem: Option<String>) -> Topology {
        Topology {
            ca_pem,
            exchange: self.exchange.clone(),
            queue_prefix: self.queue_prefix.clone(),
            queue_expires: self.queue_expires,
            heartbeat: None,
            adapters: adapters
                .iter()
                .map(|name| AdapterQueue::new(name, kinds_of(name)))
                .collect(),
        }
    }
}

/// A duration like `--poll-interval`'s, or a bare number of seconds (how
/// the SDK's example adapter reads `HYPERFLEET_QUEUE_EXPIRES`, so one
/// environment serves both).
fn seconds_or_duration(text: &str) -> Result<Duration, String> {
    match text.parse::<u64>() {
        Ok(seconds) => Ok(Duration::from_secs(seconds)),
        Err(_) => parse_duration(text),
    }
}

#[derive(Args)]
pub struct PacingArgs {
    /// How often the sentinel checks its timers (back-off and resync
    /// expiries, kept in memory; the API is not asked) and that it still
    /// leads; a standby tries for the lock this often. Changes reach it at
    /// once on the API's change feed, not at this pace.
    #[arg(long, env = "HYPERFLEET_POLL_INTERVAL", default_value = "1s", value_parser = parse_duration)]
    poll_interval: Duration,
    /// Events for a resource that is not Ready come at most this often, and
    /// only after this long without a report.
    #[arg(long, env = "HYPERFLEET_BACKOFF", default_value = "10s", value_parser = parse_duration)]
    backoff: Duration,
    /// Ready resources are re-checked this often.
    #[arg(long, env = "HYPERFLEET_RESYNC", default_value = "30m", value_parser = parse_duration)]
    resync: Duration,
    /// The leading sentinel lists every cluster and node pool again this
    /// often, a safety net beside the change feed (it also lists when it
    /// becomes leader and when the feed answers 410).
    #[arg(long, env = "HYPERFLEET_RELIST", default_value = "30m", value_parser = parse_duration)]
    relist: Duration,
}

impl PacingArgs {
    pub fn config(&self) -> SentinelConfig {
        SentinelConfig {
            poll_interval: self.poll_interval,
            backoff: self.backoff,
            resync: self.resync,
            relist: self.relist,
            ..SentinelConfig::default()
        }
    }
}

#[derive(Args)]
pub struct SentinelArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(flatten)]
    broker: BrokerArgs,
    #[command(flatten)]
    pacing: PacingArgs,
    /// Adapters whose queues (PREFIX.ADAPTER) the sentinel declares and
    /// binds when it connects, so events published before an adapter first
    /// starts wait for it. The reference adapters get their own kinds;
    /// other names are bound to every kind (their runtime acknowledges
    /// kinds it does not serve).
    #[arg(
        long,
        env = "HYPERFLEET_ADAPTERS",
        value_delimiter = ',',
        default_value = "validation,dns,infrastructure"
    )]
    adapters: Vec<String>,
    /// How soon a standby sentinel takes over from a leader that is gone.
    /// A leader that dies closes its connection and is replaced within a
    /// poll interval; one cut off from the broker is dropped by the broker
    /// once it has not heard from it for two heartbeats, and the heartbeat
    /// asked for is a third of this (at least 1 s), so a standby takes over
    /// within two thirds of it plus a poll interval.
    #[arg(long, env = "HYPERFLEET_LEASE_TIMEOUT", default_value = "15s", value_parser = parse_duration)]
    lease_timeout: Duration,
    #[command(flatten)]
    metrics: MetricsArgs,
}

#[derive(Args)]
pub struct MetricsArgs {
    /// Serve this process's counters (Prometheus text) at
    /// http://ADDR/metrics, e.g. 127.0.0.1:9464 (port 0: any free port,
    /// logged at start). Off by default.
    #[arg(long, env = "HYPERFLEET_METRICS_ADDR")]
    metrics_addr: Option<SocketAddr>,
}

impl MetricsArgs {
    /// Start the listener, when asked for.
    async fn serve(&self, render: Render) -> Result<Option<MetricsServer>> {
        let Some(addr) = self.metrics_addr else {
            return Ok(None);
        };
        let server = metrics::serve(addr, render)
            .await
            .with_context(|| format!("cannot listen on --metrics-addr {addr}"))?;
        tracing::info!(url = %format!("http://{}/metrics", server.local_addr()), "metrics");
        Ok(Some(server))
    }
}

#[derive(Args)]
pub struct SimulationArgs {
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
    pub retry_delay: Duration,
}

impl SimulationArgs {
    pub fn simulation(&self) -> Simulation {
        Simulation {
            work: self.work,
            failure_rate: self.failure_rate,
            fail_first: self.fail_first,
        }
    }
}

#[derive(Args)]
pub struct AdapterArgs {
    /// Adapter name: validation, dns or infrastructure.
    #[arg(long, env = "HYPERFLEET_ADAPTER_NAME")]
    name: String,
    #[command(flatten)]
    api: ApiArgs,
    #[command(flatten)]
    broker: BrokerArgs,
    #[command(flatten)]
    simulation: SimulationArgs,
    /// Events worked on at once; also the broker's prefetch, so it never
    /// hands out more than are worked on.
    #[arg(
        long,
        env = "HYPERFLEET_CONCURRENCY",
        default_value_t = 8,
        alias = "prefetch"
    )]
    concurrency: u16,
    #[command(flatten)]
    metrics: MetricsArgs,
}

pub async fn sentinel(args: SentinelArgs) -> Result<()> {
    let mut topology = args.broker.topology(&args.adapters, args.api.ca_pem()?);
    topology.heartbeat = Some((args.lease_timeout / 3).max(Duration::from_secs(1)));
    let connect = sentinel::rabbitmq(args.broker.broker.clone(), topology);
    let sentinel = Sentinel::new(args.api.client()?, connect, args.pacing.config());
    let counters = sentinel.metrics();
    let _metrics = args
        .metrics
        .serve(Arc::new(move || counters.prometheus()))
        .await?;
    tracing::info!(api = %args.api.api_url, exchange = %args.broker.exchange, "sentinel running");
    sentinel.run(shutdown_signal()).await;
    Ok(())
}

pub async fn adapter(args: AdapterArgs) -> Result<()> {
    let kinds = kinds_of(&args.name);
    let adapter = SimulatedAdapter::new(&args.name, kinds, args.simulation.simulation());
    let runtime = AdapterRuntime::new(args.api.client()?, adapter)
        .retry_delay(args.simulation.retry_delay)
        .concurrency(args.concurrency);
    let counters = runtime.metrics();
    let name = args.name.clone();
    let _metrics = args
        .metrics
        .serve(Arc::new(move || counters.prometheus(&name)))
        .await?;
    // Its own queue only: the other adapters' kinds are theirs to declare.
    let topology = args.broker.topology(&[], args.api.ca_pem()?);
    tokio::select! {
        () = runtime.run_rabbitmq(&args.broker.broker, &topology) => Ok(()),
        () = shutdown_signal() => Ok(()),
    }
}
