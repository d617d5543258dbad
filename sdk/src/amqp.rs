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

use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer, ExchangeKind};

use crate::adapter::{Adapter, AdapterRuntime, Delivery, Inbox, Publisher, Settle, TransportError};
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
}

impl Default for Topology {
    fn default() -> Self {
        Topology {
            exchange: EXCHANGE.into(),
            queue_prefix: "hyperfleet".into(),
            queue_expires: None,
            adapters: Vec::new(),
            ca_pem: None,
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
    let mut arguments = FieldTable::default();
    if let Some(expires) = topology.queue_expires {
        let millis = u32::try_from(expires.as_millis()).unwrap_or(u32::MAX);
        arguments.insert(
            "x-expires".into(),
            lapin::types::AMQPValue::LongUInt(millis),
        );
    }
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

async fn channel(url: &str, topology: &Topology) -> Result<(Connection, Channel), TransportError> {
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
    for adapter in &topology.adapters {
        declare_queue(&channel, topology, &adapter.name, &adapter.kinds).await?;
    }
    Ok((connection, channel))
}

/// Publishes reconcile events with publisher confirms: `publish` returns
/// once RabbitMQ has taken the (persistent) message.
pub struct AmqpPublisher {
    _connection: Connection,
    channel: Channel,
    exchange: String,
}

impl AmqpPublisher {
    /// Connect to `url` (`amqp://user:pass@host:port/%2f`) and declare the
    /// exchange and the queues of `topology.adapters`.
    pub async fn connect(url: &str, topology: &Topology) -> Result<Self, TransportError> {
        let (connection, channel) = channel(url, topology).await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(transport)?;
        Ok(AmqpPublisher {
            _connection: connection,
            channel,
            exchange: topology.exchange.clone(),
        })
    }
}

#[async_trait::async_trait]
impl Publisher for AmqpPublisher {
    async fn publish(&self, event: &CloudEvent) -> Result<(), TransportError> {
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
        subscribe(
            url,
            topology,
            adapter.name(),
            adapter.kinds(),
            self.concurrency_limit(),
        )
        .await
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
                    // Not an event of ours: drop it instead of redelivering
                    // it forever.
                    tracing::warn!(%error, "discarding a message that is not a reconcile event");
                    let _ = delivery.acker.ack(BasicAckOptions::default()).await;
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
            .ack(BasicAckOptions::default())
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
