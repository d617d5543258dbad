//! The adapter kit: what an adapter team implements ([`Adapter`]) and the
//! runtime that does the rest ([`AdapterRuntime`]): take reconcile events
//! from a transport, fetch the resource through the API, run the adapter,
//! report its conditions, and acknowledge the event only once the report is
//! stored, retrying later when anything fails.
//!
//! The adapter order (the server's aggregation config: `dns` after
//! `validation`, ...) is kept here, not in the sentinel: the sentinel
//! publishes one event per resource to every adapter's queue, and only the
//! receiving side knows which adapter it is. Before running the adapter,
//! the runtime reads the resource's statuses; while the API lists this
//! adapter under `waiting`, the event is held (delivered again after the
//! retry delay) and nothing is reported. So ordering needs no per-adapter
//! routing, holds on RabbitMQ and on the in-process bus alike, and follows
//! the one configuration the API enforces, at the price of one GET per
//! event.
//!
//! ```no_run
//! use std::time::Duration;
//! use hyperfleet_sdk::adapter::{Adapter, AdapterError, AdapterRuntime, Outcome, Resource};
//! use hyperfleet_sdk::bus::InProcessBus;
//! use hyperfleet_sdk::events::ResourceKind;
//!
//! struct Dns;
//!
//! #[async_trait::async_trait]
//! impl Adapter for Dns {
//!     fn name(&self) -> &str { "dns" }
//!     fn kinds(&self) -> &[ResourceKind] { &[ResourceKind::Cluster] }
//!     async fn reconcile(&self, resource: &Resource) -> Result<Outcome, AdapterError> {
//!         // Create the records for resource.id() at resource.generation()...
//!         Ok(Outcome::done("records created"))
//!     }
//!     async fn finalize(&self, resource: &Resource) -> Result<Outcome, AdapterError> {
//!         // Delete them...
//!         Ok(Outcome::done("records deleted"))
//!     }
//! }
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = hyperfleet_sdk::Client::new("http://127.0.0.1:8000");
//! let bus = InProcessBus::new();
//! let inbox = bus.subscribe("dns", &[ResourceKind::Cluster]);
//! AdapterRuntime::new(client, Dns).retry_delay(Duration::from_secs(2)).run(inbox).await?;
//! # Ok(())
//! # }
//! ```
//! With the `amqp` feature, `hyperfleet_sdk::amqp::subscribe` gives an inbox
//! on a durable RabbitMQ queue of the adapter's own instead.
//!
//! Duplicates: the sentinel names each event after what it is about
//! ([`crate::events::event_id`]), so an event published twice (two
//! sentinels around a fail-over, a sentinel restarted) arrives twice with
//! one id. The runtime remembers the ids of the events it completed (the
//! last 10 000 by default, [`AdapterRuntime::remember_completed`]) and
//! acknowledges a repeat of one of them without running the adapter again.
//! What it did is counted in [`AdapterMetrics`].

use std::collections::{HashSet, VecDeque};
use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Map;
use uuid::Uuid;

/// Re-exported so an adapter needs no `async-trait` dependency of its own:
/// `#[hyperfleet_sdk::adapter::async_trait]` on `impl Adapter for ...`.
pub use async_trait::async_trait;

use crate::events::{CloudEvent, ResourceKind};
use crate::{Client, Error as SdkError, types};

/// A resource as the API returned it.
#[derive(Clone, Debug)]
pub enum Resource {
    Cluster(types::Cluster),
    NodePool(types::NodePool),
}

impl Resource {
    /// The resource's id.
    pub fn id(&self) -> Uuid {
        match self {
            Resource::Cluster(c) => c.id,
            Resource::NodePool(p) => p.id,
        }
    }

    /// The generation to report on, in the type reports take
    /// (`observed_generation`). The API's generations start at 1 and the
    /// runtime checks that before calling the adapter, so this is the
    /// resource's own generation.
    pub fn generation(&self) -> NonZeroU64 {
        self.checked_generation().unwrap_or(NonZeroU64::MIN)
    }

    /// The generation as the API returned it (`i64` on the wire).
    pub fn raw_generation(&self) -> i64 {
        match self {
            Resource::Cluster(c) => c.generation,
            Resource::NodePool(p) => p.generation,
        }
    }

