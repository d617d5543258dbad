//! Several sentinels, one publisher: two real `hyperfleet sentinel`
//! processes on one API and the machine's RabbitMQ elect a leader; each
//! needed event is published once (counted on a queue of the test's own,
//! bound to the exchange), `/metrics` of each says which one leads, and
//! when the leader is killed with SIGKILL the other publishes within the
//! lease timeout, repeating the events it cannot know were sent under the
//! same ids.
//!
//! `env!("CARGO_BIN_EXE_hyperfleet")` only exists in the `hyperfleet`
//! package's own tests, so the test builds the binary (a no-op when it is
//! fresh) and runs it from `target/<profile>/`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hyperfleet_e2e::calls::create_cluster;
use hyperfleet_e2e::server::rabbitmq;
use hyperfleet_e2e::wait::wait_for;
use hyperfleet_e2e::{Backend, TestServer};
use hyperfleet_sdk::adapter::Inbox;
use hyperfleet_sdk::amqp::{AmqpInbox, Topology, subscribe};
use hyperfleet_sdk::events::{CloudEvent, ResourceKind};
use uuid::Uuid;

/// The take-over bound under test (the default of `--lease-timeout`).
const LEASE_TIMEOUT: Duration = Duration::from_secs(15);
const QUEUE_EXPIRES: Duration = Duration::from_secs(60);

/// Build `hyperfleet` (a no-op when fresh) and return its path.
fn hyperfleet_binary() -> PathBuf {
    let test_exe = std::env::current_exe().expect("the test knows its executable");
    // target/<profile>/deps/<test> -> target/<profile>
    let profile_dir = test_exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test runs from target/<profile>/deps")
        .to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let mut build = Command::new(cargo);
    build.args(["build", "-p", "hyperfleet", "--bin", "hyperfleet"]);
    if profile_dir
        .file_name()
        .is_some_and(|name| name == "release")
    {
        build.arg("--release");
    }
    let status = build.status().expect("cargo runs");
    assert!(status.success(), "hyperfleet builds");
    let binary = profile_dir.join(format!("hyperfleet{}", std::env::consts::EXE_SUFFIX));
    assert!(binary.exists(), "{} exists", binary.display());
    binary
}

/// A `hyperfleet sentinel` process, killed when the test ends however it
/// ends.
struct SentinelProcess {
    child: Child,
    metrics_port: u16,
}

impl SentinelProcess {
    fn start(binary: &PathBuf, api: &str, broker: &str, topology: &Topology) -> Self {
        let metrics_port = free_port();
        let child = Command::new(binary)
            .args(["sentinel", "--api-url", api, "--broker", broker])
            .args(["--exchange", &topology.exchange])
            .args(["--queue-prefix", &topology.queue_prefix])
            .args(["--queue-expires", &format!("{}s", QUEUE_EXPIRES.as_secs())])
            .args(["--adapters", "watcher"])
            .args([
                "--poll-interval",
                "200ms",
                "--backoff",
                "1h",
                "--resync",
                "1h",
            ])
            .args(["--lease-timeout", &format!("{}s", LEASE_TIMEOUT.as_secs())])
            .args(["--metrics-addr", &format!("127.0.0.1:{metrics_port}")])
            .env_remove("HYPERFLEET_TOKEN")
            .env_remove("HYPERFLEET_CA_FILE")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the sentinel starts");
        SentinelProcess {
            child,
            metrics_port,
        }
    }

    /// Its `/metrics` as a map of sample name to value, or `None` while it
    /// does not answer.
    async fn metrics(&self) -> Option<HashMap<String, f64>> {
        let url = format!("http://127.0.0.1:{}/metrics", self.metrics_port);
        let text = reqwest::get(&url).await.ok()?.text().await.ok()?;
        Some(
            text.lines()
                .filter(|line| !line.starts_with('#'))
                .filter_map(|line| {
                    let (name, value) = line.rsplit_once(' ')?;
                    Some((name.to_string(), value.parse().ok()?))
                })
                .collect(),
        )
    }

    async fn leads(&self) -> Option<bool> {
        let metrics = self.metrics().await?;
        Some(*metrics.get("hyperfleet_sentinel_leader")? == 1.0)
    }

    async fn published(&self) -> Option<f64> {
        let metrics = self.metrics().await?;
        metrics
            .get("hyperfleet_sentinel_events_published_total")
            .copied()
    }
}

