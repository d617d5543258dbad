//! The adapter kit's RabbitMQ transport (feature `amqp`): reconcile events
//! on a durable topic exchange, one durable queue per adapter, manual acks.
//!
//! A message is acknowledged only after the adapter's report is stored; an
//! adapter that dies mid-work leaves it unacknowledged, and RabbitMQ
//! delivers it again to the next consumer of the queue.

use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, Consumer, ExchangeKind};

use crate::adapter::{Delivery, Inbox, Publisher, Settle, TransportError};
use crate::events::{CloudEvent, EXCHANGE, ResourceKind};

/// Names on the broker. The defaults are the production ones; tests and
/// side-by-side environments use their own exchange and queue prefix.
#[derive(Clone, Debug)]
pub struct Topology {
    /// The topic exchange (default `hyperfleet`).
    pub exchange: String,
    /// Queues are named `<prefix>.<adapter>` (default prefix `hyperfleet`).
    pub queue_prefix: String,
    /// Delete a queue after it has had no consumer for this long (default:
    /// never, so events wait for an adapter that is down).
    pub queue_expires: Option<Duration>,
}

impl Default for Topology {
    fn default() -> Self {
        Topology {
            exchange: EXCHANGE.into(),
            queue_prefix: "hyperfleet".into(),
            queue_expires: None,
        }
    }
}

fn transport(error: lapin::Error) -> TransportError {
    TransportError(format!("RabbitMQ: {error}"))
}

async fn channel(url: &str, topology: &Topology) -> Result<(Connection, Channel), TransportError> {
    let connection = Connection::connect(url, ConnectionProperties::default())
        .await
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
    /// exchange.
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
pub async fn subscribe(
    url: &str,
    topology: &Topology,
    name: &str,
    kinds: &[ResourceKind],
    prefetch: u16,
) -> Result<AmqpInbox, TransportError> {
    let (connection, channel) = channel(url, topology).await?;
    let queue = format!("{}.{name}", topology.queue_prefix);
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
    channel
        .basic_qos(prefetch, BasicQosOptions::default())
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