    fn checked_generation(&self) -> Option<NonZeroU64> {
        u64::try_from(self.raw_generation())
            .ok()
            .and_then(NonZeroU64::new)
    }

    /// Is it being deleted?
    pub fn terminating(&self) -> bool {
        let phase = match self {
            Resource::Cluster(c) => c.status.phase,
            Resource::NodePool(p) => p.status.phase,
        };
        phase == types::Phase::Terminating
    }

    pub fn kind(&self) -> ResourceKind {
        match self {
            Resource::Cluster(_) => ResourceKind::Cluster,
            Resource::NodePool(_) => ResourceKind::NodePool,
        }
    }
}

/// A JSON object, as `Outcome.data` and `Outcome.metadata` take it.
pub type JsonMap = serde_json::Map<String, serde_json::Value>;

/// What an adapter achieved in one attempt.
///
/// The runtime turns it into a status report: `Applied=True`,
/// `Health=True`, `Available` and, while the resource is being deleted,
/// `Finalized`. Start from [`Outcome::done`] or [`Outcome::in_progress`]
/// and add what the adapter has to say:
///
/// ```
/// use hyperfleet_sdk::adapter::Outcome;
///
/// let outcome = Outcome::done("records created")
///     .reason("RecordsCreated")
///     .data("zone", "example.com")
///     .metadata("attempts", 1);
/// assert!(outcome.done);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Outcome {
    /// The work is complete: `Available=True` after `reconcile`,
    /// `Finalized=True` after `finalize`. Otherwise it is under way and the
    /// event comes back after the retry delay.
    pub done: bool,
    /// A one-line summary: the report's message, and the message of the
    /// deciding condition (`Available`, or `Finalized` while deleting).
    pub message: String,
    /// The reason of the deciding condition (default `Available` /
    /// `InProgress`, or `Finalized` / `CleaningUp` while deleting).
    pub reason: Option<String>,
    /// While finalizing: whether what the adapter manages is still
    /// available (default: no). Ignored after `reconcile`, where `done`
    /// decides `Available`.
    pub available: Option<bool>,
    /// Adapter-specific results, reported as `data`.
    pub data: JsonMap,
    /// Adapter-specific bookkeeping, reported as `metadata`.
    pub metadata: JsonMap,
}

impl Outcome {
    /// Finished.
    pub fn done(message: impl Into<String>) -> Self {
        Outcome {
            done: true,
            message: message.into(),
            ..Outcome::default()
        }
    }

    /// Under way; ask again later.
    pub fn in_progress(message: impl Into<String>) -> Self {
        Outcome {
            done: false,
            message: message.into(),
            ..Outcome::default()
        }
    }

    /// The deciding condition's reason (a CamelCase word, like
    /// `RecordsCreated`).
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// While finalizing, report `Available` as `available` (default false).
    pub fn available(mut self, available: bool) -> Self {
        self.available = Some(available);
        self
    }

    /// Add `key` to the report's `data`.
    pub fn data(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.data.insert(key.into(), value.into());
        self
    }

    /// Add `key` to the report's `metadata`.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<serde_json::Value>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// The conditions reported for this outcome.
    fn conditions(&self, terminating: bool) -> Vec<ConditionOut> {
        let mut conditions = vec![
            ConditionOut::new("Applied", true, "Applied", ""),
            ConditionOut::new("Health", true, "Healthy", ""),
        ];
        if terminating {
            // Finalized decides during deletion; Available is what the
            // adapter says is left (nothing, unless it says otherwise).
            let available = self.available.unwrap_or(false);
            conditions.push(ConditionOut::new(
                "Available",
                available,
                if available { "Available" } else { "Finalizing" },
                "",
            ));
            let default = if self.done { "Finalized" } else { "CleaningUp" };
            conditions.push(ConditionOut::new(
                "Finalized",
                self.done,
                self.reason.as_deref().unwrap_or(default),
                &self.message,
            ));
        } else {
            let default = if self.done { "Available" } else { "InProgress" };
            conditions.push(ConditionOut::new(
                "Available",
                self.done,
                self.reason.as_deref().unwrap_or(default),
                &self.message,
            ));
        }
        conditions
    }
}

