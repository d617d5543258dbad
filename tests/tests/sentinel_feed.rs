//! The sentinel on the change feed: it publishes for a change as soon as
//! the feed brings it, not at its next timer check (here an hour away),
//! without listing again; and when it comes back to a feed that no longer
//! holds its position (410), it lists again and publishes what it missed.

use std::sync::Arc;
use std::time::Duration;

use hyperfleet_control_loop::sentinel::{self, Sentinel, SentinelConfig, SentinelMetrics};
use hyperfleet_e2e::calls::{create_cluster, patch_cluster};
use hyperfleet_e2e::fixtures::scale;
use hyperfleet_e2e::wait::wait_for;
use hyperfleet_e2e::{Backend, TestServer};
use hyperfleet_sdk::Client;
use hyperfleet_sdk::adapter::{Inbox, Publisher};
use hyperfleet_sdk::bus::{InProcessBus, InProcessInbox};
use hyperfleet_sdk::events::{ReconcileData, ResourceKind};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Generous bound on anything the test waits for.
const PATIENCE: Duration = Duration::from_secs(20);
const HOUR: Duration = Duration::from_secs(3600);

/// A sentinel whose timers never fire within the test: whatever it
/// publishes after its first listing came from the feed (or a relist).
fn start_sentinel(
    api: &str,
    poll_interval: Duration,
) -> (InProcessInbox, Arc<SentinelMetrics>, JoinHandle<()>) {
    let bus = InProcessBus::new();
    let inbox = bus.subscribe("watcher", &[ResourceKind::Cluster, ResourceKind::NodePool]);
    let publisher: Arc<dyn Publisher> = Arc::new(bus);
    let config = SentinelConfig {
        poll_interval,
        backoff: HOUR,
        resync: HOUR,
        relist: HOUR,
        ..SentinelConfig::default()
    };
    let sentinel = Sentinel::new(Client::new(api), sentinel::always(publisher), config);
    let metrics = sentinel.metrics();
    let task = tokio::spawn(sentinel.run(std::future::pending()));
    (inbox, metrics, task)
}

async fn next_event(inbox: &mut InProcessInbox) -> ReconcileData {
    let delivery = tokio::time::timeout(PATIENCE, inbox.next())
        .await
        .expect("an event in time")
        .expect("the bus is open")
        .expect("a delivery");
    delivery.event.data
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_is_published_when_the_feed_brings_it() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(server) = TestServer::start(backend).await else {
            continue;
        };
        let client = &server.client;
        // Checks its timers (and the lock) once an hour only.
        let (mut inbox, metrics, task) = start_sentinel(&server.base_url, HOUR);
        wait_for("the sentinel to list and lead", PATIENCE, || async {
            (metrics.leader() && metrics.watches() >= 1).then_some(())
        })
        .await;

        let created = create_cluster(client, "fed").await;
        let event = next_event(&mut inbox).await;
        assert_eq!((event.id, event.generation), (created.id, 1));

        patch_cluster(client, "fed", scale(5)).await;
        let event = next_event(&mut inbox).await;
        assert_eq!((event.id, event.generation), (created.id, 2));

        // Learnt from the feed alone: its one listing was the first page
        // of clusters and of node pools, and it never listed again.
        assert_eq!(metrics.list_requests(), 2, "{backend:?}");
        assert_eq!(metrics.relists(), 0, "{backend:?}");
        assert!(metrics.feed_events() >= 2, "{backend:?}");
        task.abort();
    }
}

/// A TCP relay to the API that the test can cut (every connection dropped,
/// new ones refused) and restore.
struct Relay {
    url: String,
    cut: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Relay {
    async fn start(upstream: std::net::SocketAddr) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let url = format!("http://{}", listener.local_addr().expect("an address"));
        let (cut, cut_seen) = watch::channel(false);
        let task = tokio::spawn(async move {
            while let Ok((mut downstream, _)) = listener.accept().await {
                if *cut_seen.borrow() {
                    continue; // dropped: the connection closes at once
                }
                let mut cut_seen = cut_seen.clone();
                tokio::spawn(async move {
                    let Ok(mut upstream) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut downstream, &mut upstream) => {}
                        _ = cut_seen.wait_for(|cut| *cut) => {}
                    }
                });
            }
        });
        Relay { url, cut, task }
    }

    fn set_cut(&self, cut: bool) {
        self.cut.send_replace(cut);
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_retained_feed_it_lists_again() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(server) = TestServer::start_configured(backend, |config| {
            config.retention = hyperfleet_server::Retention {
                changes: 2,
                age: Duration::ZERO,
                every: Duration::from_millis(50),
            };
        })
        .await
        else {
            continue;
        };
        let client = &server.client;
        // 410 is not in the released contract's codes: the sentinel talks
        // to the server past the contract proxy, through a relay to cut.
        let direct: std::net::SocketAddr = server
            .direct_url("")
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("the server's address");
        let relay = Relay::start(direct).await;
        let (mut inbox, metrics, task) = start_sentinel(&relay.url, Duration::from_millis(200));
        wait_for("the sentinel to list and lead", PATIENCE, || async {
            (metrics.leader() && metrics.watches() >= 1).then_some(())
        })
        .await;
        let created = create_cluster(client, "gap").await;
        let event = next_event(&mut inbox).await;
        assert_eq!((event.id, event.generation), (created.id, 1));

        // Cut the sentinel off; change the cluster while the feed trims
        // the changes the sentinel has not seen.
        relay.set_cut(true);
        for nodes in 2..6 {
            patch_cluster(client, "gap", scale(nodes)).await;
        }
        let since = created.resource_version.clone();
        let trimmed = server.direct_url(&format!("/api/hyperfleet/v1/events?since={since}"));
        wait_for("the feed to be trimmed", PATIENCE, || async {
            let answer = reqwest::get(&trimmed).await.ok()?;
            (answer.status().as_u16() == 410).then_some(())
        })
        .await;
        relay.set_cut(false);

        // Back on the feed, it is told its position is gone, lists again
        // and publishes the latest generation it missed.
        let event = next_event(&mut inbox).await;
        assert_eq!((event.id, event.generation), (created.id, 5), "{backend:?}");
        assert!(metrics.relists() >= 1, "{backend:?}");
        task.abort();
    }
}
