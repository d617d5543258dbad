//! Lists and requests that cannot hold the database (issue 14,
//! docs/filters.md "Cost"): the statement timeout answers 503 and leaves the
//! pool usable, a disconnected client's statement is cancelled, repeated
//! and contradictory selectors cost nothing extra, and slow lists leave
//! connections for lookups and reports.
//!
//! Slowness here is a lock the test holds (see `TestServer::lock_table`),
//! never data volume or a clock: each test waits for a state, with a bound
//! far above what it needs, and asserts nothing about durations.

use std::time::Duration;

use hyperfleet_e2e::calls::{api_error, create_cluster, create_cluster_with, create_pool};
use hyperfleet_e2e::fixtures::{COMPLETE, cluster_request, cluster_request_at, labels, report};
use hyperfleet_e2e::http::{get_error, get_json};
use hyperfleet_e2e::wait::wait_for;
use hyperfleet_e2e::{Backend, TestServer, on_every_backend};
use hyperfleet_sdk::types;

on_every_backend!(
    start = crate::start;
    a_statement_over_the_timeout_is_503_and_the_pool_recovers,
    repeated_and_contradictory_selectors,
);

const CLUSTERS: &str = "/api/hyperfleet/v1/clusters";
const NODEPOOLS: &str = "/api/hyperfleet/v1/nodepools";

/// A timeout small enough to wait out many times in a test.
const TINY_TIMEOUT: Duration = Duration::from_millis(300);
/// A PostgreSQL pool smaller than the requests the tests send at once.
const SMALL_POOL: u32 = 8;

async fn start(backend: Backend) -> Option<TestServer> {
    TestServer::start_configured(backend, |config| {
        config.statement_timeout = TINY_TIMEOUT;
        config.database_pool_size = Some(SMALL_POOL);
    })
    .await
}

async fn a_statement_over_the_timeout_is_503_and_the_pool_recovers(server: TestServer) {
    let lock = server.lock_table("clusters").await;
    // More requests at once than the pool has connections (8 on
    // PostgreSQL here, 8 on SQLite): each waits for the lock until the timeout
    // stops it, and its connection must serve the next one.
    let attempts: Vec<_> = (0..12)
        .map(|i| {
            let client = server.client.clone();
            tokio::spawn(async move {
                client
                    .cluster_create()
                    .body(cluster_request(&format!("late-{i}")))
                    .send()
                    .await
            })
        })
        .collect();
    for attempt in attempts {
        let (status, error) = api_error(attempt.await.expect("the client task"));
        assert_eq!((status, error.error), (503, types::ErrorCode::Unavailable));
        assert!(error.message.contains("took too long"), "{}", error.message);
    }
    if server.backend == Backend::Postgres {
        // PostgreSQL's lock stops reads too: a list meets the same bound.
        // A name glob makes it count the (locked) rows; an unfiltered
        // list's total is kept elsewhere (`db::tally`), and an empty fleet
        // has no page to read.
        let (status, error) = get_error(&server, &format!("{CLUSTERS}?name=*")).await;
        assert_eq!((status, error.error), (503, types::ErrorCode::Unavailable));
        assert!(error.message.contains("took too long"), "{}", error.message);
    }
    lock.rollback().await.expect("the lock is released");

    let created = create_cluster(&server.client, "on-time").await;
    let list: types::ClusterList = get_json(&server, CLUSTERS).await;
    assert_eq!(list.total, 1);
    assert_eq!(list.items[0].id, created.id);
}

