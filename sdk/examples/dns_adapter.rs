//! A complete adapter over RabbitMQ, as an adapter team would write it:
//! the `dns` adapter of the reference deployment, reporting "records
//! created" for every cluster and "records deleted" when one is deleted.
//!
//! ```text
//! HYPERFLEET_API_URL=http://127.0.0.1:8000 \
//! HYPERFLEET_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/%2f \
//!   cargo run -p hyperfleet-sdk --example dns_adapter --features amqp
//! ```
//!
//! Environment: `HYPERFLEET_API_URL` (default `http://127.0.0.1:8000`),
//! `HYPERFLEET_TOKEN` (for an API with `--auth`), `HYPERFLEET_AMQP_URL`
//! (default the local broker), `HYPERFLEET_EXCHANGE` (default
//! `hyperfleet`), `HYPERFLEET_ADAPTER_NAME` (default `dns`),
//! `HYPERFLEET_QUEUE_PREFIX` (default `hyperfleet`) and
//! `HYPERFLEET_QUEUE_EXPIRES` (seconds; for throwaway environments, must
//! match the sentinel's), `RUST_LOG` (default `info`).

use std::time::Duration;

use anyhow::Context;
use hyperfleet_sdk::adapter::{
    Adapter, AdapterError, AdapterRuntime, Outcome, Resource, async_trait,
};
use hyperfleet_sdk::amqp::Topology;
use hyperfleet_sdk::events::ResourceKind;
use hyperfleet_sdk::{Client, serde_json};

struct Dns {
    name: String,
}

#[async_trait]
impl Adapter for Dns {
    fn name(&self) -> &str {
        &self.name
    }

    fn kinds(&self) -> &[ResourceKind] {
        &[ResourceKind::Cluster]
    }

    async fn reconcile(&self, resource: &Resource) -> Result<Outcome, AdapterError> {
        let Resource::Cluster(cluster) = resource else {
            return Err(AdapterError("dns serves clusters only".into()));
        };
        // A real adapter calls its DNS provider here; it must be idempotent,
        // as the same event may come again.
        let record = format!("api.{}.example.com", cluster.name.as_str());
        Ok(Outcome::done(format!(
            "records created at generation {}",
            resource.generation()
        ))
        .reason("RecordsCreated")
        .data("records", serde_json::json!([record]))
        .metadata("provider", "example"))
    }

    async fn finalize(&self, _resource: &Resource) -> Result<Outcome, AdapterError> {
        // While the cluster is being deleted, Finalized decides: the API
        // removes it once every adapter reports Finalized=True.
        Ok(Outcome::done("records deleted").reason("RecordsDeleted"))
    }
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Without a subscriber the runtime's warnings (API or broker down,
    // retries) would go nowhere.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();

    let api_url = env_or("HYPERFLEET_API_URL", "http://127.0.0.1:8000");
    let amqp_url = env_or(
        "HYPERFLEET_AMQP_URL",
        "amqp://guest:guest@127.0.0.1:5672/%2f",
    );
    let client = match std::env::var("HYPERFLEET_TOKEN") {
        Ok(token) => Client::new_with_token(&api_url, &token)?,
        Err(_) => Client::new(&api_url),
    };
    let queue_expires = match std::env::var("HYPERFLEET_QUEUE_EXPIRES") {
        Ok(seconds) => {
            Some(Duration::from_secs(seconds.parse().context(
                "HYPERFLEET_QUEUE_EXPIRES must be a number of seconds",
            )?))
        }
        Err(_) => None,
    };
    let topology = Topology {
        exchange: env_or("HYPERFLEET_EXCHANGE", "hyperfleet"),
        queue_prefix: env_or("HYPERFLEET_QUEUE_PREFIX", "hyperfleet"),
        queue_expires,
        // The adapter declares only its own queue.
        ..Topology::default()
    };
    let adapter = Dns {
        name: env_or("HYPERFLEET_ADAPTER_NAME", "dns"),
    };
    let runtime = AdapterRuntime::new(client, adapter)
        .concurrency(8)
        .retry_delay(Duration::from_secs(2));
    tokio::select! {
        () = runtime.run_rabbitmq(&amqp_url, &topology) => {}
        result = tokio::signal::ctrl_c() => result.context("cannot wait for Ctrl-C")?,
    }
    Ok(())
}