/// One condition of a report, before validation by the generated types.
struct ConditionOut {
    kind: &'static str,
    status: types::ConditionStatus,
    reason: String,
    message: String,
}

impl ConditionOut {
    fn new(kind: &'static str, status: bool, reason: &str, message: &str) -> Self {
        ConditionOut {
            kind,
            status: status_of(status),
            reason: reason.to_string(),
            message: message.to_string(),
        }
    }
}

/// An attempt failed; the runtime reports `Health=False` with this message
/// and retries after the delay.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{0}")]
pub struct AdapterError(pub String);

/// What an adapter team implements.
#[async_trait::async_trait]
pub trait Adapter: Send + Sync + 'static {
    /// The adapter's name, as reported and as required by the API's
    /// configuration (`validation`, `dns`, ...).
    fn name(&self) -> &str;

    /// The kinds of resource this adapter works on.
    fn kinds(&self) -> &[ResourceKind];

    /// Bring the world in line with `resource` at `resource.generation()`.
    /// Called again for every event; must be idempotent.
    async fn reconcile(&self, resource: &Resource) -> Result<Outcome, AdapterError>;

    /// Clean up after `resource`, which is being deleted.
    async fn finalize(&self, resource: &Resource) -> Result<Outcome, AdapterError>;
}

/// A transport failure (broker unreachable, channel closed, bad payload).
#[derive(Clone, Debug, thiserror::Error)]
#[error("{0}")]
pub struct TransportError(pub String);

/// Where reconcile events come from: an adapter's own queue.
#[async_trait::async_trait]
pub trait Inbox: Send {
    /// The next event; `None` once the inbox is closed.
    async fn next(&mut self) -> Option<Result<Delivery, TransportError>>;
}

/// Settles one delivered event.
#[async_trait::async_trait]
pub trait Settle: Send + Sync {
    /// Done with it: remove it from the queue.
    async fn ack(self: Box<Self>) -> Result<(), TransportError>;
    /// Deliver it again after `delay`.
    async fn retry(self: Box<Self>, delay: Duration) -> Result<(), TransportError>;
}

/// One event, to be acknowledged once handled.
pub struct Delivery {
    pub event: CloudEvent,
    pub settle: Box<dyn Settle>,
}

/// Where the sentinel sends events.
#[async_trait::async_trait]
pub trait Publisher: Send + Sync {
    /// Publish `event` under its kind's routing key.
    async fn publish(&self, event: &CloudEvent) -> Result<(), TransportError>;

    /// Whether this publisher may publish now, where several sentinels
    /// share a transport and only the elected one publishes: taking the
    /// lock if it is free. The sentinel asks before every cycle and
    /// publishes nothing while the answer is `false`; an error means the
    /// transport is gone (the sentinel connects again). The default, for a
    /// transport with one sentinel like the in-process bus, always leads.
    async fn lead(&self) -> Result<bool, TransportError> {
        Ok(true)
    }
}

/// What an adapter runtime (and its inbox) did since it started: counters
/// to export as metrics ([`AdapterMetrics::prometheus`]).
#[derive(Debug, Default)]
pub struct AdapterMetrics {
    completed: AtomicU64,
    duplicates: AtomicU64,
    retried: AtomicU64,
    dead_lettered: AtomicU64,
}

impl AdapterMetrics {
    /// Events handled to the end and acknowledged.
    pub fn completed(&self) -> u64 {
        self.completed.load(Ordering::Relaxed)
    }

    /// Events acknowledged without running the adapter, because an event of
    /// the same id had been completed.
    pub fn duplicates(&self) -> u64 {
        self.duplicates.load(Ordering::Relaxed)
    }

    /// Events handed back to be delivered again after the retry delay (a
    /// failure, unfinished work, or an adapter earlier in the order still
    /// working).
    pub fn retried(&self) -> u64 {
        self.retried.load(Ordering::Relaxed)
    }

    /// Messages that were not reconcile events (undecodable, or of an
    /// unknown kind), rejected into the dead-letter queue.
    pub fn dead_lettered(&self) -> u64 {
        self.dead_lettered.load(Ordering::Relaxed)
    }

