//! The whole control loop with real parts: the sentinel publishing, the
//! reference adapters (built on the SDK's adapter kit) consuming and
//! reporting, and the API aggregating, over RabbitMQ and over the
//! in-process bus of `hyperfleet dev`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hyperfleet::dev::DevConfig;
use hyperfleet_control_loop::reference_adapters::{SimulatedAdapter, Simulation, kinds_of};
use hyperfleet_control_loop::sentinel::{Connect, Sentinel, SentinelConfig};
use hyperfleet_e2e::calls::{
    cluster_statuses, create_cluster, create_pool, delete_cluster, expect_cluster_deleted,
    patch_cluster,
};
use hyperfleet_e2e::fixtures::scale;
use hyperfleet_e2e::server::{rabbitmq, server_config};
use hyperfleet_e2e::wait::{phase_of, wait_for, wait_for_phase, wait_until_gone};
use hyperfleet_e2e::{Backend, TestServer};
use hyperfleet_sdk::adapter::{AdapterRuntime, Publisher};
use hyperfleet_sdk::amqp::{AmqpPublisher, Topology};
use hyperfleet_sdk::{Client, types};
use tokio::task::JoinHandle;

const READY_WITHIN: Duration = Duration::from_secs(20);

fn simulation(work: Duration, fail_first: u32) -> Simulation {
    Simulation {
        work,
        failure_rate: 0.0,
        fail_first,
    }
}

/// A topology of its own, so tests sharing the broker never see each
/// other's events; its queues expire once unused.
fn private_topology() -> Topology {
    let id = uuid::Uuid::new_v4().simple().to_string();
    Topology {
        exchange: format!("hyperfleet-test-{id}"),
        queue_prefix: format!("hyperfleet-test-{id}"),
        queue_expires: Some(Duration::from_secs(60)),
        ..Topology::default()
    }
}

async fn start_adapter(
    url: &str,
    topology: &Topology,
    api: &str,
    name: &'static str,
    simulation: Simulation,
) -> JoinHandle<()> {
    let kinds = kinds_of(name);
    let runtime = AdapterRuntime::new(
        Client::new(api),
        SimulatedAdapter::new(name, kinds, simulation),
    )
    .retry_delay(Duration::from_millis(500))
    .concurrency(4);
    let inbox = runtime
        .subscribe_rabbitmq(url, topology)
        .await
        .expect("the adapter subscribes");
    tokio::spawn(async move {
        runtime.run(inbox).await.expect("the adapter runs");
    })
}

