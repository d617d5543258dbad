//! The adapter kit's RabbitMQ transport (feature `amqp`): reconcile events
//! on a durable topic exchange, one durable queue per adapter, manual acks.
//!
//! A message is acknowledged only after the adapter's report is stored; an
//! adapter that dies mid-work leaves it unacknowledged, and RabbitMQ
//! delivers it again to the next consumer of the queue.
//!
//! Either side may start first: the publisher (the sentinel) and every
//! adapter declare the exchange, and the queues and bindings of the
//! adapters listed in [`Topology::adapters`] (an adapter also its own),
//! idempotently. A queue that exists before the first event keeps it for
//! an adapter that starts later; RabbitMQ drops what a topic exchange
//! cannot route to any queue.
//!
//! Poison messages: a message that is not a reconcile event (not JSON, not
//! a CloudEvent, or naming a kind of resource this SDK does not know) is
//! rejected without requeue; RabbitMQ moves it to the dead-letter exchange
//! `<exchange>.dead-letter` (fanout), whose queue is
//! `<queue_prefix>.dead-letter` (by default `hyperfleet.dead-letter`), with
//! an `x-death` header naming the queue it came from. Every side declares
//! both, and every adapter queue with `x-dead-letter-exchange` pointing
//! there. The inbox counts them ([`AdapterMetrics::dead_lettered`]).
//! Failures of the adapter or the API are not poison: those events come
//! back after the retry delay, as before. (RabbitMQ will not re-declare a
//! queue with other arguments: queues made by a kit older than the
//! dead-letter exchange must be deleted once, e.g. with `rabbitmqctl
//! delete_queue hyperfleet.dns`; the sentinel publishes what they held
//! again.)
//!
//! Reconnecting: both sides reconnect after the broker goes away
//! ([`AdapterRuntime::run_rabbitmq`], and the sentinel), declaring the
//! whole topology again on the new connection.

use std::time::Duration;

use futures_util::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use lapin::options::{
    BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    BasicRejectOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer, ExchangeKind};

use crate::adapter::{
    Adapter, AdapterMetrics, AdapterRuntime, Delivery, Inbox, Publisher, Settle, TransportError,
};
use crate::events::{CloudEvent, EXCHANGE, ResourceKind};

/// Names on the broker. The defaults are the production ones; tests and
/// side-by-side environments use their own exchange and queue prefix.
/// Every side of one deployment must use the same topology: RabbitMQ
/// refuses to declare a queue again with other arguments (`queue_expires`).
#[derive(Clone, Debug)]
pub struct Topology {
    /// The topic exchange (default `hyperfleet`).
    pub exchange: String,
    /// Queues are named `<prefix>.<adapter>` (default prefix `hyperfleet`).
    pub queue_prefix: String,
    /// Delete a queue after it has had no consumer for this long (default:
    /// never, so events wait for an adapter that is down).
    pub queue_expires: Option<Duration>,
    /// The adapters whose queues the publisher declares when it connects,
    /// so events published before an adapter first starts wait in its
    /// queue (default none: the SDK cannot know the deployment's adapters).
    pub adapters: Vec<AdapterQueue>,
    /// For an `amqps://` broker whose certificate is signed by a CA of your
    /// own: that CA's PEM certificates, trusted instead of the platform's
    /// roots (needs the `tls` feature; without it `amqps://` cannot
    /// connect at all). A connection setting, kept here because every
    /// side that connects takes a topology.
    pub ca_pem: Option<String>,
    /// The AMQP heartbeat to ask the broker for (default: none asked, so
    /// the broker's, 60 s on RabbitMQ; a `heartbeat=` in the URL wins).
    /// Either side drops a connection it has heard nothing on for about
    /// twice this long; the sentinel's leader lock lasts as long as its
    /// connection, so the sentinel sets it from its `--lease-timeout`.
    pub heartbeat: Option<Duration>,
}

impl Default for Topology {
    fn default() -> Self {
        Topology {
            exchange: EXCHANGE.into(),
            queue_prefix: "hyperfleet".into(),
            queue_expires: None,
            adapters: Vec::new(),
            ca_pem: None,
            heartbeat: None,
        }
    }
}

/// An adapter's queue: its name and the kinds of resource bound to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterQueue {
    pub name: String,
    pub kinds: Vec<ResourceKind>,
}

impl AdapterQueue {
    pub fn new(name: impl Into<String>, kinds: &[ResourceKind]) -> Self {
        AdapterQueue {
            name: name.into(),
            kinds: kinds.to_vec(),
        }
    }
}

impl Topology {
    /// The queue of adapter `name`.
    pub fn queue_name(&self, name: &str) -> String {
        format!("{}.{name}", self.queue_prefix)
    }

