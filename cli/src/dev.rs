//! `hyperfleet dev`: the whole control loop in one process: the API on
//! SQLite, and the sentinel and reference adapters of
//! [`hyperfleet_control_loop::local`] calling it through the SDK.
//!
//! With `--auth`, the sentinel and adapters need a token too: `dev` mints
//! one in memory with the adapter role (read everything, report statuses),
//! adds it to the accepted tokens and hands it to them; it is never written
//! anywhere and dies with the process.

use std::time::Duration;

use hyperfleet_control_loop::local::{LocalConfig, LocalLoop};
use hyperfleet_control_loop::reference_adapters::Simulation;
use hyperfleet_control_loop::sentinel::SentinelConfig;
use hyperfleet_sdk::Client;
use hyperfleet_server::auth::{self, Principal, Role};
use hyperfleet_server::{RunningServer, ServerConfig, StartError};

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
    control_loop: LocalLoop,
}

impl Dev {
    /// Stop the sentinel and adapters, then the server.
    pub async fn stop(self) -> Result<(), String> {
        self.control_loop.stop();
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
    let server = hyperfleet_server::start(config.server).await?;
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
    let control_loop = LocalLoop::start(
        client,
        LocalConfig {
            simulation: config.simulation,
            sentinel: config.sentinel,
            retry_delay: config.retry_delay,
        },
    );
    Ok(Dev {
        server,
        control_loop,
    })
}