impl Drop for SentinelProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The next event on the watcher's queue within `within`, acknowledged.
async fn next_event(inbox: &mut AmqpInbox, within: Duration) -> Option<CloudEvent> {
    let delivery = tokio::time::timeout(within, inbox.next()).await.ok()??;
    let delivery = delivery.expect("the watcher's queue delivers");
    delivery.settle.ack().await.expect("acknowledged");
    Some(delivery.event)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sentinels_publish_each_event_once_and_the_survivor_takes_over() {
    let Some(url) = rabbitmq().await else { return };
    let binary = tokio::task::spawn_blocking(hyperfleet_binary)
        .await
        .expect("the build finished");
    let Some(server) = TestServer::start(Backend::Sqlite).await else {
        return;
    };
    let id = Uuid::new_v4().simple().to_string();
    let topology = Topology {
        exchange: format!("hyperfleet-test-{id}"),
        queue_prefix: format!("hyperfleet-test-{id}"),
        queue_expires: Some(QUEUE_EXPIRES),
        ..Topology::default()
    };
    // Bound to every kind, like the queue of an adapter serving both; no
    // adapter runs, so every cluster stays Pending and needs exactly one
    // event (the back-off, an hour, never comes round).
    let kinds = [ResourceKind::Cluster, ResourceKind::NodePool];
    let mut watcher = subscribe(&url, &topology, "watcher", &kinds, 100)
        .await
        .expect("the watcher subscribes");

    let mut sentinels = vec![
        SentinelProcess::start(&binary, &server.base_url, &url, &topology),
        SentinelProcess::start(&binary, &server.base_url, &url, &topology),
    ];
    let leader = wait_for("one sentinel to lead", Duration::from_secs(30), || async {
        let a = sentinels[0].leads().await?;
        let b = sentinels[1].leads().await?;
        match (a, b) {
            (true, false) => Some(0),
            (false, true) => Some(1),
            _ => None,
        }
    })
    .await;

    let client = &server.client;
    let mut clusters = Vec::new();
    for name in ["one", "two", "three", "four"] {
        clusters.push(create_cluster(client, name).await.id);
    }
    let mut first_ids: HashMap<Uuid, String> = HashMap::new();
    while first_ids.len() < clusters.len() {
        let event = next_event(&mut watcher, Duration::from_secs(30))
            .await
            .expect("an event for every cluster within 30 s");
        let repeated = first_ids.insert(event.data.id, event.id.clone());
        assert_eq!(repeated, None, "a second event for {}", event.data.id);
    }
    // Another 15 cycles of both sentinels: nothing more comes.
    let extra = next_event(&mut watcher, Duration::from_secs(3)).await;
    assert_eq!(extra, None, "each needed event is published once");
    assert_eq!(sentinels[leader].published().await, Some(4.0));
    assert_eq!(sentinels[1 - leader].published().await, Some(0.0));
    assert_eq!(sentinels[1 - leader].leads().await, Some(false));

    // SIGKILL: no goodbye to the broker, which sees the socket close.
    let mut killed = sentinels.remove(leader);
    killed.child.kill().expect("SIGKILL is sent");
    let _ = killed.child.wait();
    let at = Instant::now();
    let survivor = &sentinels[0];
    let late = create_cluster(client, "late").await.id;
    let mut again: HashMap<Uuid, String> = HashMap::new();
    while !(again.contains_key(&late) && again.len() == clusters.len() + 1) {
        let left = LEASE_TIMEOUT.saturating_sub(at.elapsed());
        let Some(event) = next_event(&mut watcher, left).await else {
            panic!(
                "within {LEASE_TIMEOUT:?} of the SIGKILL the survivor published {} of {} events",
                again.len(),
                clusters.len() + 1
            );
        };
        again.insert(event.data.id, event.id);
    }
    eprintln!(
        "take-over: the survivor published everything {:?} after the SIGKILL",
        at.elapsed()
    );
    for cluster in &clusters {
        assert_eq!(
            again.get(cluster),
            first_ids.get(cluster),
            "a repeat the new leader could not know about carries the first event's id"
        );
    }
    assert_eq!(survivor.leads().await, Some(true));
    let extra = next_event(&mut watcher, Duration::from_secs(3)).await;
    assert_eq!(extra, None, "the new leader publishes each event once");
}
