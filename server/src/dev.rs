//! `hyperfleet dev`: the whole control loop in one process: the API on
//! SQLite, the sentinel, and the reference adapters, talking over the SDK's
//! in-process bus instead of RabbitMQ (same kit, other transport).
//!
//! With `--auth`, the sentinel and adapters need a token too: `dev` mints
//! one in memory with the adapter role (read everything, report statuses),
//! adds it to the accepted tokens and hands it to them; it is never written
//! anywhere and dies with the process.

use std::sync::Arc;
use std::time::Duration;

use hyperfleet_sdk::Client;
use hyperfleet_sdk::adapter::{AdapterRuntime, Publisher};
use hyperfleet_sdk::bus::InProcessBus;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::adapters::{REFERENCE_ADAPTERS, SimulatedAdapter, Simulation};
use crate::auth::{self, Principal, Role};
use crate::sentinel::{Connect, Sentinel, SentinelConfig};
use crate::{RunningServer, ServerConfig, StartError};

/// Everything `dev` runs, and how.
#[derive(Clone, Debug)]
pub struct DevConfig {
    pub server: ServerConfig,
    pub simulation: Simulation,
    pub sentinel: SentinelConfig,
    /// How long an adapter waits before retrying a failed event.
    pub retry_delay: Duration,
}

/// The running loop.
pub struct Dev {
    pub server: RunningServer,
    tasks: Vec<JoinHandle<()>>,
    shutdown: watch::Sender<bool>,
}

impl Dev {
    /// Stop the sentinel and adapters, then the server.
    pub async fn stop(self) -> Result<(), String> {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            task.abort();
        }
        self.server.stop().await
    }
}

/// Start the API, then the adapters, then the sentinel.
pub async fn start(mut config: DevConfig) -> Result<Dev, StartError> {
    let token = match &mut config.server.auth {
        Some(tokens) => {
            let principal = Principal {
                subject: "hyperfleet-dev".into(),
                teams: Vec::new(),
                role: Role::Adapter,
            };
            let minted = auth::mint(&principal).map_err(StartError::Auth)?;
            tokens
                .add(&minted.token, principal)
                .map_err(StartError::Auth)?;
            Some(minted.token)
        }
        None => None,
    };
    let server = crate::start(config.server).await?;
    let base_url = format!("http://{}", server.local_addr());
    let client = match &token {
        Some(token) => match Client::new_with_token(&base_url, token) {
            Ok(client) => client,
            Err(error) => {
                // Not left running without its control loop.
                let _ = server.stop().await;
                return Err(StartError::Auth(error.to_string()));
            }
        },
        None => Client::new(&base_url),
    };
    let bus = InProcessBus::new();
    let mut tasks = Vec::new();
    for (name, kinds) in REFERENCE_ADAPTERS {
        // Subscribed before the sentinel starts, so no event is missed.
        let inbox = bus.subscribe(name, kinds);
        let adapter = SimulatedAdapter::new(name, kinds, config.simulation.clone());
        let runtime = AdapterRuntime::new(client.clone(), adapter).retry_delay(config.retry_delay);
        tasks.push(tokio::spawn(async move {
            if let Err(error) = runtime.run(inbox).await {
                tracing::error!(adapter = name, %error, "adapter stopped");
            }
        }));
    }
    let publisher: Arc<dyn Publisher> = Arc::new(bus);
    let connect: Connect = Box::new(move || {
        let publisher = publisher.clone();
        Box::pin(async move { Ok(publisher) })
    });
    let sentinel = Sentinel::new(client, connect, config.sentinel);
    let (shutdown, mut stopped) = watch::channel(false);
    tasks.push(tokio::spawn(sentinel.run(async move {
        let _ = stopped.wait_for(|stop| *stop).await;
    })));
    Ok(Dev {
        server,
        tasks,
        shutdown,
    })
}
