//! The sentinel (`hyperfleet sentinel`): polls the API through the SDK and
//! publishes a reconcile event for each resource that needs work. A
//! resource needs an event when it is:
//! - new to it, or at a generation above the one it last published;
//! - not Ready and untouched by any report for the back-off (10 s);
//! - Ready but not re-checked for the resync period (30 min);
//! - Terminating (its delete bumped the generation; then as not Ready).
//!
//! It never floods: at most one event per resource per back-off window. Each
//! cycle reads only the resources that are not Ready (a server-side phase
//! filter) plus one page of Ready ones, so its cost follows the work to do,
//! not the fleet size. When the API or the broker is down it logs, waits
//! (doubling up to a minute) and tries again, on a new connection.
//!
//! Several sentinels may run; one publishes. Before each cycle a sentinel
//! asks its publisher whether it leads ([`Publisher::lead`]; on RabbitMQ,
//! [`rabbitmq`] elects through an exclusive queue, see
//! [`AmqpPublisher`]); a standby does nothing else, so it costs the API
//! nothing, and asks again next cycle. A sentinel that becomes leader
//! forgets what it published before and starts over: events the old leader
//! already sent come again under the same ids ([`event_id`]), which the
//! adapter kit recognises.
//!
//! [`Sentinel::metrics`] counts what it does, for `/metrics`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hyperfleet_sdk::adapter::{Publisher, TransportError};
use hyperfleet_sdk::amqp::{AmqpPublisher, Topology};
use hyperfleet_sdk::events::{CloudEvent, Reason, ReconcileData, ResourceKind, event_id};
use hyperfleet_sdk::{Client, types};
use tokio::time::Instant;
use uuid::Uuid;

/// How the sentinel paces itself.
#[derive(Clone, Debug)]
pub struct SentinelConfig {
    /// Time between cycles.
    pub poll_interval: Duration,
    /// Minimum time between two events for one resource that is not Ready,
    /// and how long a resource must go without a report to get one.
    pub backoff: Duration,
    /// How often a Ready resource is checked again.
    pub resync: Duration,
    /// Page size of its list requests.
    pub page_size: u32,
}

impl Default for SentinelConfig {
    fn default() -> Self {
        SentinelConfig {
            poll_interval: Duration::from_secs(1),
            backoff: Duration::from_secs(10),
            resync: Duration::from_secs(30 * 60),
            page_size: 500,
        }
    }
}

/// Makes (or remakes, after a failure) the connection events go out on.
pub type Connect = Box<
    dyn Fn() -> Pin<Box<dyn Future<Output = Result<Arc<dyn Publisher>, TransportError>> + Send>>
        + Send
        + Sync,
>;

/// A [`Connect`] that opens a RabbitMQ connection, and opens a new one
/// each time the sentinel asks again after a broker failure. Its publisher
/// is elected ([`AmqpPublisher::connect_elected`]): of all the sentinels
/// on `topology`, the one holding its leader lock publishes.
pub fn rabbitmq(url: String, topology: Topology) -> Connect {
    Box::new(move || {
        let (url, topology) = (url.clone(), topology.clone());
        Box::pin(async move {
            let publisher = AmqpPublisher::connect_elected(&url, &topology).await?;
            Ok(Arc::new(publisher) as Arc<dyn Publisher>)
        })
    })
}

/// A [`Connect`] that always hands out `publisher`: for transports that
/// cannot drop, like the in-process bus.
pub fn always(publisher: Arc<dyn Publisher>) -> Connect {
    Box::new(move || {
        let publisher = publisher.clone();
        Box::pin(async move { Ok(publisher) })
    })
}

/// What the sentinel knows of one resource.
#[derive(Clone, Debug)]
struct Snapshot {
    kind: ResourceKind,
    id: Uuid,
    cluster_id: Uuid,
    href: String,
    generation: i64,
    phase: types::Phase,
    updated_at: DateTime<Utc>,
}

#[derive(Clone, Copy, Debug)]
struct Published {
    generation: i64,
    at: Instant,
}

/// What a sentinel did since it started, for `/metrics`.
#[derive(Debug, Default)]
pub struct SentinelMetrics {
    leader: AtomicBool,
    published: AtomicU64,
    cycles: AtomicU64,
    failures: AtomicU64,
    elected: AtomicU64,
}

impl SentinelMetrics {
    /// Does it lead now?
    pub fn leader(&self) -> bool {
        self.leader.load(Ordering::Relaxed)
    }

    /// Events published.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// How many times it became the leader.
    pub fn elected(&self) -> u64 {
        self.elected.load(Ordering::Relaxed)
    }

    /// The counters in the Prometheus text format.
    pub fn prometheus(&self) -> String {
        let mut out = String::new();
        for (name, kind, help, value) in [
            (
                "hyperfleet_sentinel_leader",
                "gauge",
                "1 while this sentinel holds the leader lock and publishes, 0 while it stands by.",
                u64::from(self.leader()),
            ),
            (
                "hyperfleet_sentinel_events_published_total",
                "counter",
                "Reconcile events published (and confirmed by the broker).",
                self.published(),
            ),
            (
                "hyperfleet_sentinel_cycles_total",
                "counter",
                "Cycles run as the leader.",
                self.cycles.load(Ordering::Relaxed),
            ),
            (
                "hyperfleet_sentinel_cycle_failures_total",
                "counter",
                "Cycles that failed (API or broker unreachable).",
                self.failures.load(Ordering::Relaxed),
            ),
            (
                "hyperfleet_sentinel_elected_total",
                "counter",
                "Times this sentinel became the leader.",
                self.elected(),
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
            ));
        }
        out
    }
}

