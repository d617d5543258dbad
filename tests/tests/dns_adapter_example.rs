//! The SDK's `dns_adapter` example, run as the separate process an adapter
//! team would deploy, against a real server, the sentinel and the
//! machine's RabbitMQ, started after the sentinel has published: the
//! cluster still becomes Ready (the sentinel declared the queue, so the
//! first event waited for the adapter) and is deleted through its
//! finalizer.
//!
//! The example is built by `cargo build -p hyperfleet-sdk --example
//! dns_adapter --features amqp` (`cargo xtask ci` does so before the
//! tests). `env!("CARGO_BIN_EXE_…")` only exists for binaries of this
//! package, so the test finds it next to its own executable, in
//! `target/<profile>/examples/`, and runs that build command first itself
//! (a no-op when it is fresh) so a stale build is never what is tested.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hyperfleet_control_loop::reference_adapters::{SimulatedAdapter, Simulation, kinds_of};
use hyperfleet_control_loop::sentinel::{self, Sentinel, SentinelConfig};
use hyperfleet_e2e::calls::{cluster_statuses, create_cluster, delete_cluster};
use hyperfleet_e2e::server::rabbitmq;
use hyperfleet_e2e::wait::{wait_for_phase, wait_until_gone};
use hyperfleet_e2e::{Backend, TestServer};
use hyperfleet_sdk::adapter::AdapterRuntime;
use hyperfleet_sdk::amqp::{AdapterQueue, Topology};
use hyperfleet_sdk::{Client, types};

const READY_WITHIN: Duration = Duration::from_secs(30);
/// Longer than the test waits: an event lost because the adapter's queue
/// did not exist yet would not come again in time.
const BACKOFF: Duration = Duration::from_secs(120);
const QUEUE_EXPIRES: Duration = Duration::from_secs(60);

/// Build the example (a no-op when fresh) and return its path.
fn example_binary() -> PathBuf {
    let test_exe = std::env::current_exe().expect("the test knows its executable");
    // target/<profile>/deps/<test> -> target/<profile>
    let profile_dir = test_exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test runs from target/<profile>/deps")
        .to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut build = Command::new(cargo);
    build.args([
        "build",
        "-p",
        "hyperfleet-sdk",
        "--example",
        "dns_adapter",
        "--features",
        "amqp",
    ]);
    if profile_dir
        .file_name()
        .is_some_and(|name| name == "release")
    {
        build.arg("--release");
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "the dns_adapter example builds");
    let binary = profile_dir
        .join("examples")
        .join(format!("dns_adapter{}", std::env::consts::EXE_SUFFIX));
    assert!(binary.exists(), "{} exists", binary.display());
    binary
}

/// The example's process, killed when the test ends however it ends.
struct Example(Child);

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dns_adapter_example_started_last_gets_a_cluster_ready_and_deleted() {
    let Some(url) = rabbitmq().await else { return };
    let binary = tokio::task::spawn_blocking(example_binary)
        .await
        .expect("the build finished");
    let Some(server) = TestServer::start(Backend::Sqlite).await else {
        return;
    };
    let api = server.base_url.clone();
    let id = uuid::Uuid::new_v4().simple().to_string();
    // Its own exchange and queues, so tests sharing the broker never see
    // each other's events.
    let topology = Topology {
        exchange: format!("hyperfleet-test-{id}"),
        queue_prefix: format!("hyperfleet-test-{id}"),
        queue_expires: Some(QUEUE_EXPIRES),
        adapters: ["validation", "dns", "infrastructure"]
            .into_iter()
            .map(|name| AdapterQueue::new(name, kinds_of(name)))
            .collect(),
        ca_pem: None,
        heartbeat: None,
    };

    // The sentinel first, then the cluster: its first event goes out
    // before any adapter runs.
    let config = SentinelConfig {
        poll_interval: Duration::from_millis(200),
        backoff: BACKOFF,
        ..SentinelConfig::default()
    };
    let sentinel = Sentinel::new(
        Client::new(&api),
        sentinel::rabbitmq(url.clone(), topology.clone()),
        config,
    );
    let mut tasks = vec![tokio::spawn(sentinel.run(std::future::pending()))];
    let client = &server.client;
    create_cluster(client, "example").await;
    // Several sentinel cycles: the event is out.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let simulation = Simulation {
        work: Duration::from_millis(50),
        failure_rate: 0.0,
        fail_first: 0,
    };
    for name in ["validation", "infrastructure"] {
        let kinds = kinds_of(name);
        let runtime = AdapterRuntime::new(
            Client::new(&api),
            SimulatedAdapter::new(name, kinds, simulation.clone()),
        )
        .retry_delay(Duration::from_millis(500));
        let (url, topology) = (url.clone(), topology.clone());
        tasks.push(tokio::spawn(async move {
            runtime.run_rabbitmq(&url, &topology).await;
        }));
    }
    let _example = Example(
        Command::new(&binary)
            .env("HYPERFLEET_API_URL", &api)
            .env("HYPERFLEET_AMQP_URL", &url)
            .env("HYPERFLEET_EXCHANGE", &topology.exchange)
            .env("HYPERFLEET_QUEUE_PREFIX", &topology.queue_prefix)
            .env(
                "HYPERFLEET_QUEUE_EXPIRES",
                QUEUE_EXPIRES.as_secs().to_string(),
            )
            .env_remove("HYPERFLEET_ADAPTER_NAME")
            .env_remove("HYPERFLEET_TOKEN")
            .stdin(Stdio::null())
            .spawn()
            .expect("the example starts"),
    );

    wait_for_phase(client, "example", types::Phase::Ready, 1, READY_WITHIN).await;
    let statuses = cluster_statuses(client, "example").await;
    let dns = statuses
        .statuses
        .iter()
        .find(|s| s.adapter_name == "dns")
        .expect("the example reported as dns");
    assert_eq!(
        dns.data.get("records"),
        Some(&serde_json::json!(["api.example.example.com"]))
    );
    assert_eq!(
        dns.metadata.get("provider"),
        Some(&serde_json::json!("example"))
    );
    let available = dns
        .conditions
        .iter()
        .find(|c| c.type_ == "Available")
        .expect("Available is reported");
    assert_eq!(available.reason, "RecordsCreated");

    delete_cluster(client, "example").await;
    wait_until_gone(client, "example", READY_WITHIN).await;
    for task in tasks {
        task.abort();
    }
}