    /// Count one message rejected into the dead-letter queue (for
    /// transports: the RabbitMQ inbox does it).
    pub fn count_dead_lettered(&self) {
        self.dead_lettered.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters in the Prometheus text format, labelled with the
    /// adapter's name.
    pub fn prometheus(&self, adapter: &str) -> String {
        let adapter = adapter.replace(['\\', '"', '\n'], "_");
        let mut out = String::new();
        for (name, help, value) in [
            (
                "hyperfleet_adapter_events_completed_total",
                "Events handled to the end and acknowledged.",
                self.completed(),
            ),
            (
                "hyperfleet_adapter_events_duplicate_total",
                "Repeats of completed events, acknowledged without running the adapter.",
                self.duplicates(),
            ),
            (
                "hyperfleet_adapter_events_retried_total",
                "Events handed back to be delivered again after the retry delay.",
                self.retried(),
            ),
            (
                "hyperfleet_adapter_messages_dead_lettered_total",
                "Messages that were not reconcile events, rejected into the dead-letter queue.",
                self.dead_lettered(),
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name}{{adapter=\"{adapter}\"}} {value}\n"
            ));
        }
        out
    }
}

/// The ids of the last events completed, oldest first out.
#[derive(Debug)]
struct Completed {
    capacity: usize,
    ids: HashSet<String>,
    order: VecDeque<String>,
}

impl Completed {
    fn new(capacity: usize) -> Self {
        Completed {
            capacity,
            ids: HashSet::new(),
            order: VecDeque::new(),
        }
    }

    fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    fn insert(&mut self, id: &str) {
        if self.capacity == 0 || !self.ids.insert(id.to_string()) {
            return;
        }
        self.order.push_back(id.to_string());
        while self.order.len() > self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.ids.remove(&oldest);
            }
        }
    }
}

/// Runs an [`Adapter`] against the API for every event of an [`Inbox`]
/// (or, with the `amqp` feature, of its RabbitMQ queue:
/// `AdapterRuntime::run_rabbitmq`).
pub struct AdapterRuntime<A> {
    client: Client,
    adapter: Arc<A>,
    retry_delay: Duration,
    concurrency: u16,
    metrics: Arc<AdapterMetrics>,
    completed: Arc<Mutex<Completed>>,
}

/// What handling one event came to.
#[derive(Debug, PartialEq, Eq)]
enum Handled {
    /// Settled: acknowledge.
    Done,
    /// Try again after the retry delay.
    Again,
}

// By hand: a derive would ask for `A: Clone`, but only the `Arc` is cloned.
impl<A> Clone for AdapterRuntime<A> {
    fn clone(&self) -> Self {
        AdapterRuntime {
            client: self.client.clone(),
            adapter: self.adapter.clone(),
            retry_delay: self.retry_delay,
            concurrency: self.concurrency,
            metrics: self.metrics.clone(),
            completed: self.completed.clone(),
        }
    }
}

impl<A: Adapter> AdapterRuntime<A> {
    pub fn new(client: Client, adapter: A) -> Self {
        AdapterRuntime {
            client,
            adapter: Arc::new(adapter),
            retry_delay: Duration::from_secs(5),
            concurrency: 8,
            metrics: Arc::default(),
            completed: Arc::new(Mutex::new(Completed::new(DEFAULT_REMEMBERED))),
        }
    }

    /// How many completed event ids to remember for dropping duplicates
    /// (default 10 000; 0 turns the check off). A duplicate that arrives
    /// after its id was forgotten runs the adapter again, which adapters
    /// must allow anyway (reconciling is idempotent).
    pub fn remember_completed(self, capacity: usize) -> Self {
        *lock(&self.completed) = Completed::new(capacity);
        self
    }

    /// What this runtime did so far; clones of the runtime share it.
    pub fn metrics(&self) -> Arc<AdapterMetrics> {
        self.metrics.clone()
    }

    /// How many events are handled at once (default 8, at least 1). On
    /// RabbitMQ (`run_rabbitmq`) the prefetch is derived from it, so the
    /// broker hands out exactly as many events as are worked on.
    pub fn concurrency(mut self, concurrency: u16) -> Self {
        self.concurrency = concurrency.max(1);
        self
    }

    /// The adapter this runtime runs.
    pub fn adapter(&self) -> &A {
        &self.adapter
    }

