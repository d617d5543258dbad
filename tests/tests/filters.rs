//! Lists and filters (docs/filters.md) through the SDK: the J3/J8 fleet
//! searches, label selectors, phases, exact and glob names, paging with
//! totals, node pools across clusters, and a 400 naming each bad parameter.

use std::collections::{BTreeMap, BTreeSet};

use hyperfleet_e2e::calls::{create_cluster, create_cluster_with, fields};
use hyperfleet_e2e::fixtures::{cluster_request_at, labels, nodepool_request};
use hyperfleet_e2e::http::{expect_bad_query, get_error, get_json};
use hyperfleet_e2e::{Backend, TestServer, on_every_backend};
use hyperfleet_sdk::types;

on_every_backend!(
    j3_production_gcp_clusters_in_us_east1,
    j8_label_selectors_and_key_existence,
    phase_filters_with_pending_and_sets,
    exact_and_glob_names,
    filtered_totals_hold_across_pages,
    node_pools_across_and_within_clusters,
    each_bad_filter_parameter_is_named,
);

const CLUSTERS: &str = "/api/hyperfleet/v1/clusters";
const NODEPOOLS: &str = "/api/hyperfleet/v1/nodepools";

/// Labels written out as `(key, value)` pairs.
type Pairs = &'static [(&'static str, &'static str)];

/// The fleet: name, provider, region, labels; created in this order.
const FLEET: &[(&str, &str, &str, Pairs)] = &[
    (
        "prod-gcp-east-1",
        "gcp",
        "us-east1",
        &[("environment", "production"), ("team", "platform")],
    ),
    (
        "prod-gcp-east-2",
        "gcp",
        "us-east1",
        &[("environment", "production"), ("team", "data")],
    ),
    (
        "prod-gcp-west",
        "gcp",
        "us-west1",
        &[("environment", "production"), ("team", "platform")],
    ),
    (
        "prod-aws-east",
        "aws",
        "us-east-1",
        &[("environment", "production"), ("team", "platform")],
    ),
    (
        "staging-gcp-east",
        "gcp",
        "us-east1",
        &[("environment", "staging"), ("team", "platform")],
    ),
    (
        "dev-gcp-east",
        "gcp",
        "us-east1",
        &[("environment", "development")],
    ),
    (
        "my-test-cluster",
        "gcp",
        "us-east1",
        &[("environment", "production"), ("team", "platform")],
    ),
    (
        "my-cluster-2",
        "aws",
        "eu-west-1",
        &[
            ("environment", "staging"),
            ("team", "data"),
            ("tier", "gold"),
        ],
    ),
    (
        "load-test-a",
        "azure",
        "eastus",
        &[
            ("environment", "development"),
            ("example.io/owner", "alice"),
        ],
    ),
    (
        "ci-test-b",
        "aws",
        "us-east-1",
        &[("environment", "development"), ("team", "data")],
    ),
    (
        "analytics",
        "gcp",
        "europe-west1",
        &[
            ("environment", "production"),
            ("team", "data"),
            ("tier", "gold"),
        ],
    ),
    ("edge-7", "azure", "westeurope", &[]),
];

/// Create the fleet; its clusters by name.
async fn create_fleet(server: &TestServer) -> BTreeMap<String, types::Cluster> {
    let mut created = BTreeMap::new();
    for (name, provider, region, pairs) in FLEET {
        let request = cluster_request_at(name, provider, region).labels(labels(pairs));
        let cluster = create_cluster_with(&server.client, request).await;
        created.insert(name.to_string(), cluster);
    }
    created
}

/// The fleet's names that `keep` selects, in creation order.
fn fleet_where(keep: impl Fn(&str, &str, &str, &BTreeMap<&str, &str>) -> bool) -> Vec<String> {
    FLEET
        .iter()
        .filter(|(name, provider, region, labels)| {
            let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
            keep(name, provider, region, &labels)
        })
        .map(|(name, ..)| name.to_string())
        .collect()
}

