//! The sentinel (`hyperfleet sentinel`): follows the API's change feed
//! through the SDK and publishes a reconcile event for each resource that
//! needs work. A resource needs an event when it is:
//! - new to it, or at a generation above the one it last published;
//! - not Ready and untouched by any report for the back-off (10 s);
//! - Ready but not re-checked for the resync period (30 min);
//! - Terminating (its delete bumped the generation; then as not Ready).
//!
//! List-then-watch: when it becomes the leader it lists every cluster and
//! node pool once, then watches the feed (`GET /events`, the SDK's
//! [`watch`]) from the listing's `resource_version`. Every change arrives
//! as an event carrying the resource, so a new generation is published as
//! soon as the feed brings it, without waiting for a poll. What the feed
//! cannot say is when time runs out (the back-off of a resource that is
//! not Ready, the resync of a Ready one): each resource it knows has a
//! time at which it is looked at again, kept in memory and checked every
//! `poll_interval` without asking the API anything. So in steady state
//! its API work is one open stream and the changes on it, whatever the
//! fleet's size; it lists again only when the feed answers 410 (it fell
//! further behind than the feed keeps) and every `relist` period, a slow
//! safety net.
//!
//! It never floods: at most one event per resource per back-off window,
//! and at most `page_size` Ready resyncs per tick (a new leader has every
//! Ready resource to re-check at once). When the API, the feed or the
//! broker is down it logs, waits (doubling up to a minute) and tries
//! again: a feed that broke resumes from the last event it delivered, a
//! broker connection is opened anew.
//!
//! Several sentinels may run; one publishes. Before listing, and at every
//! tick while it follows the feed, a sentinel asks its publisher whether
//! it leads ([`Publisher::lead`]; on RabbitMQ, [`rabbitmq`] elects through
//! an exclusive queue, see [`AmqpPublisher`]). A standby neither lists nor
//! watches, so it costs the API nothing, and asks again every
//! `poll_interval`; a leader that loses the lock drops its stream at once.
//! A sentinel that becomes leader forgets what it knew and published before
//! and lists again: events the old leader already sent come again under
//! the same ids ([`event_id`]), which the adapter kit recognises.
//!
//! [`Sentinel::metrics`] counts what it does, for `/metrics`.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use hyperfleet_sdk::adapter::{Publisher, TransportError};
use hyperfleet_sdk::amqp::{AmqpPublisher, Topology};
use hyperfleet_sdk::events::{CloudEvent, Reason, ReconcileData, ResourceKind, event_id};
use hyperfleet_sdk::watch::{EventType, WatchError, WatchEvent, WatchObject, WatchOptions, watch};
use hyperfleet_sdk::{Client, types};
use tokio::time::{Instant, MissedTickBehavior};
use uuid::Uuid;

/// How the sentinel paces itself.
#[derive(Clone, Debug)]
pub struct SentinelConfig {
    /// How often it looks at its timers (back-off and resync expiries) and
    /// checks that it still leads; standing by, how often it tries for the
    /// lock.
    pub poll_interval: Duration,
    /// Minimum time between two events for one resource that is not Ready,
    /// and how long a resource must go without a report to get one.
    pub backoff: Duration,
    /// How often a Ready resource is checked again.
    pub resync: Duration,
    /// How often it lists everything again although the feed said nothing
    /// was missed: a safety net, not the way it learns of changes.
    pub relist: Duration,
    /// Page size of its list requests; also the most Ready resyncs it
    /// publishes per tick.
    pub page_size: u32,
}

