//! Control-loop benchmark (not a test): how long 1 000 clusters take from
//! create to Ready, and how many reconcile events per second the loop
//! carries, in `hyperfleet dev` (in-process bus) and over RabbitMQ.
//!
//! `cargo bench -p hyperfleet-e2e --bench control_loop [-- CLUSTERS]`
//! (RabbitMQ at HYPERFLEET_TEST_AMQP_URL, default the local broker; that
//! half is skipped with a message where there is none).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hyperfleet_control_loop::reference_adapters::{
    REFERENCE_ADAPTERS, SimulatedAdapter, Simulation,
};
use hyperfleet_control_loop::sentinel::{Connect, Sentinel, SentinelConfig};
use hyperfleet_e2e::fixtures::cluster_request_at;
use hyperfleet_e2e::server::server_config;
use hyperfleet_sdk::Client;
use hyperfleet_sdk::adapter::{AdapterRuntime, Publisher, TransportError};
use hyperfleet_sdk::amqp::{AmqpPublisher, Topology};
use hyperfleet_sdk::bus::InProcessBus;
use hyperfleet_sdk::events::CloudEvent;
use hyperfleet_server::start;
use uuid::Uuid;

/// Counts what goes through a publisher.
struct Counting {
    inner: Arc<dyn Publisher>,
    count: Arc<AtomicU64>,
}

#[async_trait::async_trait]
impl Publisher for Counting {
    async fn publish(&self, event: &CloudEvent) -> Result<(), TransportError> {
        self.inner.publish(event).await?;
        self.count.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

enum Transport {
    InProcess,
    Rabbit(String),
}

struct Outcome {
    latencies: Vec<Duration>,
    elapsed: Duration,
    events: u64,
}

#[tokio::main]
async fn main() {
    let clusters: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    println!("control loop: {clusters} clusters, 3 adapters with 10 ms of simulated work each");
    println!(
        "{:<12} {:>10} {:>10} {:>10} {:>10} {:>12}",
        "transport", "total s", "p50 ms", "p99 ms", "max ms", "events/s"
    );
    report("dev", run(Transport::InProcess, clusters).await);
    let url = std::env::var("HYPERFLEET_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_string());
    match AmqpPublisher::connect(&url, &Topology::default()).await {
        Ok(_) => report("rabbitmq", run(Transport::Rabbit(url), clusters).await),
        Err(error) => println!("rabbitmq     skipped: {error}"),
    }
}

fn report(name: &str, outcome: Outcome) {
    let mut latencies = outcome.latencies;
    latencies.sort();
    let at = |q: f64| {
        let index = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[index].as_secs_f64() * 1000.0
    };
    println!(
        "{:<12} {:>10.2} {:>10.0} {:>10.0} {:>10.0} {:>12.0}",
        name,
        outcome.elapsed.as_secs_f64(),
        at(0.5),
        at(0.99),
        at(1.0),
        outcome.events as f64 / outcome.elapsed.as_secs_f64()
    );
}

async fn run(transport: Transport, clusters: usize) -> Outcome {
    let dir = tempfile::tempdir().expect("a temp dir");
    let database_url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let server = start(server_config(database_url))
        .await
        .expect("the server starts");
    let api = format!("http://{}", server.local_addr());
    let simulation = Simulation {
        work: Duration::from_millis(10),
        failure_rate: 0.0,
        fail_first: 0,
    };
    let count = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    let publisher: Arc<dyn Publisher> = match &transport {
        Transport::InProcess => {
            let bus = InProcessBus::new();
            for (name, kinds) in REFERENCE_ADAPTERS {
                let inbox = bus.subscribe(name, kinds);
                let runtime = AdapterRuntime::new(
                    Client::new(&api),
                    SimulatedAdapter::new(name, kinds, simulation.clone()),
                );
                tasks.push(tokio::spawn(async move {
                    let _ = runtime.run(inbox).await;
                }));
            }
            Arc::new(bus)
        }
        Transport::Rabbit(url) => {
            let id = Uuid::new_v4().simple().to_string();
            let topology = Topology {
                exchange: format!("hyperfleet-bench-{id}"),
                queue_prefix: format!("hyperfleet-bench-{id}"),
                queue_expires: Some(Duration::from_secs(60)),
                ..Topology::default()
            };
            for (name, kinds) in REFERENCE_ADAPTERS {
                let runtime = AdapterRuntime::new(
                    Client::new(&api),
                    SimulatedAdapter::new(name, kinds, simulation.clone()),
                )
                .concurrency(32);
                let inbox = runtime
                    .subscribe_rabbitmq(url, &topology)
                    .await
                    .expect("subscribed");
                tasks.push(tokio::spawn(async move {
                    let _ = runtime.run(inbox).await;
                }));
            }
            Arc::new(
                AmqpPublisher::connect(url, &topology)
                    .await
                    .expect("connected"),
            )
        }
    };
    let counting: Arc<dyn Publisher> = Arc::new(Counting {
        inner: publisher,
        count: count.clone(),
    });
    let connect: Connect = Box::new(move || {
        let publisher = counting.clone();
        Box::pin(async move { Ok(publisher) })
    });
    let config = SentinelConfig {
        poll_interval: Duration::from_millis(200),
        ..SentinelConfig::default()
    };
    tasks.push(tokio::spawn(
        Sentinel::new(Client::new(&api), connect, config).run(std::future::pending()),
    ));

    let client = Client::new(&api);
    let started = Instant::now();
    let mut created: HashMap<Uuid, Instant> = HashMap::new();
    let mut batch = Vec::new();
    for i in 0..clusters {
        let client = client.clone();
        batch.push(tokio::spawn(async move {
            let request = cluster_request_at(&format!("bench-{i}"), "gcp", "us-east1");
            let cluster = client
                .cluster_create()
                .body(request)
                .send()
                .await
                .expect("created")
                .into_inner();
            (cluster.id, Instant::now())
        }));
        if batch.len() == 32 || i + 1 == clusters {
            for task in batch.drain(..) {
                let (id, at) = task.await.expect("no panic");
                created.insert(id, at);
            }
        }
    }
    let mut ready: HashMap<Uuid, Duration> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(600);
    while ready.len() < clusters && Instant::now() < deadline {
        let mut page = 1;
        loop {
            let list = client
                .cluster_list()
                .phase("Ready")
                .page(page)
                .size(1000)
                .send()
                .await
                .expect("listed")
                .into_inner();
            let now = Instant::now();
            for cluster in &list.items {
                if let Some(at) = created.get(&cluster.id) {
                    ready
                        .entry(cluster.id)
                        .or_insert_with(|| now.duration_since(*at));
                }
            }
            if u64::from(page) * 1000 >= list.total {
                break;
            }
            page += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed();
    for task in tasks {
        task.abort();
    }
    let _ = server.stop().await;
    assert_eq!(
        ready.len(),
        clusters,
        "every cluster became Ready within 10 minutes"
    );
    Outcome {
        latencies: ready.into_values().collect(),
        elapsed,
        events: count.load(Ordering::Relaxed),
    }
}