fn names(list: &types::ClusterList) -> Vec<String> {
    list.items.iter().map(|c| c.name.to_string()).collect()
}

async fn j3_production_gcp_clusters_in_us_east1(server: TestServer) {
    create_fleet(&server).await;
    let expected = fleet_where(|_, provider, region, labels| {
        provider == "gcp"
            && region == "us-east1"
            && labels.get("environment") == Some(&"production")
    });
    assert_eq!(
        expected,
        ["prod-gcp-east-1", "prod-gcp-east-2", "my-test-cluster"]
    );

    // Step 1: every production cluster.
    let production = server
        .client
        .cluster_list()
        .labels("environment:production")
        .send()
        .await
        .expect("listed")
        .into_inner();
    let all_production = fleet_where(|_, _, _, l| l.get("environment") == Some(&"production"));
    assert_eq!(names(&production), all_production);
    assert_eq!(production.total, all_production.len() as u64);

    // Step 2: narrowed to GCP in us-east1.
    let list = server
        .client
        .cluster_list()
        .labels("environment:production")
        .provider("gcp")
        .region("us-east1")
        .send()
        .await
        .expect("listed")
        .into_inner();
    assert_eq!((names(&list), list.total), (expected.clone(), 3));

    // Step 3: and Ready. Nothing has reported yet, so nothing is Ready; the
    // same search over the phase they do have finds them all.
    let ready = server
        .client
        .cluster_list()
        .labels("environment:production")
        .provider("gcp")
        .region("us-east1")
        .phase("Ready")
        .send()
        .await
        .expect("listed")
        .into_inner();
    assert_eq!((ready.items.len(), ready.total), (0, 0));
    let pending = server
        .client
        .cluster_list()
        .labels("environment:production")
        .provider("gcp")
        .region("us-east1")
        .phase("Pending")
        .send()
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(names(&pending), expected);

    // The design's example URL, as a user types it.
    let example: types::ClusterList = get_json(
        &server,
        &format!(
            "{CLUSTERS}?labels=environment:production,team:platform&phase=Ready&provider=gcp\
             &region=us-east1&name=my-*&page=1&size=100"
        ),
    )
    .await;
    assert_eq!((example.total, example.page, example.size), (0, 1, 100));
    let example: types::ClusterList = get_json(
        &server,
        &format!(
            "{CLUSTERS}?labels=environment:production,team:platform&phase=Pending,Not%20Ready\
             &provider=gcp&region=us-east1&name=my-*&page=1&size=100"
        ),
    )
    .await;
    assert_eq!(names(&example), ["my-test-cluster"]);
    assert_eq!(example.total, 1);

    // Each of provider and region alone.
    let aws = server
        .client
        .cluster_list()
        .provider("aws")
        .send()
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(names(&aws), fleet_where(|_, p, _, _| p == "aws"));
    let east = server
        .client
        .cluster_list()
        .region("us-east-1")
        .send()
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(names(&east), ["prod-aws-east", "ci-test-b"]);
}

async fn j8_label_selectors_and_key_existence(server: TestServer) {
    create_fleet(&server).await;
    let list = |labels: &'static str| {
        let client = server.client.clone();
        async move {
            client
                .cluster_list()
                .labels(labels)
                .send()
                .await
                .unwrap_or_else(|e| panic!("labels={labels}: {e}"))
                .into_inner()
        }
    };

    let both = list("environment:production,team:platform").await;
    assert_eq!(
        names(&both),
        fleet_where(|_, _, _, l| l.get("environment") == Some(&"production")
            && l.get("team") == Some(&"platform"))
    );
    assert_eq!(both.total, 4);

    // A bare key: has the key, whatever its value.
    let tiered = list("tier").await;
    assert_eq!(names(&tiered), ["my-cluster-2", "analytics"]);
    let teams = list("team").await;
    assert_eq!(
        names(&teams),
        fleet_where(|_, _, _, l| l.contains_key("team"))
    );
    assert_eq!(teams.total, 9);
    let prefixed = list("example.io/owner,environment:development").await;
    assert_eq!(names(&prefixed), ["load-test-a"]);
    let gold_data = list("tier:gold,team:data,environment").await;
    assert_eq!(names(&gold_data), ["my-cluster-2", "analytics"]);

    // No match: a value nobody has, a key nobody has, contradictory pairs.
    for labels in [
        "environment:qa",
        "nosuchkey",
        "environment:production,environment:staging",
    ] {
        let none = list(labels).await;
        assert_eq!((none.items.len(), none.total), (0, 0), "{labels}");
    }
}

