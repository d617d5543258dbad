//! A list's `total` is exact however the server finds it: on PostgreSQL the
//! lists of at most one search term read totals the database keeps with
//! every write (`db::tally`), on SQLite a single label selector counts the
//! label table's rows, the others count their matches. Each filter is
//! asked both ways (a `name=*` glob matches every name and makes the
//! server count) after creates, label changes, phase changes, deletion and
//! hard deletion, with writers running at once, before and after the kept
//! totals are folded. Lists of several terms, which both backends count in
//! the same statement that picks the page, are paged through and must
//! give the whole list's order, filtered.

use std::time::Duration;

use hyperfleet_e2e::calls::{
    create_cluster_with, create_pool, delete_cluster, expect_cluster_deleted, patch_cluster,
    report_cluster_adapters, report_pool_adapters,
};
use hyperfleet_e2e::fixtures::{COMPLETE, FAILED, cluster_request_at, finalized, labels};
use hyperfleet_e2e::http::get_json;
use hyperfleet_e2e::wait::wait_for;
use hyperfleet_e2e::{Backend, TestServer, on_every_backend};
use hyperfleet_sdk::types;
use sea_orm::ConnectionTrait;

on_every_backend!(
    totals_agree_with_the_rows_through_every_change,
    pages_among_many_matches_follow_the_whole_lists_order,
);

const CLUSTERS: &str = "/api/hyperfleet/v1/clusters";
const NODEPOOLS: &str = "/api/hyperfleet/v1/nodepools";

/// The cluster filters a kept total can answer, and their expected totals
/// at the end of the scenario below.
const CLUSTER_FILTERS: [(&str, u64); 10] = [
    ("", 11),
    // One term on PostgreSQL (a label with the phase and the placement),
    // which two clusters came to hold by turning Ready.
    ("labels=env:dev&phase=Ready&provider=aws&region=us-east1", 2),
    ("labels=env:prod", 3),
    ("labels=env:dev", 8),
    ("labels=team", 4),
    ("phase=Ready", 4),
    ("phase=Pending,Not Ready", 5),
    ("phase=Terminating", 2),
    ("provider=aws", 6),
    ("region=eu-west1", 6),
];

/// The same for the node pools of every cluster.
const NODEPOOL_FILTERS: [(&str, u64); 3] =
    [("", 5), ("phase=Ready", 2), ("phase=Pending,Ready", 5)];

async fn total(server: &TestServer, path: &str, query: &str) -> u64 {
    if path == CLUSTERS {
        get_json::<types::ClusterList>(server, &format!("{path}?{query}&size=1"))
            .await
            .total
    } else {
        get_json::<types::NodePoolList>(server, &format!("{path}?{query}&size=1"))
            .await
            .total
    }
}

/// Every filter's total, read as kept and as counted, equals the expected.
async fn check_totals(server: &TestServer, when: &str) {
    let filters = CLUSTER_FILTERS
        .iter()
        .map(|(query, n)| (CLUSTERS, *query, *n))
        .chain(NODEPOOL_FILTERS.iter().map(|(q, n)| (NODEPOOLS, *q, *n)));
    for (path, query, expected) in filters {
        let kept = total(server, path, query).await;
        let counted = total(server, path, &format!("{query}&name=*")).await;
        assert_eq!(
            (kept, counted),
            (expected, expected),
            "{when}: {path}?{query} (kept, counted)"
        );
    }
}

/// Filters of several terms and what they select, as a test of a listed
/// cluster.
type Selects = fn(&types::Cluster) -> bool;

fn label_is(cluster: &types::Cluster, key: &str, value: &str) -> bool {
    cluster.labels.get(key).map(String::as_str) == Some(value)
}