    /// How many events are handled at once.
    pub fn concurrency_limit(&self) -> u16 {
        self.concurrency
    }

    /// How long a failed or unfinished event waits before it is delivered
    /// again (default 5 s).
    pub fn retry_delay(mut self, delay: Duration) -> Self {
        self.retry_delay = delay;
        self
    }

    /// Handle events until the inbox closes. Each event is acknowledged only
    /// after its status report is stored; when the API or the adapter
    /// fails, it is delivered again after the retry delay.
    pub async fn run(self, mut inbox: impl Inbox) -> Result<(), TransportError> {
        let name = self.adapter.name().to_string();
        let retry_delay = self.retry_delay;
        let limit = Arc::new(tokio::sync::Semaphore::new(usize::from(self.concurrency)));
        let this = Arc::new(self);
        // Owned here, so stopping the runtime (dropping this future) stops
        // the work in flight too, and its events stay unacknowledged.
        let mut running = tokio::task::JoinSet::new();
        while let Some(delivery) = inbox.next().await {
            let delivery = match delivery {
                Ok(delivery) => delivery,
                Err(error) => {
                    tracing::warn!(adapter = %name, %error, "cannot receive; retrying");
                    tokio::time::sleep(retry_delay).await;
                    continue;
                }
            };
            if lock(&this.completed).contains(&delivery.event.id) {
                tracing::debug!(adapter = %name, event = %delivery.event.id, "dropping the repeat of a completed event");
                this.metrics.duplicates.fetch_add(1, Ordering::Relaxed);
                if let Err(error) = delivery.settle.ack().await {
                    tracing::warn!(adapter = %name, %error, "cannot settle an event; it will come back");
                }
                continue;
            }
            let Ok(permit) = limit.clone().acquire_owned().await else {
                break;
            };
            let (this, name) = (this.clone(), name.clone());
            running.spawn(async move {
                let settled = match this.handle(&delivery.event).await {
                    Handled::Done => {
                        lock(&this.completed).insert(&delivery.event.id);
                        this.metrics.completed.fetch_add(1, Ordering::Relaxed);
                        delivery.settle.ack().await
                    }
                    Handled::Again => {
                        this.metrics.retried.fetch_add(1, Ordering::Relaxed);
                        delivery.settle.retry(retry_delay).await
                    }
                };
                if let Err(error) = settled {
                    tracing::warn!(adapter = %name, %error, "cannot settle an event; it will come back");
                }
                drop(permit);
            });
            // Reap what has finished, so the set does not grow.
            while running.try_join_next().is_some() {}
        }
        while running.join_next().await.is_some() {}
        Ok(())
    }

    async fn handle(&self, event: &CloudEvent) -> Handled {
        let name = self.adapter.name();
        let data = &event.data;
        if !self.adapter.kinds().contains(&data.kind) {
            return Handled::Done;
        }
        let resource = match self.fetch(data.kind, data.id, data.cluster_id).await {
            Ok(Some(resource)) => resource,
            // Gone: nothing left to do.
            Ok(None) => return Handled::Done,
            Err(error) => {
                tracing::warn!(adapter = name, id = %data.id, %error, "cannot read the resource");
                return Handled::Again;
            }
        };
        match self.held_back(&resource).await {
            Ok(None) => {}
            Ok(Some(message)) => {
                tracing::debug!(adapter = name, id = %resource.id(), %message, "held back by the adapter order");
                return Handled::Again;
            }
            Err(error) => {
                tracing::warn!(adapter = name, id = %resource.id(), %error, "cannot read the statuses");
                return Handled::Again;
            }
        }
        // The API's generations start at 1; anything else is a server bug,
        // reported here instead of handing the adapter a made-up number.
        let Some(generation) = resource.checked_generation() else {
            tracing::warn!(adapter = name, id = %resource.id(), "the API returned a generation below 1");
            return Handled::Again;
        };
        let terminating = resource.terminating();
        let attempt = if terminating {
            self.adapter.finalize(&resource).await
        } else {
            self.adapter.reconcile(&resource).await
        };
        let (conditions, message, data_out, metadata, again) = match &attempt {
            Ok(outcome) => (
                outcome.conditions(terminating),
                outcome.message.clone(),
                outcome.data.clone(),
                outcome.metadata.clone(),
                !outcome.done,
            ),
            Err(error) => {
                let mut conditions = vec![
                    ConditionOut::new("Applied", true, "Applied", ""),
                    ConditionOut::new("Available", false, "Failed", &error.0),
                    ConditionOut::new("Health", false, "Failed", &error.0),
                ];
                if terminating {
                    conditions.push(ConditionOut::new("Finalized", false, "Failed", &error.0));
                }
                (conditions, error.0.clone(), Map::new(), Map::new(), true)
            }
        };
        match self
            .report(
                &resource,
                generation,
                &conditions,
                &message,
                data_out,
                metadata,
            )
            .await
        {
            Ok(()) if again => Handled::Again,
            Ok(()) => Handled::Done,
            Err(Reported::Superseded) => Handled::Done,
            Err(Reported::Failed(error)) => {
                tracing::warn!(adapter = name, id = %resource.id(), %error, "cannot report; retrying");
                Handled::Again
            }
        }
    }