async fn phase_filters_with_pending_and_sets(server: TestServer) {
    create_fleet(&server).await;
    let everyone = fleet_where(|_, _, _, _| true);
    for (phase, expected) in [
        ("Pending", everyone.clone()),
        ("Pending,Not Ready", everyone.clone()),
        ("Not Ready,Pending,Terminating", everyone.clone()),
        ("Not Ready", Vec::new()),
        ("Ready,Terminating", Vec::new()),
    ] {
        let list = server
            .client
            .cluster_list()
            .phase(phase)
            .send()
            .await
            .unwrap_or_else(|e| panic!("phase={phase}: {e}"))
            .into_inner();
        assert_eq!(names(&list), expected, "phase={phase}");
        assert_eq!(list.total, expected.len() as u64, "phase={phase}");
    }
    // Typed by hand, with the space encoded either way.
    for query in ["phase=Not%20Ready,Pending", "phase=Not+Ready,Pending"] {
        let list: types::ClusterList = get_json(&server, &format!("{CLUSTERS}?{query}")).await;
        assert_eq!(list.total, everyone.len() as u64, "{query}");
    }
}

/// With no required adapters a new resource is Ready at once, which gives
/// the phase filter a phase other than Pending to find (on both backends).
async fn ready_phase_is_found(server: TestServer) {
    for name in ["ready-1", "ready-2"] {
        create_cluster(&server.client, name).await;
    }
    for (phase, total) in [("Ready", 2), ("Pending", 0), ("Pending,Ready", 2)] {
        let list = server
            .client
            .cluster_list()
            .phase(phase)
            .send()
            .await
            .expect("listed")
            .into_inner();
        assert_eq!(list.total, total, "phase={phase}");
        assert!(
            list.items
                .iter()
                .all(|c| c.status.phase == types::Phase::Ready),
            "phase={phase}"
        );
    }
}