async fn repeated_and_contradictory_selectors(server: TestServer) {
    let fleet = [
        ("prod-x", &[("env", "prod"), ("team", "x")][..]),
        ("prod-y", &[("env", "prod"), ("team", "y")][..]),
        ("dev-x", &[("env", "dev"), ("team", "x")][..]),
    ];
    for (name, pairs) in fleet {
        let mut request = cluster_request_at(name, "gcp", "us-east1");
        request = request.labels(labels(pairs));
        let cluster = create_cluster_with(&server.client, request).await;
        create_pool(&server.client, &cluster.id.to_string(), "pool").await;
    }
    let names = |list: &types::ClusterList| -> Vec<String> {
        list.items.iter().map(|c| c.name.clone()).collect()
    };

    // The same selector 64 times (the most a query may carry) is one.
    let repeated = vec!["env:prod"; 64].join(",");
    let list: types::ClusterList =
        get_json(&server, &format!("{CLUSTERS}?labels={repeated}")).await;
    assert_eq!(
        (list.total, names(&list)),
        (2, vec!["prod-x".into(), "prod-y".into()])
    );
    // A bare key beside a value of it adds nothing.
    let list: types::ClusterList = get_json(
        &server,
        &format!("{CLUSTERS}?labels=env,env:prod,team:x,env"),
    )
    .await;
    assert_eq!((list.total, names(&list)), (1, vec!["prod-x".into()]));

    // Two values of one key match nothing, and are answered without the
    // database: even while PostgreSQL's lock would stop any statement.
    let lock = server.lock_table("clusters").await;
    let list: types::ClusterList = get_json(
        &server,
        &format!("{CLUSTERS}?labels=env:prod,team:x,env:dev"),
    )
    .await;
    assert_eq!((list.total, list.items.len()), (0, 0));
    lock.rollback().await.expect("the lock is released");

    let pools: types::NodePoolList =
        get_json(&server, &format!("{NODEPOOLS}?labels=a:b,a:c")).await;
    assert_eq!((pools.total, pools.items.len()), (0, 0));
}

/// The statements of a client that goes away are cancelled, not left to
/// run to the timeout (two minutes here, so only the cancel explains their
/// going). PostgreSQL only: SQLite's statements run in the server process,
/// where the timeout stops them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnected_clients_list_is_cancelled_on_postgres() {
    let Some(server) = TestServer::start_configured(Backend::Postgres, |config| {
        config.statement_timeout = Duration::from_secs(120);
    })
    .await
    else {
        return;
    };
    let watcher = server.database().await;
    let lock = server.lock_table("clusters").await;
    // Two selectors: their intersection is counted on the (locked) rows.
    let url = server.direct_url(&format!("{CLUSTERS}?labels=env:prod,team:x"));
    let request = tokio::spawn(async move { reqwest::get(url).await });
    wait_for(
        "the list to wait on the lock",
        Duration::from_secs(30),
        || async {
            (TestServer::running_statements(&watcher, "clusters").await == 1).then_some(())
        },
    )
    .await;

    request.abort();
    wait_for(
        "the list's statement to be cancelled",
        Duration::from_secs(30),
        || async {
            (TestServer::running_statements(&watcher, "clusters").await == 0).then_some(())
        },
    )
    .await;
    lock.rollback().await.expect("the lock is released");
    let list: types::ClusterList = get_json(&server, CLUSTERS).await;
    assert_eq!(list.total, 0);
}

/// Fairness in small: more clients on stuck lists than the pool has
/// connections, and a lookup and an adapter's report still answer, because
/// lists hold at most their share of the pool (two permits here, as the
/// default gives on two cores). PostgreSQL only: the lock that makes lists
/// slow there does not stop SQLite's readers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stuck_lists_leave_connections_for_lookups_and_reports_on_postgres() {
    let Some(server) = TestServer::start_configured(Backend::Postgres, |config| {
        config.database_pool_size = Some(SMALL_POOL);
        config.list_concurrency = Some(2);
    })
    .await
    else {
        return;
    };
    let cluster = create_cluster(&server.client, "busy").await;
    let id = cluster.id.to_string();
    create_pool(&server.client, &id, "pool").await;
    let watcher = server.database().await;
    let lock = server.lock_table("nodepools").await;
    let lists: Vec<_> = (0..SMALL_POOL)
        .map(|_| tokio::spawn(reqwest::get(server.url(NODEPOOLS))))
        .collect();
    // Two permits: two statements wait on the lock,
    // the other lists wait for a permit, holding no connection.
    wait_for(
        "two lists to wait on the lock",
        Duration::from_secs(30),
        || async {
            (TestServer::running_statements(&watcher, "nodepools").await == 2).then_some(())
        },
    )
    .await;

    let viewed = server
        .client
        .cluster_view()
        .cluster(&id)
        .send()
        .await
        .expect("the lookup is answered");
    assert_eq!(viewed.status().as_u16(), 200);
    let reported = server
        .client
        .cluster_status_report()
        .cluster(&id)
        .body(report("validation", 1, COMPLETE))
        .send()
        .await
        .expect("the report is answered");
    assert!(reported.status().is_success(), "{}", reported.status());

    lock.rollback().await.expect("the lock is released");
    for list in lists {
        let response = list
            .await
            .expect("the client task")
            .expect("the list is answered");
        assert_eq!(response.status().as_u16(), 200);
    }
}