    /// Why this adapter must not act on `resource` yet, if it must not: the
    /// API lists it under `waiting` while adapters it comes `after` are not
    /// complete at the current generation (during deletion: while adapters
    /// that come after it have not finalized). The order is the server's
    /// aggregation config; the kit asks rather than knowing it, so every
    /// adapter follows the one configuration the API enforces.
    async fn held_back(
        &self,
        resource: &Resource,
    ) -> Result<Option<String>, SdkError<types::Error>> {
        let list = match resource {
            Resource::Cluster(c) => {
                self.client
                    .cluster_status_list()
                    .cluster(c.id.to_string())
                    .send()
                    .await
            }
            Resource::NodePool(p) => {
                self.client
                    .nodepool_status_list()
                    .cluster(p.cluster_id.to_string())
                    .nodepool(p.id.to_string())
                    .send()
                    .await
            }
        };
        let list = match list {
            Ok(list) => list.into_inner(),
            // Gone since it was fetched: the report will say so.
            Err(error) if error.status().map(|s| s.as_u16()) == Some(404) => return Ok(None),
            Err(error) => return Err(error),
        };
        Ok(list
            .waiting
            .into_iter()
            .find(|w| w.adapter == self.adapter.name())
            .map(|w| w.message))
    }

    async fn fetch(
        &self,
        kind: ResourceKind,
        id: Uuid,
        cluster_id: Uuid,
    ) -> Result<Option<Resource>, SdkError<types::Error>> {
        let result = match kind {
            ResourceKind::Cluster => self
                .client
                .cluster_view()
                .cluster(id.to_string())
                .send()
                .await
                .map(|r| Resource::Cluster(r.into_inner())),
            ResourceKind::NodePool => self
                .client
                .nodepool_view()
                .cluster(cluster_id.to_string())
                .nodepool(id.to_string())
                .send()
                .await
                .map(|r| Resource::NodePool(r.into_inner())),
        };
        match result {
            Ok(resource) => Ok(Some(resource)),
            Err(error) if error.status().map(|s| s.as_u16()) == Some(404) => Ok(None),
            Err(error) => Err(error),
        }
    }

    async fn report(
        &self,
        resource: &Resource,
        generation: NonZeroU64,
        conditions: &[ConditionOut],
        message: &str,
        data: JsonMap,
        metadata: JsonMap,
    ) -> Result<(), Reported> {
        let conditions = conditions
            .iter()
            .map(|c| {
                types::ConditionReport::builder()
                    .type_(c.kind)
                    .status(c.status)
                    .reason(c.reason.clone())
                    .message(c.message.clone())
                    .try_into()
            })
            .collect::<Result<Vec<types::ConditionReport>, _>>()
            .map_err(|e: types::error::ConversionError| Reported::Failed(e.to_string()))?;
        let message = (!message.is_empty())
            .then(|| message.to_string().try_into())
            .transpose()
            .map_err(|e: types::error::ConversionError| Reported::Failed(e.to_string()))?;
        let body = types::AdapterStatusReport::builder()
            .adapter(self.adapter.name())
            .observed_generation(generation)
            .conditions(conditions)
            .data(data)
            .metadata(metadata)
            .message(message);
        let sent = match resource {
            Resource::Cluster(c) => {
                self.client
                    .cluster_status_report()
                    .cluster(c.id.to_string())
                    .body(body)
                    .send()
                    .await
            }
            Resource::NodePool(p) => {
                self.client
                    .nodepool_status_report()
                    .cluster(p.cluster_id.to_string())
                    .nodepool(p.id.to_string())
                    .body(body)
                    .send()
                    .await
            }
        };
        match sent {
            Ok(_) => Ok(()),
            // The resource moved on (a newer generation, or it is gone):
            // the event that says so will come; this one is settled.
            Err(SdkError::ErrorResponse(response))
                if matches!(
                    response.error,
                    types::ErrorCode::StaleStatus
                        | types::ErrorCode::GenerationConflict
                        | types::ErrorCode::ClusterNotFound
                        | types::ErrorCode::NodePoolNotFound
                        | types::ErrorCode::ResourceTerminating
                ) =>
            {
                Err(Reported::Superseded)
            }
            Err(error) => Err(Reported::Failed(error.to_string())),
        }
    }
}