pub struct Sentinel {
    client: Client,
    connect: Connect,
    config: SentinelConfig,
    metrics: Arc<SentinelMetrics>,
    publisher: Option<Arc<dyn Publisher>>,
    published: HashMap<Uuid, Published>,
    /// Which page of Ready clusters and node pools the next cycle checks.
    ready_page: (u32, u32),
}

/// What one cycle did, for logs and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cycle {
    /// It held the leader lock (otherwise it did nothing else).
    pub leading: bool,
    pub examined: usize,
    pub published: usize,
}

impl Sentinel {
    pub fn new(client: Client, connect: Connect, config: SentinelConfig) -> Self {
        Sentinel {
            client,
            connect,
            config,
            metrics: Arc::default(),
            publisher: None,
            published: HashMap::new(),
            ready_page: (1, 1),
        }
    }

    /// Its counters; they stay readable after [`Sentinel::run`] takes it.
    pub fn metrics(&self) -> Arc<SentinelMetrics> {
        self.metrics.clone()
    }

    /// Run cycles until `shutdown` resolves.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut pause = self.config.poll_interval;
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(pause) => {}
            }
            match self.cycle().await {
                Ok(cycle) => {
                    if cycle.published > 0 {
                        tracing::info!(
                            examined = cycle.examined,
                            published = cycle.published,
                            "sentinel cycle"
                        );
                    }
                    pause = self.config.poll_interval;
                }
                Err(error) => {
                    self.metrics.failures.fetch_add(1, Ordering::Relaxed);
                    pause = (pause * 2).clamp(self.config.poll_interval, Duration::from_secs(60));
                    tracing::warn!(%error, retry_in = ?pause, "sentinel cycle failed");
                }
            }
        }
    }

    /// One pass: if it leads, publish an event for every resource that
    /// needs one.
    pub async fn cycle(&mut self) -> Result<Cycle, String> {
        let publisher = self.publisher().await?;
        let leading = match publisher.lead().await {
            Ok(leading) => leading,
            Err(error) => {
                // Reconnect on the next attempt; whatever it held went with
                // the connection.
                self.publisher = None;
                self.set_leader(false);
                return Err(format!("broker: {error}"));
            }
        };
        self.set_leader(leading);
        if !leading {
            return Ok(Cycle::default());
        }
        self.metrics.cycles.fetch_add(1, Ordering::Relaxed);
        let now = Utc::now();
        let mut candidates = self.not_ready().await?;
        candidates.extend(self.ready_page().await?);
        let mut cycle = Cycle {
            leading: true,
            examined: candidates.len(),
            published: 0,
        };
        for snapshot in candidates {
            if !self.due(&snapshot, now) {
                continue;
            }
            self.publish(&publisher, &snapshot, now).await?;
            cycle.published += 1;
        }
        self.forget_old();
        Ok(cycle)
    }

    /// The publisher, connecting first if there is none.
    async fn publisher(&mut self) -> Result<Arc<dyn Publisher>, String> {
        if let Some(publisher) = &self.publisher {
            return Ok(publisher.clone());
        }
        let publisher = (self.connect)().await.map_err(|e| format!("broker: {e}"))?;
        self.publisher = Some(publisher.clone());
        Ok(publisher)
    }

    fn set_leader(&mut self, leading: bool) {
        let was = self.metrics.leader.swap(leading, Ordering::Relaxed);
        if leading && !was {
            tracing::info!("sentinel leads: publishing");
            self.metrics.elected.fetch_add(1, Ordering::Relaxed);
            // What it published in an earlier term may since have been
            // superseded by another leader's events; start from nothing.
            self.published.clear();
        } else if !leading && was {
            tracing::warn!("sentinel no longer leads: standing by");
        }
    }

    fn due(&self, snapshot: &Snapshot, now: DateTime<Utc>) -> bool {
        let Some(last) = self.published.get(&snapshot.id) else {
            return true;
        };
        if snapshot.generation > last.generation {
            return true;
        }
        let quiet = (now - snapshot.updated_at).to_std().unwrap_or_default();
        let wait = if snapshot.phase == types::Phase::Ready {
            self.config.resync
        } else {
            self.config.backoff
        };
        last.at.elapsed() >= wait && quiet >= wait
    }

    /// Why `snapshot` gets an event now, and in which back-off window since
    /// it last changed: what, with the resource itself, names the event.
    fn reason(&self, snapshot: &Snapshot, now: DateTime<Utc>) -> (Reason, u64) {
        let (reason, period) = match snapshot.phase {
            types::Phase::Ready => (Reason::Resync, self.config.resync),
            types::Phase::Terminating => (Reason::Finalize, self.config.backoff),
            _ => (Reason::Reconcile, self.config.backoff),
        };
        let quiet = (now - snapshot.updated_at).to_std().unwrap_or_default();
        let window = quiet.as_millis() / period.as_millis().max(1);
        (reason, u64::try_from(window).unwrap_or(u64::MAX))
    }

    async fn publish(
        &mut self,
        publisher: &Arc<dyn Publisher>,
        snapshot: &Snapshot,
        now: DateTime<Utc>,
    ) -> Result<(), String> {
        let data = ReconcileData {
            id: snapshot.id,
            kind: snapshot.kind,
            href: snapshot.href.clone(),
            generation: snapshot.generation,
            cluster_id: snapshot.cluster_id,
        };
        let (reason, window) = self.reason(snapshot, now);
        let id = event_id(&data, reason, snapshot.updated_at, window);
        let event = CloudEvent::reconcile("/hyperfleet/sentinel", data).with_id(id);
        if let Err(error) = publisher.publish(&event).await {
            // Reconnect on the next attempt.
            self.publisher = None;
            self.set_leader(false);
            return Err(format!("broker: {error}"));
        }
        self.metrics.published.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(id = %snapshot.id, generation = snapshot.generation, phase = ?snapshot.phase, "published");
        self.published.insert(
            snapshot.id,
            Published {
                generation: snapshot.generation,
                at: Instant::now(),
            },
        );
        Ok(())
    }

    /// Entries for resources not seen for a long time (deleted, most
    /// likely) are dropped, so memory follows the live fleet.
    fn forget_old(&mut self) {
        let horizon = self.config.resync * 2;
        self.published.retain(|_, p| p.at.elapsed() < horizon);
    }

    /// One page of the resources of `kind` in `phases`, and how many
    /// there are in all.
    async fn page(
        &self,
        kind: ResourceKind,
        phases: &str,
        page: u32,
    ) -> Result<(Vec<Snapshot>, u64), String> {
        let size = self.config.page_size;
        let api = |e: hyperfleet_sdk::Error<types::Error>| format!("API: {e}");
        Ok(match kind {
            ResourceKind::Cluster => {
                let list = self
                    .client
                    .cluster_list()
                    .phase(phases)
                    .page(page)
                    .size(size)
                    .send();
                let list = list.await.map_err(api)?.into_inner();
                (
                    list.items.into_iter().map(cluster_snapshot).collect(),
                    list.total,
                )
            }
            ResourceKind::NodePool => {
                let list = self
                    .client
                    .nodepool_list_all()
                    .phase(phases)
                    .page(page)
                    .size(size)
                    .send();
                let list = list.await.map_err(api)?.into_inner();
                (
                    list.items.into_iter().map(nodepool_snapshot).collect(),
                    list.total,
                )
            }
        })
    }

    /// Is `page` the last page of `total` items?
    fn last_page(&self, page: u32, total: u64) -> bool {
        u64::from(page) * u64::from(self.config.page_size) >= total
    }

    /// Every resource that is not Ready, all pages.
    async fn not_ready(&self) -> Result<Vec<Snapshot>, String> {
        let mut snapshots = Vec::new();
        for kind in [ResourceKind::Cluster, ResourceKind::NodePool] {
            let mut page = 1;
            loop {
                let (items, total) = self.page(kind, NOT_READY_PHASES, page).await?;
                snapshots.extend(items);
                if self.last_page(page, total) {
                    break;
                }
                page += 1;
            }
        }
        Ok(snapshots)
    }

    /// One page of Ready clusters and one of Ready node pools, advancing
    /// each cycle, so every Ready resource is looked at now and then
    /// without reading the whole fleet every time.
    async fn ready_page(&mut self) -> Result<Vec<Snapshot>, String> {
        let (cluster_page, pool_page) = self.ready_page;
        let (mut snapshots, clusters) = self
            .page(ResourceKind::Cluster, "Ready", cluster_page)
            .await?;
        let (pools, pool_total) = self
            .page(ResourceKind::NodePool, "Ready", pool_page)
            .await?;
        snapshots.extend(pools);
        let next = |page: u32, total: u64| {
            if self.last_page(page, total) {
                1
            } else {
                page + 1
            }
        };
        self.ready_page = (next(cluster_page, clusters), next(pool_page, pool_total));
        Ok(snapshots)
    }
}

const NOT_READY_PHASES: &str = "Pending,Not Ready,Terminating";

fn cluster_snapshot(cluster: types::Cluster) -> Snapshot {
    Snapshot {
        kind: ResourceKind::Cluster,
        id: cluster.id,
        cluster_id: cluster.id,
        href: cluster.href,
        generation: cluster.generation,
        phase: cluster.status.phase,
        updated_at: cluster.updated_at,
    }
}

fn nodepool_snapshot(pool: types::NodePool) -> Snapshot {
    Snapshot {
        kind: ResourceKind::NodePool,
        id: pool.id,
        cluster_id: pool.cluster_id,
        href: pool.href,
        generation: pool.generation,
        phase: pool.status.phase,
        updated_at: pool.updated_at,
    }
}
