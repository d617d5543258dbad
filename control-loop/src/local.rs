//! The control loop in one process, as `hyperfleet dev` runs it: the
//! reference adapters and the sentinel on the SDK's in-process bus instead
//! of RabbitMQ (same kit, other transport).

use std::sync::Arc;
use std::time::Duration;

use hyperfleet_sdk::Client;
use hyperfleet_sdk::adapter::{AdapterRuntime, Publisher};
use hyperfleet_sdk::bus::InProcessBus;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::reference_adapters::{REFERENCE_ADAPTERS, SimulatedAdapter, Simulation};
use crate::sentinel::{self, Sentinel, SentinelConfig};

/// How the in-process adapters and sentinel behave.
#[derive(Clone, Debug)]
pub struct LocalConfig {
    pub simulation: Simulation,
    pub sentinel: SentinelConfig,
    /// How long an adapter waits before retrying a failed event.
    pub retry_delay: Duration,
}

/// The running adapters and sentinel.
pub struct LocalLoop {
    tasks: Vec<JoinHandle<()>>,
    shutdown: watch::Sender<bool>,
}

impl LocalLoop {
    /// Start the reference adapters, then the sentinel, all calling the API
    /// through `client`. Must be called inside a Tokio runtime.
    pub fn start(client: Client, config: LocalConfig) -> LocalLoop {
        let bus = InProcessBus::new();
        let mut tasks = Vec::new();
        for (name, kinds) in REFERENCE_ADAPTERS {
            // Subscribed before the sentinel starts, so no event is missed.
            let inbox = bus.subscribe(name, kinds);
            let adapter = SimulatedAdapter::new(name, kinds, config.simulation.clone());
            let runtime =
                AdapterRuntime::new(client.clone(), adapter).retry_delay(config.retry_delay);
            tasks.push(tokio::spawn(async move {
                if let Err(error) = runtime.run(inbox).await {
                    tracing::error!(adapter = name, %error, "adapter stopped");
                }
            }));
        }
        let publisher: Arc<dyn Publisher> = Arc::new(bus);
        let sentinel = Sentinel::new(client, sentinel::always(publisher), config.sentinel);
        let (shutdown, mut stopped) = watch::channel(false);
        tasks.push(tokio::spawn(sentinel.run(async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        })));
        LocalLoop { tasks, shutdown }
    }

    /// Stop the sentinel and the adapters; events in flight are dropped
    /// (the sentinel publishes them again to whoever runs next).
    pub fn stop(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            task.abort();
        }
    }
}
