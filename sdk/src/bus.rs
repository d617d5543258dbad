//! An in-process event bus with the semantics the adapter kit needs from
//! RabbitMQ (a queue per adapter name, routing by resource kind, redelivery
//! after a delay), for `hyperfleet dev` and tests without a broker.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use crate::adapter::{Delivery, Inbox, Publisher, Settle, TransportError};
use crate::events::{CloudEvent, ResourceKind};

type Queue = mpsc::UnboundedSender<CloudEvent>;
type SharedReceiver = Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<CloudEvent>>>;

/// One named queue and the kinds bound to it.
struct Binding {
    kinds: Vec<ResourceKind>,
    sender: Queue,
    receiver: SharedReceiver,
}

/// The bus; clones share it.
#[derive(Clone, Default)]
pub struct InProcessBus {
    queues: Arc<Mutex<HashMap<String, Binding>>>,
}

impl InProcessBus {
    pub fn new() -> Self {
        Self::default()
    }

    /// An inbox on the queue named `name`, bound to `kinds`. Inboxes of
    /// the same name share one queue (competing consumers).
    pub fn subscribe(&self, name: &str, kinds: &[ResourceKind]) -> InProcessInbox {
        let mut queues = self
            .queues
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let binding = queues.entry(name.to_string()).or_insert_with(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            Binding {
                kinds: kinds.to_vec(),
                sender,
                receiver: Arc::new(tokio::sync::Mutex::new(receiver)),
            }
        });
        InProcessInbox {
            receiver: binding.receiver.clone(),
            sender: Some(binding.sender.clone()),
        }
    }
}

#[async_trait::async_trait]
impl Publisher for InProcessBus {
    async fn publish(&self, event: &CloudEvent) -> Result<(), TransportError> {
        let queues = self
            .queues
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for binding in queues.values() {
            if binding.kinds.contains(&event.data.kind) {
                // A queue whose inboxes are all gone simply drops the
                // event, like an unbound queue.
                let _ = binding.sender.send(event.clone());
            }
        }
        Ok(())
    }
}

/// One adapter's queue on the bus.
pub struct InProcessInbox {
    receiver: SharedReceiver,
    sender: Option<Queue>,
}

#[async_trait::async_trait]
impl Inbox for InProcessInbox {
    async fn next(&mut self) -> Option<Result<Delivery, TransportError>> {
        let event = self.receiver.lock().await.recv().await?;
        let settle = Box::new(Redeliver {
            event: event.clone(),
            queue: self.sender.clone(),
        });
        Some(Ok(Delivery { event, settle }))
    }
}

struct Redeliver {
    event: CloudEvent,
    queue: Option<Queue>,
}

#[async_trait::async_trait]
impl Settle for Redeliver {
    async fn ack(self: Box<Self>) -> Result<(), TransportError> {
        Ok(())
    }

    async fn retry(self: Box<Self>, delay: Duration) -> Result<(), TransportError> {
        if let Some(queue) = self.queue {
            let event = self.event;
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                let _ = queue.send(event);
            });
        }
        Ok(())
    }
}