enum Reported {
    Superseded,
    Failed(String),
}

const DEFAULT_REMEMBERED: usize = 10_000;

/// The set of completed ids; a panic elsewhere while it was held leaves it
/// usable (it is a cache).
fn lock(completed: &Mutex<Completed>) -> std::sync::MutexGuard<'_, Completed> {
    completed
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn status_of(value: bool) -> types::ConditionStatus {
    if value {
        types::ConditionStatus::True
    } else {
        types::ConditionStatus::False
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find<'a>(conditions: &'a [ConditionOut], kind: &str) -> Option<&'a ConditionOut> {
        conditions.iter().find(|c| c.kind == kind)
    }

    #[test]
    fn completed_ids_are_remembered_up_to_the_capacity() {
        let mut completed = Completed::new(2);
        completed.insert("a");
        completed.insert("b");
        completed.insert("a");
        assert!(completed.contains("a") && completed.contains("b"));
        completed.insert("c");
        assert!(!completed.contains("a"), "the oldest is forgotten first");
        assert!(completed.contains("b") && completed.contains("c"));
        let mut none = Completed::new(0);
        none.insert("a");
        assert!(!none.contains("a"));
    }

    #[test]
    fn metrics_render_as_prometheus_text() {
        let metrics = AdapterMetrics::default();
        metrics.count_dead_lettered();
        let text = metrics.prometheus("dns");
        assert!(
            text.contains("hyperfleet_adapter_messages_dead_lettered_total{adapter=\"dns\"} 1\n")
        );
        assert!(text.contains("# TYPE hyperfleet_adapter_events_completed_total counter\n"));
    }

    #[test]
    fn finalizing_reports_finalized_with_its_own_reason() {
        let conditions = Outcome::done("records deleted").conditions(true);
        let finalized = find(&conditions, "Finalized").expect("Finalized is reported");
        assert_eq!(finalized.status, types::ConditionStatus::True);
        assert_eq!(finalized.reason, "Finalized");
        assert_eq!(finalized.message, "records deleted");
        let available = find(&conditions, "Available").expect("Available is reported");
        assert_eq!(available.status, types::ConditionStatus::False);
        assert_eq!(available.reason, "Finalizing");
    }

    #[test]
    fn an_outcome_sets_reason_and_available() {
        let outcome = Outcome::in_progress("draining")
            .reason("Draining")
            .available(true)
            .metadata("attempt", 2);
        let conditions = outcome.conditions(true);
        let finalized = find(&conditions, "Finalized").expect("Finalized is reported");
        assert_eq!(finalized.status, types::ConditionStatus::False);
        assert_eq!(finalized.reason, "Draining");
        let available = find(&conditions, "Available").expect("Available is reported");
        assert_eq!(available.status, types::ConditionStatus::True);
        assert_eq!(outcome.metadata.get("attempt"), Some(&serde_json::json!(2)));
        let reconciled = Outcome::done("ok")
            .reason("RecordsCreated")
            .conditions(false);
        let available = find(&reconciled, "Available").expect("Available is reported");
        assert_eq!(available.reason, "RecordsCreated");
        assert!(find(&reconciled, "Finalized").is_none());
    }
}