    /// The exchange poison messages are dead-lettered to:
    /// `<exchange>.dead-letter`.
    pub fn dead_letter_exchange(&self) -> String {
        format!("{}.dead-letter", self.exchange)
    }

    /// The exclusive queue whose holder is the leading sentinel:
    /// `<queue_prefix>.sentinel-leader`.
    pub fn leader_lock(&self) -> String {
        self.queue_name("sentinel-leader")
    }

    /// The queue that keeps them: `<queue_prefix>.dead-letter`.
    pub fn dead_letter_queue(&self) -> String {
        self.queue_name("dead-letter")
    }

    /// `x-expires` for the queues of this topology, when it has one.
    fn queue_arguments(&self) -> FieldTable {
        let mut arguments = FieldTable::default();
        if let Some(expires) = self.queue_expires {
            let millis = u32::try_from(expires.as_millis()).unwrap_or(u32::MAX);
            arguments.insert("x-expires".into(), AMQPValue::LongUInt(millis));
        }
        arguments
    }

    /// `url` with this topology's heartbeat, unless the URL names one.
    fn url_with_heartbeat(&self, url: &str) -> String {
        let Some(heartbeat) = self.heartbeat else {
            return url.to_string();
        };
        if url.contains("heartbeat=") {
            return url.to_string();
        }
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}heartbeat={}", heartbeat.as_secs().max(1))
    }
}

/// Declare `name`'s durable queue and bind it to the routing keys of
/// `kinds`; both are no-ops when already there.
async fn declare_queue(
    channel: &Channel,
    topology: &Topology,
    name: &str,
    kinds: &[ResourceKind],
) -> Result<String, TransportError> {
    let queue = topology.queue_name(name);
    let mut arguments = topology.queue_arguments();
    arguments.insert(
        "x-dead-letter-exchange".into(),
        AMQPValue::LongString(topology.dead_letter_exchange().into()),
    );
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            arguments,
        )
        .await
        .map_err(transport)?;
    for kind in kinds {
        channel
            .queue_bind(
                queue.as_str().into(),
                topology.exchange.as_str().into(),
                kind.routing_key().into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(transport)?;
    }
    Ok(queue)
}

fn transport(error: lapin::Error) -> TransportError {
    TransportError(format!("RabbitMQ: {error}"))
}

