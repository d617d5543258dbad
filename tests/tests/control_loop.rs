//! The whole control loop with real parts: the sentinel publishing, the
//! reference adapters (built on the SDK's adapter kit) consuming and
//! reporting, and the API aggregating, over RabbitMQ and over the
//! in-process bus of `hyperfleet dev`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hyperfleet::dev::DevConfig;
use hyperfleet_control_loop::reference_adapters::{SimulatedAdapter, Simulation, kinds_of};
use hyperfleet_control_loop::sentinel::{Connect, Sentinel, SentinelConfig};
use hyperfleet_e2e::{Backend, TestServer, cluster_request, nodepool_request, rabbitmq, wait_for};
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

async fn phase_of(client: &Client, cluster: &str) -> Option<(types::Phase, i64)> {
    let cluster = client
        .cluster_view()
        .cluster(cluster)
        .send()
        .await
        .ok()?
        .into_inner();
    Some((cluster.status.phase, cluster.generation))
}

async fn wait_for_phase(client: &Client, cluster: &str, phase: types::Phase, generation: i64) {
    wait_for(
        &format!("{cluster} {phase:?} at {generation}"),
        READY_WITHIN,
        || async { (phase_of(client, cluster).await == Some((phase, generation))).then_some(()) },
    )
    .await;
}

async fn wait_until_gone(client: &Client, cluster: &str) {
    wait_for(
        &format!("{cluster} to be deleted"),
        READY_WITHIN,
        || async {
            match client.cluster_view().cluster(cluster).send().await {
                Err(error) if error.status().map(|s| s.as_u16()) == Some(404) => Some(()),
                _ => None,
            }
        },
    )
    .await;
}

/// A topology of its own, so tests sharing the broker never see each
/// other's events; its queues expire once unused.
fn private_topology() -> Topology {
    let id = uuid::Uuid::new_v4().simple().to_string();
    Topology {
        exchange: format!("hyperfleet-test-{id}"),
        queue_prefix: format!("hyperfleet-test-{id}"),
        queue_expires: Some(Duration::from_secs(60)),
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
    let inbox = hyperfleet_sdk::amqp::subscribe(url, topology, name, kinds, 4)
        .await
        .expect("the adapter subscribes");
    let runtime = AdapterRuntime::new(
        Client::new(api),
        SimulatedAdapter::new(name, kinds, simulation),
    )
    .retry_delay(Duration::from_millis(500));
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
    client
        .cluster_create()
        .body(cluster_request("loop"))
        .send()
        .await
        .expect("created");
    client
        .nodepool_create()
        .cluster("loop")
        .body(nodepool_request("pool"))
        .send()
        .await
        .expect("created");
    wait_for_phase(client, "loop", types::Phase::Ready, 1).await;
    let statuses = client
        .cluster_status_list()
        .cluster("loop")
        .send()
        .await
        .expect("listed")
        .into_inner();
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

    let scale = types::ClusterPatch::builder().spec(Some(
        types::ClusterSpecPatch::builder()
            .node_count(Some(7.try_into().expect("nonzero")))
            .try_into()
            .expect("valid"),
    ));
    client
        .cluster_update()
        .cluster("loop")
        .body(scale)
        .send()
        .await
        .expect("patched");
    wait_for_phase(client, "loop", types::Phase::Ready, 2).await;

    client
        .cluster_delete()
        .cluster("loop")
        .send()
        .await
        .expect("accepted");
    wait_until_gone(client, "loop").await;
    for task in tasks {
        task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_rabbitmq_an_adapter_killed_mid_work_loses_no_event() {
    let Some(url) = rabbitmq().await else { return };
    let Some(server) = TestServer::start(Backend::Sqlite).await else {
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
    client
        .cluster_create()
        .body(cluster_request("crash"))
        .send()
        .await
        .expect("created");
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
    wait_for_phase(client, "crash", types::Phase::Ready, 1).await;
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
    let adapters = |list: &str| list.split(',').map(String::from).collect::<Vec<_>>();
    let config = DevConfig {
        server: hyperfleet_server::ServerConfig {
            listen: "127.0.0.1:0".parse().expect("an address"),
            database_url: format!("sqlite://{}", dir.path().join("dev.db").display()),
            database_pool_size: None,
            cluster_adapters: adapters(hyperfleet_server::DEFAULT_CLUSTER_ADAPTERS),
            nodepool_adapters: adapters(hyperfleet_server::DEFAULT_NODEPOOL_ADAPTERS),
            auth: None,
        },
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
    let created = client
        .cluster_create()
        .body(cluster_request("dev"))
        .send()
        .await
        .expect("created")
        .into_inner();
    assert_eq!(created.status.phase, types::Phase::Pending);
    wait_for("Ready in under 10 s", Duration::from_secs(10), || async {
        (phase_of(&client, "dev").await == Some((types::Phase::Ready, 1))).then_some(())
    })
    .await;
    eprintln!("hyperfleet dev: create -> Ready in {:?}", started.elapsed());

    client
        .cluster_delete()
        .cluster("dev")
        .send()
        .await
        .expect("accepted");
    wait_until_gone(&client, "dev").await;
    let (status, error) = hyperfleet_e2e::api_error(
        client
            .cluster_view()
            .cluster(created.id.to_string())
            .send()
            .await,
    );
    assert_eq!(status, 404);
    assert_eq!(
        error.message,
        format!("Cluster {} has been successfully deleted", created.id)
    );
    dev.stop().await.expect("dev stops");
}