fn start_sentinel(url: &str, topology: &Topology, api: &str, backoff: Duration) -> JoinHandle<()> {
    let (url, topology) = (url.to_string(), topology.clone());
    let connect: Connect = Box::new(move || {
        let (url, topology) = (url.clone(), topology.clone());
        Box::pin(async move {
            let publisher = AmqpPublisher::connect(&url, &topology).await?;
            Ok(Arc::new(publisher) as Arc<dyn Publisher>)
        })
    });
    let config = SentinelConfig {
        poll_interval: Duration::from_millis(200),
        backoff,
        ..SentinelConfig::default()
    };
    let sentinel = Sentinel::new(Client::new(api), connect, config);
    tokio::spawn(sentinel.run(std::future::pending()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_rabbitmq_resources_become_ready_update_and_go_away() {
    let Some(url) = rabbitmq().await else { return };
    let Some(server) = TestServer::start(Backend::Sqlite).await else {
        return;
    };
    let topology = private_topology();
    let api = server.base_url.clone();
    let work = Duration::from_millis(100);
    let mut tasks = Vec::new();
    for name in ["validation", "infrastructure"] {
        tasks.push(start_adapter(&url, &topology, &api, name, simulation(work, 0)).await);
    }
    // J2: dns fails its first attempt and recovers on retry.
    tasks.push(start_adapter(&url, &topology, &api, "dns", simulation(work, 1)).await);
    tasks.push(start_sentinel(
        &url,
        &topology,
        &api,
        Duration::from_secs(2),
    ));

    let client = &server.client;
    create_cluster(client, "loop").await;
    create_pool(client, "loop", "pool").await;
    wait_for_phase(client, "loop", types::Phase::Ready, 1, READY_WITHIN).await;
    let statuses = cluster_statuses(client, "loop").await;
    assert_eq!(statuses.statuses.len(), 3);
    wait_for("the node pool to be Ready", READY_WITHIN, || async {
        let pool = client
            .nodepool_view()
            .cluster("loop")
            .nodepool("pool")
            .send()
            .await
            .ok()?
            .into_inner();
        (pool.status.phase == types::Phase::Ready).then_some(())
    })
    .await;

    patch_cluster(client, "loop", scale(7)).await;
    wait_for_phase(client, "loop", types::Phase::Ready, 2, READY_WITHIN).await;

    delete_cluster(client, "loop").await;
    wait_until_gone(client, "loop", READY_WITHIN).await;
    for task in tasks {
        task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_rabbitmq_an_adapter_killed_mid_work_loses_no_event() {
    let Some(url) = rabbitmq().await else { return };
    // The three adapters without order (the lists' shorthand): the test
    // needs infrastructure to finish while dns is stuck, which the default
    // order (infrastructure after dns) would rightly hold back.
    let adapters = |names: &[&str]| names.iter().map(|n| n.to_string()).collect();
    let Some(server) = TestServer::start_with(
        Backend::Sqlite,
        adapters(&["validation", "dns", "infrastructure"]),
        adapters(&["validation", "infrastructure"]),
    )
    .await
    else {
        return;
    };
    let topology = private_topology();
    let api = server.base_url.clone();
    let quick = simulation(Duration::from_millis(50), 0);
    let mut tasks = Vec::new();
    for name in ["validation", "infrastructure"] {
        tasks.push(start_adapter(&url, &topology, &api, name, quick.clone()).await);
    }
    // A dns adapter that takes forever; and a sentinel that will not send
    // the event again within the test, so only redelivery can save it.
    let stuck = start_adapter(
        &url,
        &topology,
        &api,
        "dns",
        simulation(Duration::from_secs(3600), 0),
    )
    .await;
    tasks.push(start_sentinel(
        &url,
        &topology,
        &api,
        Duration::from_secs(3600),
    ));

    let client = &server.client;
    create_cluster(client, "crash").await;
    wait_for(
        "validation and infrastructure to finish",
        READY_WITHIN,
        || async {
            let list = client
                .cluster_status_list()
                .cluster("crash")
                .send()
                .await
                .ok()?
                .into_inner();
            let complete = list
                .statuses
                .iter()
                .filter(|s| s.phase == types::AdapterPhase::Complete)
                .count();
            (complete == 2).then_some(())
        },
    )
    .await;
    // The dns event was delivered with the others; dns is mid-work. Kill it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stuck.abort();
    let _ = stuck.await;
    assert_eq!(
        phase_of(client, "crash").await,
        Some((types::Phase::NotReady, 1))
    );

    let started = Instant::now();
    tasks.push(start_adapter(&url, &topology, &api, "dns", quick).await);
    wait_for_phase(client, "crash", types::Phase::Ready, 1, READY_WITHIN).await;
    assert!(
        started.elapsed() < Duration::from_secs(3600),
        "redelivered, not re-published"
    );
    for task in tasks {
        task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyperfleet_dev_takes_a_cluster_to_ready_and_away() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let config = DevConfig {
        server: server_config(format!("sqlite://{}", dir.path().join("dev.db").display())),
        simulation: simulation(Duration::from_millis(200), 0),
        sentinel: SentinelConfig {
            poll_interval: Duration::from_millis(200),
            ..SentinelConfig::default()
        },
        retry_delay: Duration::from_millis(500),
    };
    let dev = hyperfleet::dev::start(config).await.expect("dev starts");
    let client = Client::new(&format!("http://{}", dev.server.local_addr()));

    let started = Instant::now();
    let created = create_cluster(&client, "dev").await;
    assert_eq!(created.status.phase, types::Phase::Pending);
    let ten_seconds = Duration::from_secs(10);
    wait_for_phase(&client, "dev", types::Phase::Ready, 1, ten_seconds).await;
    eprintln!("hyperfleet dev: create -> Ready in {:?}", started.elapsed());

    delete_cluster(&client, "dev").await;
    wait_until_gone(&client, "dev", READY_WITHIN).await;
    expect_cluster_deleted(&client, created.id).await;
    dev.stop().await.expect("dev stops");
}