impl Default for SentinelConfig {
    fn default() -> Self {
        SentinelConfig {
            poll_interval: Duration::from_secs(1),
            backoff: Duration::from_secs(10),
            resync: Duration::from_secs(30 * 60),
            relist: Duration::from_secs(30 * 60),
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

impl Snapshot {
    /// Is `self` older than `other` (a replay of a change the sentinel has
    /// already seen a later state of)?
    fn older_than(&self, other: &Snapshot) -> bool {
        (self.generation, self.updated_at) < (other.generation, other.updated_at)
    }
}

#[derive(Clone, Copy, Debug)]
struct Published {
    generation: i64,
    at: Instant,
}

/// One resource: its last known state, its last event, and when it is
/// looked at again.
#[derive(Debug)]
struct Tracked {
    snapshot: Snapshot,
    last: Option<Published>,
    next: Instant,
}

/// Everything the sentinel knows, and the order in which it looks at it
/// again: the schedule holds `(next, id)` of every tracked resource, so a
/// tick reads only what is due, not the whole fleet.
#[derive(Debug, Default)]
struct Fleet {
    tracked: HashMap<Uuid, Tracked>,
    schedule: BTreeSet<(Instant, Uuid)>,
}

impl Fleet {
    fn clear(&mut self) {
        self.tracked.clear();
        self.schedule.clear();
    }

    /// Learn `snapshot`, keeping what was published for it, and look at
    /// it at once; a replay of an older state is ignored.
    fn upsert(&mut self, snapshot: Snapshot, now: Instant) {
        let id = snapshot.id;
        let last = match self.tracked.remove(&id) {
            Some(known) => {
                self.schedule.remove(&(known.next, id));
                if snapshot.older_than(&known.snapshot) {
                    self.schedule.insert((known.next, id));
                    self.tracked.insert(id, known);
                    return;
                }
                known.last
            }
            None => None,
        };
        self.schedule.insert((now, id));
        self.tracked.insert(
            id,
            Tracked {
                snapshot,
                last,
                next: now,
            },
        );
    }

    fn remove(&mut self, id: Uuid) {
        if let Some(known) = self.tracked.remove(&id) {
            self.schedule.remove(&(known.next, id));
        }
    }

    fn reschedule(&mut self, id: Uuid, next: Instant) {
        if let Some(known) = self.tracked.get_mut(&id) {
            self.schedule.remove(&(known.next, id));
            known.next = next;
            self.schedule.insert((next, id));
        }
    }

    /// The resources whose time has come, earliest first.
    fn due(&self, now: Instant) -> Vec<Uuid> {
        self.schedule
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, id)| *id)
            .collect()
    }
}

/// What a sentinel did since it started, for `/metrics`.
#[derive(Debug, Default)]
pub struct SentinelMetrics {
    leader: AtomicBool,
    published: AtomicU64,
    cycles: AtomicU64,
    failures: AtomicU64,
    elected: AtomicU64,
    list_requests: AtomicU64,
    watches: AtomicU64,
    feed_events: AtomicU64,
    relists: AtomicU64,
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

    /// List requests (pages) sent to the API.
    pub fn list_requests(&self) -> u64 {
        self.list_requests.load(Ordering::Relaxed)
    }

    /// Watches of the change feed opened.
    pub fn watches(&self) -> u64 {
        self.watches.load(Ordering::Relaxed)
    }

    /// Change-feed events received.
    pub fn feed_events(&self) -> u64 {
        self.feed_events.load(Ordering::Relaxed)
    }

    /// Times it listed everything again while leading (after a 410, or at
    /// the relist period); the listing at election is not counted.
    pub fn relists(&self) -> u64 {
        self.relists.load(Ordering::Relaxed)
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
                "Ticks (timer checks) run as the leader.",
                self.cycles.load(Ordering::Relaxed),
            ),
            (
                "hyperfleet_sentinel_cycle_failures_total",
                "counter",
                "Failures (API, change feed or broker unreachable), each followed by a back-off.",
                self.failures.load(Ordering::Relaxed),
            ),
            (
                "hyperfleet_sentinel_elected_total",
                "counter",
                "Times this sentinel became the leader.",
                self.elected(),
            ),
            (
                "hyperfleet_sentinel_list_requests_total",
                "counter",
                "List requests (pages) sent to the API.",
                self.list_requests(),
            ),
            (
                "hyperfleet_sentinel_watches_total",
                "counter",
                "Watches of the change feed opened.",
                self.watches(),
            ),
            (
                "hyperfleet_sentinel_feed_events_total",
                "counter",
                "Change-feed events received.",
                self.feed_events(),
            ),
            (
                "hyperfleet_sentinel_relists_total",
                "counter",
                "Listings of everything while leading, after a 410 from the feed or at the relist period.",
                self.relists(),
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
            ));
        }
        out
    }
}

type Feed = Pin<Box<dyn Stream<Item = Result<WatchEvent, WatchError>> + Send>>;

/// Why [`Sentinel::follow`] returned.
enum Stopped {
    /// `shutdown` resolved.
    Shutdown,
    /// It does not (or no longer) lead.
    StandingBy,
}

pub struct Sentinel {
    client: Client,
    connect: Connect,
    config: SentinelConfig,
    metrics: Arc<SentinelMetrics>,
    publisher: Option<Arc<dyn Publisher>>,
    fleet: Fleet,
    /// The feed position its knowledge reflects; `None`: list first.
    position: Option<String>,
    /// When it last listed everything.
    listed_at: Instant,
    /// Whether the current attempt got anywhere (an event, a tick) before
    /// it failed, so the next back-off starts short again.
    progressed: bool,
}

