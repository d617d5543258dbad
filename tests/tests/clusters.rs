//! Clusters through the SDK: the seed's J1 and J7, lists and totals, and
//! creates of one name racing each other.

use std::collections::{BTreeMap, BTreeSet};

use hyperfleet_e2e::calls::{create_cluster, expect_error, list_clusters, view_cluster};
use hyperfleet_e2e::fixtures::{SEED_LABELS, cluster_request, labels};
use hyperfleet_e2e::{TestServer, on_every_backend};
use hyperfleet_sdk::types;

on_every_backend!(
    j1_create_and_get_the_seed_cluster,
    j7_get_by_name_and_by_id,
    lists_page_in_creation_order_with_totals,
    twenty_concurrent_creates_of_one_name_make_one_cluster,
    duplicate_names_conflict,
    unknown_clusters_are_not_found,
);

async fn j1_create_and_get_the_seed_cluster(server: TestServer) {
    let created = server
        .client
        .cluster_create()
        .body(cluster_request("my-test-cluster"))
        .send()
        .await
        .expect("the seed cluster is created");
    assert_eq!(created.status().as_u16(), 201);
    let cluster = created.into_inner();

    assert_eq!(cluster.kind, types::ClusterKind::Cluster);
    assert_eq!(cluster.name.as_str(), "my-test-cluster");
    assert_eq!(
        cluster.href,
        format!("/api/hyperfleet/v1/clusters/{}", cluster.id)
    );
    assert_eq!(cluster.generation, 1);
    assert_eq!(cluster.spec.provider.as_str(), "gcp");
    assert_eq!(cluster.spec.region.as_str(), "us-east1");
    assert_eq!(cluster.spec.node_count.get(), 3);
    assert_eq!(cluster.labels, labels(SEED_LABELS));
    assert_eq!(cluster.status.phase, types::Phase::Pending);
    assert_eq!(
        cluster.status.message,
        "waiting for validation, dns, infrastructure"
    );
    assert_eq!(cluster.created_at, cluster.updated_at);
    assert_eq!(cluster.status.last_transition_time, cluster.created_at);

    let fetched = view_cluster(&server.client, &cluster.id.to_string()).await;
    assert_eq!(fetched, cluster);
}

async fn j7_get_by_name_and_by_id(server: TestServer) {
    let cluster = create_cluster(&server.client, "lookup-me").await;
    for reference in [
        "lookup-me".to_string(),
        cluster.id.to_string(),
        cluster.id.to_string().to_uppercase(),
    ] {
        assert_eq!(view_cluster(&server.client, &reference).await, cluster);
    }
    // Only the hyphenated form is an id: the other
    // forms `uuid` parses gave one cluster many paths. They are no valid
    // names either, so 404.
    for reference in [
        cluster.id.simple().to_string(),
        cluster.id.braced().to_string(),
        cluster.id.urn().to_string(),
    ] {
        expect_error(
            server
                .client
                .cluster_view()
                .cluster(&reference)
                .send()
                .await,
            404,
            types::ErrorCode::ClusterNotFound,
        );
    }
}

async fn lists_page_in_creation_order_with_totals(server: TestServer) {
    let empty = list_clusters(&server.client).await;
    assert_eq!(
        (empty.total, empty.items.len(), empty.page, empty.size),
        (0, 0, 1, 100)
    );
    assert_eq!(empty.kind, types::ClusterListKind::ClusterList);

    let mut created = Vec::new();
    for i in 0..7 {
        let cluster = create_cluster(&server.client, &format!("cluster-{i}")).await;
        created.push(cluster.id);
    }

    let mut seen = Vec::new();
    for page in 1..=4u32 {
        let list = server
            .client
            .cluster_list()
            .page(page)
            .size(3)
            .send()
            .await
            .expect("listed")
            .into_inner();
        assert_eq!((list.total, list.page, list.size), (7, page, 3));
        let expected_len = [3, 3, 1, 0][page as usize - 1];
        assert_eq!(list.items.len(), expected_len, "page {page}");
        seen.extend(list.items.into_iter().map(|c| c.id));
    }
    assert_eq!(seen, created, "every cluster once, oldest first");
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 7);

    let all = server
        .client
        .cluster_list()
        .size(1000)
        .send()
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(all.items.iter().map(|c| c.id).collect::<Vec<_>>(), created);
}

async fn twenty_concurrent_creates_of_one_name_make_one_cluster(server: TestServer) {
    let attempts = (0..20).map(|i| {
        let client = server.client.clone();
        tokio::spawn(async move {
            let request = cluster_request("contested")
                .labels(BTreeMap::from([("attempt".to_string(), i.to_string())]));
            client.cluster_create().body(request).send().await
        })
    });
    let mut created = 0;
    let mut conflicts = 0;
    for attempt in futures_join(attempts).await {
        match attempt {
            Ok(response) => {
                assert_eq!(response.status().as_u16(), 201);
                created += 1;
            }
            Err(error) => {
                expect_error::<types::Cluster>(
                    Err(error),
                    409,
                    types::ErrorCode::ClusterAlreadyExists,
                );
                conflicts += 1;
            }
        }
    }
    assert_eq!((created, conflicts), (1, 19));
    assert_eq!(list_clusters(&server.client).await.total, 1);
}

async fn duplicate_names_conflict(server: TestServer) {
    let create = || {
        server
            .client
            .cluster_create()
            .body(cluster_request("twice"))
            .send()
    };
    create().await.expect("the first create succeeds");
    let error = expect_error(create().await, 409, types::ErrorCode::ClusterAlreadyExists);
    assert_eq!(error.message, "Cluster twice already exists");
    assert!(!error.request_id.is_empty());
}

async fn unknown_clusters_are_not_found(server: TestServer) {
    let id = uuid::Uuid::new_v4().to_string();
    for reference in [id.as_str(), "no-such"] {
        let error = expect_error(
            server.client.cluster_view().cluster(reference).send().await,
            404,
            types::ErrorCode::ClusterNotFound,
        );
        assert_eq!(error.message, format!("Cluster {reference} not found"));
    }
}

/// Await every task, in order.
async fn futures_join<T>(tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let tasks: Vec<_> = tasks.collect();
    let mut results = Vec::with_capacity(tasks.len());
    for task in tasks {
        results.push(task.await.expect("the task did not panic"));
    }
    results
}