/// Declare the dead-letter exchange, its queue and the binding between them.
async fn declare_dead_letter(channel: &Channel, topology: &Topology) -> Result<(), TransportError> {
    let exchange = topology.dead_letter_exchange();
    let queue = topology.dead_letter_queue();
    channel
        .exchange_declare(
            exchange.as_str().into(),
            ExchangeKind::Fanout,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(transport)?;
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            topology.queue_arguments(),
        )
        .await
        .map_err(transport)?;
    channel
        .queue_bind(
            queue.as_str().into(),
            exchange.as_str().into(),
            "".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(transport)?;
    Ok(())
}

async fn channel(url: &str, topology: &Topology) -> Result<(Connection, Channel), TransportError> {
    let url = topology.url_with_heartbeat(url);
    let url = url.as_str();
    let connection = match &topology.ca_pem {
        None => Connection::connect(url, ConnectionProperties::default()).await,
        Some(pem) => {
            let runtime = lapin::runtime::default_runtime().map_err(transport)?;
            let tls = lapin::tcp::OwnedTLSConfig {
                identity: None,
                cert_chain: Some(pem.clone()),
            };
            Connection::connect_with_config(url, ConnectionProperties::default(), tls, runtime)
                .await
        }
    }
    .map_err(transport)?;
    let channel = connection.create_channel().await.map_err(transport)?;
    channel
        .exchange_declare(
            topology.exchange.as_str().into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .map_err(transport)?;
    declare_dead_letter(&channel, topology).await?;
    for adapter in &topology.adapters {
        declare_queue(&channel, topology, &adapter.name, &adapter.kinds).await?;
    }
    Ok((connection, channel))
}

/// Publishes reconcile events with publisher confirms: `publish` returns
/// once RabbitMQ has taken the (persistent) message.
///
/// One made by [`AmqpPublisher::connect_elected`] publishes only while it
/// holds the leader lock ([`Publisher::lead`]): the exclusive queue
/// `<queue_prefix>.sentinel-leader`, declared on the connection it publishes
/// on. RabbitMQ lets one connection at a time hold an exclusive queue and
/// deletes it when that connection closes; so the lock and the right to
/// publish end together, at the moment the broker drops the connection,
/// and never one without the other:
/// - a leader that dies (even by SIGKILL) closes its TCP connection: the
///   broker drops the queue at once, and the next standby to try takes it;
/// - a leader cut off from the broker keeps the lock until the broker
///   declares its connection dead (no heartbeat for about twice
///   [`Topology::heartbeat`]); only then can a standby take it, and by then
///   nothing the old leader sends can reach the broker on that connection,
///   which is its only one. Everything it published while it could was
///   taken before the new leader's lock, so publishes of two leaders never
///   interleave.
pub struct AmqpPublisher {
    connection: Connection,
    channel: Channel,
    exchange: String,
    /// The lock queue, for a publisher that must be elected.
    lock: Option<String>,
    leading: AtomicBool,
}

impl AmqpPublisher {
    /// Connect to `url` (`amqp://user:pass@host:port/%2f`) and declare the
    /// exchange and the queues of `topology.adapters`. It always publishes
    /// (no election: for a single publisher).
    pub async fn connect(url: &str, topology: &Topology) -> Result<Self, TransportError> {
        Self::open(url, topology, None).await
    }

    /// Like [`AmqpPublisher::connect`], for one of several sentinels: it
    /// publishes only once [`Publisher::lead`] has taken the leader lock
    /// of `topology` (see the type's description).
    pub async fn connect_elected(url: &str, topology: &Topology) -> Result<Self, TransportError> {
        Self::open(url, topology, Some(topology.leader_lock())).await
    }

    async fn open(
        url: &str,
        topology: &Topology,
        lock: Option<String>,
    ) -> Result<Self, TransportError> {
        let (connection, channel) = channel(url, topology).await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(transport)?;
        Ok(AmqpPublisher {
            connection,
            channel,
            exchange: topology.exchange.clone(),
            lock,
            leading: AtomicBool::new(false),
        })
    }

    fn may_publish(&self) -> bool {
        self.lock.is_none() || self.leading.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl Publisher for AmqpPublisher {
    async fn publish(&self, event: &CloudEvent) -> Result<(), TransportError> {
        if !self.may_publish() {
            return Err(TransportError(
                "this sentinel does not hold the leader lock".into(),
            ));
        }
        let payload = serde_json::to_vec(event).map_err(|e| TransportError(e.to_string()))?;
        let properties = BasicProperties::default()
            .with_content_type("application/cloudevents+json".into())
            .with_delivery_mode(2);
        self.channel
            .basic_publish(
                self.exchange.as_str().into(),
                event.data.kind.routing_key().into(),
                BasicPublishOptions::default(),
                &payload,
                properties,
            )
            .await
            .map_err(transport)?
            .await
            .map_err(transport)?;
        Ok(())
    }

    async fn lead(&self) -> Result<bool, TransportError> {
        let Some(lock) = &self.lock else {
            return Ok(true);
        };
        // The lock lives exactly as long as the connection: once lapin has
        // given it up (closed by the broker, or no heartbeat heard), so has
        // the broker or so it will, and this publisher is done.
        if !self.connection.status().connected() {
            self.leading.store(false, Ordering::SeqCst);
            return Err(TransportError("RabbitMQ: the connection is gone".into()));
        }
        if self.leading.load(Ordering::SeqCst) {
            return Ok(true);
        }
        // A channel of its own: the broker closes the channel of a refused
        // declare, and the publishing channel must stay open.
        let channel = self.connection.create_channel().await.map_err(transport)?;
        let declared = channel
            .queue_declare(
                lock.as_str().into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await;
        match declared {
            Ok(_) => {
                self.leading.store(true, Ordering::SeqCst);
                Ok(true)
            }
            Err(error) if resource_locked(&error) => Ok(false),
            Err(error) => Err(transport(error)),
        }
    }
}

/// Is `error` RabbitMQ's 405 RESOURCE_LOCKED: another connection holds the
/// exclusive queue?
fn resource_locked(error: &lapin::Error) -> bool {
    matches!(error.kind(), lapin::ErrorKind::ProtocolError(e) if e.get_id() == 405)
}

/// The inbox of one adapter: its durable queue `<prefix>.<name>`, bound to
/// the routing keys of `kinds`, with at most `prefetch` unacknowledged
/// messages at a time. Inboxes of one name share the queue.
///
/// For a custom loop on the [`Inbox`] trait; an [`AdapterRuntime`] calls
/// [`AdapterRuntime::subscribe_rabbitmq`] or
/// [`AdapterRuntime::run_rabbitmq`], which derive the prefetch from its
/// concurrency.
pub async fn subscribe(
    url: &str,
    topology: &Topology,
    name: &str,
    kinds: &[ResourceKind],
    prefetch: u16,
) -> Result<AmqpInbox, TransportError> {
    let (connection, channel) = channel(url, topology).await?;
    let queue = declare_queue(&channel, topology, name, kinds).await?;
    channel
        .basic_qos(prefetch.max(1), BasicQosOptions::default())
        .await
        .map_err(transport)?;
    let consumer = channel
        .basic_consume(
            queue.as_str().into(),
            format!("{name}-{}", uuid::Uuid::new_v4().simple())
                .as_str()
                .into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .map_err(transport)?;
    Ok(AmqpInbox {
        _connection: connection,
        _channel: channel,
        consumer,
        metrics: Arc::default(),
    })
}

impl<A: Adapter> AdapterRuntime<A> {
    /// The adapter's inbox on RabbitMQ: its queue `<prefix>.<name>` (declared
    /// and bound to the adapter's kinds if need be), with the prefetch set
    /// to the runtime's concurrency. Hand it to [`AdapterRuntime::run`].
    pub async fn subscribe_rabbitmq(
        &self,
        url: &str,
        topology: &Topology,
    ) -> Result<AmqpInbox, TransportError> {
        let adapter = self.adapter();
        let mut inbox = subscribe(
            url,
            topology,
            adapter.name(),
            adapter.kinds(),
            self.concurrency_limit(),
        )
        .await?;
        inbox.metrics = self.metrics();
        Ok(inbox)
    }

    /// Run the adapter on its RabbitMQ queue (see
    /// [`subscribe_rabbitmq`](AdapterRuntime::subscribe_rabbitmq)), for
    /// good: when the broker is unreachable or drops the connection, it
    /// logs, waits (1 s, doubling up to 30 s) and connects again. Events in
    /// flight stay unacknowledged and come back. Stop it by dropping the
    /// future, e.g. in `tokio::select!` with a shutdown signal.
    pub async fn run_rabbitmq(self, url: &str, topology: &Topology) {
        let name = self.adapter().name().to_string();
        let mut pause = Duration::from_secs(1);
        loop {
            match self.subscribe_rabbitmq(url, topology).await {
                Ok(inbox) => {
                    tracing::info!(adapter = %name, queue = %topology.queue_name(&name), "consuming");
                    pause = Duration::from_secs(1);
                    // `run` ends when the consumer stream does: the
                    // connection is gone.
                    if let Err(error) = self.clone().run(inbox).await {
                        tracing::warn!(adapter = %name, %error, "the inbox failed");
                    }
                    tracing::warn!(adapter = %name, retry_in = ?pause, "lost the broker; reconnecting");
                }
                Err(error) => {
                    tracing::warn!(adapter = %name, %error, retry_in = ?pause, "cannot reach the broker");
                }
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(30));
        }
    }
}

/// See [`subscribe`].
pub struct AmqpInbox {
    _connection: Connection,
    _channel: Channel,
    consumer: Consumer,
    metrics: Arc<AdapterMetrics>,
}

impl AmqpInbox {
    /// What the inbox counted (the messages it dead-lettered). An inbox
    /// from [`AdapterRuntime::subscribe_rabbitmq`] shares the runtime's.
    pub fn metrics(&self) -> Arc<AdapterMetrics> {
        self.metrics.clone()
    }
}

#[async_trait::async_trait]
impl Inbox for AmqpInbox {
    async fn next(&mut self) -> Option<Result<Delivery, TransportError>> {
        loop {
            let delivery = match self.consumer.next().await? {
                Ok(delivery) => delivery,
                Err(error) => return Some(Err(transport(error))),
            };
            match serde_json::from_slice::<CloudEvent>(&delivery.data) {
                Ok(event) => {
                    let settle = Box::new(AmqpSettle {
                        acker: delivery.acker,
                    });
                    return Some(Ok(Delivery { event, settle }));
                }
                Err(error) => {
                    // Not an event of ours: redelivering it would fail the
                    // same way forever, so it goes to the dead-letter queue
                    // for a person to look at.
                    tracing::warn!(%error, "dead-lettering a message that is not a reconcile event");
                    let reject = BasicRejectOptions { requeue: false };
                    match delivery.acker.reject(reject).await {
                        Ok(_) => self.metrics.count_dead_lettered(),
                        Err(error) => {
                            tracing::warn!(%error, "cannot reject a poison message; RabbitMQ redelivers it on reconnect");
                        }
                    }
                }
            }
        }
    }
}

struct AmqpSettle {
    acker: lapin::Acker,
}

#[async_trait::async_trait]
impl Settle for AmqpSettle {
    async fn ack(self: Box<Self>) -> Result<(), TransportError> {
        self.acker
            .ack(lapin::options::BasicAckOptions::default())
            .await
            .map(|_| ())
            .map_err(transport)
    }

    async fn retry(self: Box<Self>, delay: Duration) -> Result<(), TransportError> {
        // Hold the message (it stays unacknowledged, so it survives a crash)
        // and hand it back after the delay, without blocking the consumer.
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let requeue = BasicNackOptions {
                requeue: true,
                ..Default::default()
            };
            if let Err(error) = self.acker.nack(requeue).await {
                tracing::warn!(%error, "cannot requeue an event; RabbitMQ redelivers it on reconnect");
            }
        });
        Ok(())
    }
}