impl Sentinel {
    pub fn new(client: Client, connect: Connect, config: SentinelConfig) -> Self {
        Sentinel {
            client,
            connect,
            config,
            metrics: Arc::default(),
            publisher: None,
            fleet: Fleet::default(),
            position: None,
            listed_at: Instant::now(),
            progressed: false,
        }
    }

    /// Its counters; they stay readable after [`Sentinel::run`] takes it.
    pub fn metrics(&self) -> Arc<SentinelMetrics> {
        self.metrics.clone()
    }

    /// Lead (or stand by) and follow the feed until `shutdown` resolves.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let poll = self.config.poll_interval;
        let mut pause = Duration::ZERO;
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(pause) => {}
            }
            self.progressed = false;
            match self.follow(&mut shutdown).await {
                Ok(Stopped::Shutdown) => return,
                Ok(Stopped::StandingBy) => pause = poll,
                Err(error) => {
                    self.metrics.failures.fetch_add(1, Ordering::Relaxed);
                    pause = if self.progressed {
                        poll
                    } else {
                        (pause * 2).clamp(poll, Duration::from_secs(60))
                    };
                    tracing::warn!(%error, retry_in = ?pause, "sentinel failed");
                }
            }
        }
    }

    /// If it leads: list (unless it knows the fleet already), then follow
    /// the feed, publishing what falls due, until it stops leading, the
    /// feed or the broker fails, or `shutdown`.
    async fn follow<F: Future<Output = ()>>(
        &mut self,
        shutdown: &mut Pin<&mut F>,
    ) -> Result<Stopped, String> {
        if !self.lead().await? {
            return Ok(Stopped::StandingBy);
        }
        let publisher = self.publisher().await?;
        if self.position.is_none() {
            self.list().await?;
        }
        let mut feed = self.watch();
        self.publish_due(&publisher).await?;
        let mut ticks = tokio::time::interval(self.config.poll_interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        ticks.reset();
        loop {
            tokio::select! {
                () = shutdown.as_mut() => return Ok(Stopped::Shutdown),
                _ = ticks.tick() => {
                    if !self.lead().await? {
                        return Ok(Stopped::StandingBy);
                    }
                    self.metrics.cycles.fetch_add(1, Ordering::Relaxed);
                    self.progressed = true;
                    if self.listed_at.elapsed() >= self.config.relist {
                        tracing::info!("sentinel lists everything again (relist period)");
                        self.relist().await?;
                        feed = self.watch();
                    }
                    self.publish_due(&publisher).await?;
                }
                event = feed.next() => match event {
                    Some(Ok(event)) => {
                        self.metrics.feed_events.fetch_add(1, Ordering::Relaxed);
                        self.progressed = true;
                        self.apply(event);
                        self.publish_due(&publisher).await?;
                    }
                    Some(Err(WatchError::Expired { since })) => {
                        tracing::warn!(%since, "the change feed no longer holds the sentinel's position: listing again");
                        self.relist().await?;
                        feed = self.watch();
                        self.publish_due(&publisher).await?;
                    }
                    Some(Err(error)) => return Err(format!("change feed: {error}")),
                    None => return Err("change feed: the stream ended".to_string()),
                },
            }
        }
    }

    /// Ask the publisher (connecting first if need be) whether it leads.
    async fn lead(&mut self) -> Result<bool, String> {
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
        Ok(leading)
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
            // What it knew and published in an earlier term may since have
            // been superseded by another leader's events; start from
            // nothing, with a fresh listing.
            self.fleet.clear();
            self.position = None;
        } else if !leading && was {
            tracing::warn!("sentinel no longer leads: standing by");
            // A standby needs none of it; the next term lists afresh.
            self.fleet.clear();
            self.position = None;
        }
    }

    /// A watch of every change after its position.
    fn watch(&self) -> Feed {
        self.metrics.watches.fetch_add(1, Ordering::Relaxed);
        let options = WatchOptions {
            since: self.position.clone(),
            ..WatchOptions::default()
        };
        Box::pin(watch(&self.client, options))
    }

    /// Take in one change.
    fn apply(&mut self, event: WatchEvent) {
        let snapshot = match event.object {
            WatchObject::Cluster(cluster) => cluster_snapshot(cluster),
            WatchObject::NodePool(pool) => nodepool_snapshot(pool),
        };
        if event.event_type == EventType::Deleted {
            self.fleet.remove(snapshot.id);
        } else {
            self.fleet.upsert(snapshot, Instant::now());
        }
        self.position = Some(event.resource_version);
    }

    /// List again while leading, keeping what it published for resources
    /// that are still there.
    async fn relist(&mut self) -> Result<(), String> {
        self.metrics.relists.fetch_add(1, Ordering::Relaxed);
        self.list().await
    }

    /// Read every cluster and node pool, and take the position of the first
    /// page as where the feed resumes: whatever changed while the later
    /// pages were read comes again on the feed (and older states than
    /// those listed are ignored).
    async fn list(&mut self) -> Result<(), String> {
        let now = Instant::now();
        let mut seen = std::collections::HashSet::new();
        let mut position = None;
        for kind in [ResourceKind::Cluster, ResourceKind::NodePool] {
            let mut page = 1;
            loop {
                let (items, total, version) = self.page(kind, page).await?;
                position.get_or_insert(version);
                for snapshot in items {
                    seen.insert(snapshot.id);
                    self.fleet.upsert(snapshot, now);
                }
                if u64::from(page) * u64::from(self.config.page_size) >= total {
                    break;
                }
                page += 1;
            }
        }
        let gone: Vec<Uuid> = self
            .fleet
            .tracked
            .keys()
            .filter(|id| !seen.contains(id))
            .copied()
            .collect();
        for id in gone {
            self.fleet.remove(id);
        }
        self.position = position;
        self.listed_at = Instant::now();
        tracing::info!(
            resources = self.fleet.tracked.len(),
            "sentinel listed the fleet; following the change feed"
        );
        Ok(())
    }

    /// One page of every resource of `kind`, how many there are in all,
    /// and the feed position it reflects.
    async fn page(
        &self,
        kind: ResourceKind,
        page: u32,
    ) -> Result<(Vec<Snapshot>, u64, String), String> {
        self.metrics.list_requests.fetch_add(1, Ordering::Relaxed);
        let size = self.config.page_size;
        let api = |e: hyperfleet_sdk::Error<types::Error>| format!("API: {e}");
        Ok(match kind {
            ResourceKind::Cluster => {
                let list = self.client.cluster_list().page(page).size(size).send();
                let list = list.await.map_err(api)?.into_inner();
                (
                    list.items.into_iter().map(cluster_snapshot).collect(),
                    list.total,
                    list.resource_version,
                )
            }
            ResourceKind::NodePool => {
                let list = self.client.nodepool_list_all().page(page).size(size).send();
                let list = list.await.map_err(api)?.into_inner();
                (
                    list.items.into_iter().map(nodepool_snapshot).collect(),
                    list.total,
                    list.resource_version,
                )
            }
        })
    }

    /// Publish for every resource whose time has come and that needs an
    /// event, and set when each is looked at next.
    async fn publish_due(&mut self, publisher: &Arc<dyn Publisher>) -> Result<(), String> {
        let now = Instant::now();
        let mut resyncs: u32 = 0;
        for id in self.fleet.due(now) {
            let Some(known) = self.fleet.tracked.get(&id) else {
                continue;
            };
            let wall = Utc::now();
            let at = self.due_at(known, now, wall);
            if at > now {
                self.fleet.reschedule(id, at);
                continue;
            }
            let snapshot = known.snapshot.clone();
            // A Ready resource at a generation already published (or, for a
            // new leader, never seen) only needs its resync.
            let resync = snapshot.phase == types::Phase::Ready
                && known
                    .last
                    .is_none_or(|l| l.generation >= snapshot.generation);
            if resync {
                resyncs += 1;
            }
            if resync && resyncs > self.config.page_size {
                // The rest of a new leader's resyncs, next tick.
                self.fleet.reschedule(id, now + self.config.poll_interval);
                continue;
            }
            self.publish(publisher, &snapshot, wall).await?;
            let published = Published {
                generation: snapshot.generation,
                at: Instant::now(),
            };
            if let Some(known) = self.fleet.tracked.get_mut(&id) {
                known.last = Some(published);
            }
            if let Some(known) = self.fleet.tracked.get(&id) {
                let next = self.due_at(known, Instant::now(), Utc::now());
                self.fleet.reschedule(id, next);
            }
        }
        Ok(())
    }

    /// When `known` next needs an event, as things stand: at once when it
    /// is new to the sentinel or at a new generation; otherwise once both
    /// its last event and its last change are a back-off (resync, when
    /// Ready) behind.
    fn due_at(&self, known: &Tracked, now: Instant, wall: DateTime<Utc>) -> Instant {
        let snapshot = &known.snapshot;
        let Some(last) = known.last else {
            return now;
        };
        if snapshot.generation > last.generation {
            return now;
        }
        let wait = if snapshot.phase == types::Phase::Ready {
            self.config.resync
        } else {
            self.config.backoff
        };
        let quiet = (wall - snapshot.updated_at).to_std().unwrap_or_default();
        let after_change = now + wait.saturating_sub(quiet);
        (last.at + wait).max(after_change)
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
        Ok(())
    }
}

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