mod without_adapters {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_ready_phase_is_found() {
        if let Some(server) = TestServer::start_with(Backend::Sqlite, vec![], vec![]).await {
            ready_phase_is_found(server).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_ready_phase_is_found() {
        if let Some(server) = TestServer::start_with(Backend::Postgres, vec![], vec![]).await {
            ready_phase_is_found(server).await;
        }
    }
}

async fn exact_and_glob_names(server: TestServer) {
    create_fleet(&server).await;
    let everyone = fleet_where(|_, _, _, _| true);
    let everyone: Vec<&str> = everyone.iter().map(String::as_str).collect();
    for (name, expected) in [
        ("my-test-cluster", vec!["my-test-cluster"]),
        ("my-test", vec![]),
        ("my-*", vec!["my-test-cluster", "my-cluster-2"]),
        (
            "*test*",
            vec!["my-test-cluster", "load-test-a", "ci-test-b"],
        ),
        (
            "*-east",
            vec!["prod-aws-east", "staging-gcp-east", "dev-gcp-east"],
        ),
        ("prod-*-east-*", vec!["prod-gcp-east-1", "prod-gcp-east-2"]),
        ("*", everyone.clone()),
        ("nosuch-*", vec![]),
    ] {
        let list = server
            .client
            .cluster_list()
            .name(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("name={name}: {e}"))
            .into_inner();
        assert_eq!(names(&list), expected, "name={name}");
        assert_eq!(list.total, expected.len() as u64, "name={name}");
    }
    // Combined with a label and a provider.
    let list = server
        .client
        .cluster_list()
        .name("*test*")
        .provider("aws")
        .labels("team")
        .send()
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(names(&list), ["ci-test-b"]);
}

async fn filtered_totals_hold_across_pages(server: TestServer) {
    create_fleet(&server).await;
    let expected = fleet_where(|_, _, _, l| l.contains_key("team"));
    assert_eq!(expected.len(), 9);
    for size in [1u32, 2, 4, 9, 10] {
        let mut seen = Vec::new();
        let pages = expected.len().div_ceil(size as usize) as u32;
        for page in 1..=pages + 1 {
            let list = server
                .client
                .cluster_list()
                .labels("team")
                .page(page)
                .size(size)
                .send()
                .await
                .expect("listed")
                .into_inner();
            assert_eq!(
                (list.total, list.page, list.size),
                (9, page, size),
                "size {size} page {page}"
            );
            if page > pages {
                assert!(list.items.is_empty(), "past the last page");
            } else {
                assert!(!list.items.is_empty() && list.items.len() <= size as usize);
            }
            seen.extend(names(&list));
        }
        assert_eq!(
            seen, expected,
            "size {size}: every match once, oldest first"
        );
    }
}

async fn node_pools_across_and_within_clusters(server: TestServer) {
    let fleet = create_fleet(&server).await;
    let pools: &[(&str, &str, Pairs)] = &[
        ("prod-gcp-east-1", "workers", &[("workload", "general")]),
        (
            "prod-gcp-east-1",
            "gpu",
            &[("workload", "ml"), ("accelerator", "nvidia")],
        ),
        ("my-test-cluster", "workers", &[("workload", "general")]),
        ("my-cluster-2", "batch-pool", &[]),
    ];
    let mut created = Vec::new();
    for (cluster, name, pairs) in pools {
        let pool = server
            .client
            .nodepool_create()
            .cluster(*cluster)
            .body(nodepool_request(name).labels(labels(pairs)))
            .send()
            .await
            .expect("created")
            .into_inner();
        created.push(pool);
    }
    let ids = |list: &types::NodePoolList| list.items.iter().map(|p| p.id).collect::<Vec<_>>();
    let created_ids = |which: &[usize]| which.iter().map(|&i| created[i].id).collect::<Vec<_>>();

    let all = server
        .client
        .nodepool_list_all()
        .send()
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(all.kind, types::NodePoolListKind::NodePoolList);
    assert_eq!((ids(&all), all.total), (created_ids(&[0, 1, 2, 3]), 4));

    let first = fleet["prod-gcp-east-1"].id;
    let of_first = server
        .client
        .nodepool_list_all()
        .cluster_id(first)
        .send()
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(ids(&of_first), created_ids(&[0, 1]));
    assert!(of_first.items.iter().all(|p| p.cluster_id == first));

    let workers = server
        .client
        .nodepool_list_all()
        .name("workers")
        .send()
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(ids(&workers), created_ids(&[0, 2]));
    let clusters: BTreeSet<_> = workers.items.iter().map(|p| p.cluster_id).collect();
    assert_eq!(clusters.len(), 2, "one name, two clusters");

    for (labels, expected) in [
        ("workload:general", vec![0, 2]),
        ("accelerator", vec![1]),
        ("workload", vec![0, 1, 2]),
        ("workload:general,accelerator", vec![]),
    ] {
        let list = server
            .client
            .nodepool_list_all()
            .labels(labels)
            .send()
            .await
            .expect("listed")
            .into_inner();
        assert_eq!(ids(&list), created_ids(&expected), "labels={labels}");
        assert_eq!(list.total, expected.len() as u64);
    }
    let glob = server
        .client
        .nodepool_list_all()
        .name("*pool")
        .phase("Pending,Not Ready")
        .send()
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(ids(&glob), created_ids(&[3]));
    let combined = server
        .client
        .nodepool_list_all()
        .cluster_id(first)
        .name("w*")
        .labels("workload:general")
        .phase("Pending")
        .page(1)
        .size(1)
        .send()
        .await
        .expect("listed")
        .into_inner();
    assert_eq!((ids(&combined), combined.total), (created_ids(&[0]), 1));

    // A cluster id that names no cluster is an empty search, not a 404.
    let nobody = server
        .client
        .nodepool_list_all()
        .cluster_id(uuid::Uuid::new_v4())
        .send()
        .await
        .expect("listed")
        .into_inner();
    assert_eq!((nobody.items.len(), nobody.total), (0, 0));

    // Within one cluster: labels, phase, name.
    let within = |cluster: &'static str| server.client.nodepool_list().cluster(cluster);
    let ml = within("prod-gcp-east-1")
        .labels("workload:ml")
        .send()
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(ids(&ml), created_ids(&[1]));
    let named = within("prod-gcp-east-1")
        .name("w*")
        .phase("Pending")
        .send()
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(ids(&named), created_ids(&[0]));
    let paged = within("prod-gcp-east-1")
        .size(1)
        .page(2)
        .send()
        .await
        .expect("listed")
        .into_inner();
    assert_eq!((ids(&paged), paged.total), (created_ids(&[1]), 2));
    let none = within("my-test-cluster")
        .phase("Ready")
        .send()
        .await
        .expect("listed")
        .into_inner();
    assert_eq!((none.items.len(), none.total), (0, 0));
}

async fn each_bad_filter_parameter_is_named(server: TestServer) {
    create_fleet(&server).await;
    let clusters_cases = [
        ("labels=a:b:c", "labels"),
        ("labels=bad%20key", "labels"),
        ("labels=bad%20key:x", "labels"),
        ("labels=a:b,", "labels"),
        ("labels=a,", "labels"),
        ("labels=,a", "labels"),
        ("labels=a,,b", "labels"),
        ("labels=", "labels"),
        ("labels=tier:not%20valid", "labels"),
        ("phase=Unknown", "phase"),
        ("phase=ready", "phase"),
        ("phase=Pending,", "phase"),
        ("phase=", "phase"),
        ("name=Bad_Name", "name"),
        ("name=", "name"),
        ("name=a%25b", "name"),
        ("provider=GCP", "provider"),
        ("provider=gcp&provider=aws", "provider"),
        ("region=", "region"),
        ("region=us%20east", "region"),
        ("size=0", "size"),
        ("size=1001", "size"),
        ("page=0", "page"),
        ("cluster_id=not-a-uuid", "cluster_id"),
        ("labels=a&labels=b", "labels"),
    ];
    let nodepool_cases = [
        ("labels=a:b:c", "labels"),
        ("labels=a:b,", "labels"),
        ("phase=Unknown", "phase"),
        ("name=Bad_Name", "name"),
        ("size=0", "size"),
        ("phase=Ready&phase=Pending", "phase"),
        ("provider=gcp", "provider"),
        ("region=us-east1", "region"),
    ];
    let all_nodepool_cases = [
        ("cluster_id=not-a-uuid", "cluster_id"),
        ("cluster_id=", "cluster_id"),
    ];
    let paths = [
        (CLUSTERS.to_string(), clusters_cases.as_slice()),
        (
            format!("{CLUSTERS}/prod-gcp-east-1/nodepools"),
            nodepool_cases.as_slice(),
        ),
        (NODEPOOLS.to_string(), nodepool_cases.as_slice()),
        (NODEPOOLS.to_string(), all_nodepool_cases.as_slice()),
    ];
    for (path, cases) in paths {
        for (query, field) in cases {
            expect_bad_query(&server, &format!("{path}?{query}"), field).await;
        }
    }

    // Several bad parameters at once are all named.
    let query = "labels=a:b:c&phase=Unknown&name=Bad_Name&size=0";
    let (_, error) = get_error(&server, &format!("{CLUSTERS}?{query}")).await;
    let mut named = fields(&error);
    named.sort_unstable();
    assert_eq!(named, ["labels", "name", "phase", "size"], "{error:?}");
}