const INTERSECTIONS: [(&str, Selects); 5] = [
    (
        "labels=env:dev,team:x&phase=Not Ready&provider=gcp&region=us-east1",
        |c| {
            label_is(c, "env", "dev")
                && label_is(c, "team", "x")
                && c.status.phase == types::Phase::NotReady
                && c.spec.provider.as_str() == "gcp"
                && c.spec.region.as_str() == "us-east1"
        },
    ),
    ("labels=env:dev,team", |c| {
        label_is(c, "env", "dev") && c.labels.contains_key("team")
    }),
    ("labels=env:dev&provider=gcp", |c| {
        label_is(c, "env", "dev") && c.spec.provider.as_str() == "gcp"
    }),
    ("labels=env:dev&phase=Ready,Not Ready", |c| {
        label_is(c, "env", "dev")
            && matches!(c.status.phase, types::Phase::Ready | types::Phase::NotReady)
    }),
    ("provider=aws&region=eu-west1&phase=Terminating", |c| {
        c.spec.provider.as_str() == "aws"
            && c.spec.region.as_str() == "eu-west1"
            && c.status.phase == types::Phase::Terminating
    }),
];

/// Each intersection, read two at a time up to a page past the end, gives
/// the whole list's clusters that it selects, in the whole list's order,
/// and the same total on every page.
async fn check_pages(server: &TestServer, when: &str) {
    let whole: types::ClusterList = get_json(server, &format!("{CLUSTERS}?size=100")).await;
    for (query, selects) in INTERSECTIONS {
        let expected: Vec<&str> = whole
            .items
            .iter()
            .filter(|c| selects(c))
            .map(|c| c.name.as_str())
            .collect();
        assert!(!expected.is_empty(), "{query} selects some clusters");
        let mut paged = Vec::new();
        for page in 1..=expected.len().div_ceil(2) + 1 {
            let list: types::ClusterList =
                get_json(server, &format!("{CLUSTERS}?{query}&size=2&page={page}")).await;
            assert_eq!(
                list.total,
                expected.len() as u64,
                "{when}: {query} page {page}"
            );
            paged.extend(list.items.into_iter().map(|c| c.name));
        }
        assert_eq!(paged, expected, "{when}: {query}");
    }
}

async fn totals_agree_with_the_rows_through_every_change(server: TestServer) {
    // Twelve clusters created at once: env prod on c0..c4, dev on c5..c11;
    // team on every third; aws on even ones; eu-west1 on c0..c5.
    let creates: Vec<_> = (0..12)
        .map(|i| {
            let client = server.client.clone();
            tokio::spawn(async move {
                let provider = if i % 2 == 0 { "aws" } else { "gcp" };
                let region = if i < 6 { "eu-west1" } else { "us-east1" };
                let env = if i < 5 { "prod" } else { "dev" };
                let mut pairs = vec![("env", env)];
                if i % 3 == 0 {
                    pairs.push(("team", "x"));
                }
                let request =
                    cluster_request_at(&format!("c{i}"), provider, region).labels(labels(&pairs));
                create_cluster_with(&client, request).await
            })
        })
        .collect();
    for create in creates {
        create.await.expect("the create task");
    }
    for pool in 0..5 {
        create_pool(&server.client, "c1", &format!("p{pool}")).await;
    }

    // Writers at once: two clusters move from prod to dev, four become
    // Ready, two Not Ready, and two node pools Ready.
    let mut writers = Vec::new();
    for name in ["c3", "c4"] {
        let client = server.client.clone();
        writers.push(tokio::spawn(async move {
            let patch =
                types::ClusterPatch::builder().labels(std::collections::BTreeMap::from([(
                    "env".to_string(),
                    Some("dev".to_string()),
                )]));
            patch_cluster(&client, name, patch).await;
        }));
    }
    for (name, conditions) in [
        ("c5", COMPLETE),
        ("c6", COMPLETE),
        ("c7", COMPLETE),
        ("c8", COMPLETE),
        ("c9", FAILED),
        ("c10", FAILED),
    ] {
        let client = server.client.clone();
        writers.push(tokio::spawn(async move {
            report_cluster_adapters(&client, name, 1, conditions).await;
        }));
    }
    for pool in ["p0", "p1"] {
        let client = server.client.clone();
        writers.push(tokio::spawn(async move {
            report_pool_adapters(&client, "c1", pool, 1, COMPLETE).await;
        }));
    }
    for writer in writers {
        writer.await.expect("the writer task");
    }

    // Three deletions: c0 and c2 stay Terminating, c11 (no node pools) is
    // finalized by its adapters at generation 2, which its deletion made,
    // and goes.
    delete_cluster(&server.client, "c0").await;
    delete_cluster(&server.client, "c2").await;
    let gone = delete_cluster(&server.client, "c11").await;
    report_cluster_adapters(&server.client, "c11", 2, &finalized(true)).await;
    expect_cluster_deleted(&server.client, gone.id).await;

    check_totals(&server, "as written").await;
    check_pages(&server, "as written").await;

    if server.backend == Backend::Postgres {
        // Once the server has folded the deltas into the kept totals, the
        // totals are read from those alone, and must still agree.
        let db = server.database().await;
        wait_for(
            "the deltas to be folded",
            Duration::from_secs(30),
            || async {
                let left = db
                    .query_one_raw(sea_orm::Statement::from_string(
                        sea_orm::DbBackend::Postgres,
                        "SELECT count(*) FROM search_tally",
                    ))
                    .await
                    .expect("the delta table is readable")
                    .and_then(|row| row.try_get_by_index::<i64>(0).ok());
                (left == Some(0)).then_some(())
            },
        )
        .await;
        check_totals(&server, "folded").await;
        check_pages(&server, "folded").await;
    }
}

/// Over five hundred matches, where SQLite reads a page by walking the
/// `(created_at, id)` index rather than sorting every match, checking each
/// row's labels as it goes: any page of a filtered list is the whole list's
/// order, filtered, and rows the walk passes that lack the label are left
/// out.
async fn pages_among_many_matches_follow_the_whole_lists_order(server: TestServer) {
    const FLEET: usize = 540;
    let names: Vec<String> = (0..FLEET).map(|i| format!("m{i}")).collect();
    for chunk in names.chunks(16) {
        let creates: Vec<_> = chunk
            .iter()
            .map(|name| {
                let (client, name) = (server.client.clone(), name.clone());
                tokio::spawn(async move {
                    let i = name.trim_start_matches('m').parse::<usize>().unwrap_or(0);
                    let odd = i % 2 == 1;
                    // 520 of 540 have `env:a`, 20 spread among them `env:b`.
                    let env = if i % 27 == 0 { "b" } else { "a" };
                    let mut pairs = vec![("env", env)];
                    if odd {
                        pairs.push(("team", "x"));
                    }
                    let request =
                        cluster_request_at(&name, "gcp", "us-east1").labels(labels(&pairs));
                    create_cluster_with(&client, request).await
                })
            })
            .collect();
        for create in creates {
            create.await.expect("the create task");
        }
    }
    let mut whole: Vec<types::Cluster> = Vec::new();
    for page in 1..=FLEET.div_ceil(100) {
        let list: types::ClusterList =
            get_json(&server, &format!("{CLUSTERS}?size=100&page={page}")).await;
        whole.extend(list.items);
    }
    assert_eq!(whole.len(), FLEET);

    let filters: [(&str, Selects); 4] = [
        ("labels=env:a", |c| label_is(c, "env", "a")),
        ("labels=env:a&provider=gcp", |c| label_is(c, "env", "a")),
        ("phase=Pending", |_| true),
        ("labels=team:x", |c| c.labels.contains_key("team")),
    ];
    for (query, selects) in filters {
        let expected: Vec<&str> = whole
            .iter()
            .filter(|c| selects(c))
            .map(|c| c.name.as_str())
            .collect();
        let pages = expected.len().div_ceil(7);
        for page in [1, 2, pages / 2, pages, pages + 1] {
            let list: types::ClusterList =
                get_json(&server, &format!("{CLUSTERS}?{query}&size=7&page={page}")).await;
            let from = (page - 1) * 7;
            let want: Vec<&str> = expected.iter().skip(from).take(7).copied().collect();
            let got: Vec<&str> = list.items.iter().map(|c| c.name.as_str()).collect();
            assert_eq!(
                (list.total, got),
                (expected.len() as u64, want),
                "{query} page {page}"
            );
        }
    }
}
