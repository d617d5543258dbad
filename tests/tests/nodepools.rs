//! Node pools through the SDK: create under a cluster by id or name, read
//! back by id or name, per-cluster names and lists.

use std::collections::BTreeSet;

use hyperfleet_e2e::calls::{create_cluster, create_pool, expect_error, list_pools, view_pool};
use hyperfleet_e2e::fixtures::nodepool_request;
use hyperfleet_e2e::{TestServer, on_every_backend};
use hyperfleet_sdk::types;

on_every_backend!(
    create_and_get_by_name_and_id,
    names_are_unique_per_cluster_only,
    lists_are_per_cluster_with_totals,
    missing_parents_and_pools_are_not_found,
    concurrent_creates_of_one_name_make_one_pool,
);

async fn create_and_get_by_name_and_id(server: TestServer) {
    let cluster = create_cluster(&server.client, "my-test-cluster").await;
    let response = server
        .client
        .nodepool_create()
        .cluster("my-test-cluster")
        .body(nodepool_request("my-nodepool"))
        .send()
        .await
        .expect("node pool created");
    assert_eq!(response.status().as_u16(), 201);
    let pool = response.into_inner();
    assert_eq!(pool.kind, types::NodePoolKind::NodePool);
    assert_eq!(pool.cluster_id, cluster.id);
    assert_eq!(pool.name.as_str(), "my-nodepool");
    assert_eq!(pool.generation, 1);
    assert_eq!(pool.spec.node_count.get(), 5);
    assert_eq!(pool.spec.machine_type.as_str(), "n1-standard-4");
    assert!(pool.labels.is_empty());
    assert_eq!(pool.status.phase, types::Phase::Pending);
    assert_eq!(
        pool.status.message,
        "waiting for validation, infrastructure"
    );
    assert_eq!(
        pool.href,
        format!(
            "/api/hyperfleet/v1/clusters/{}/nodepools/{}",
            cluster.id, pool.id
        )
    );

    for (cluster_ref, pool_ref) in [
        (cluster.id.to_string(), pool.id.to_string()),
        ("my-test-cluster".to_string(), "my-nodepool".to_string()),
        (cluster.id.to_string(), "my-nodepool".to_string()),
        ("my-test-cluster".to_string(), pool.id.to_string()),
    ] {
        let found = view_pool(&server.client, &cluster_ref, &pool_ref).await;
        assert_eq!(found, pool);
    }

    // A pool is found only under its own cluster.
    let other = create_cluster(&server.client, "other").await;
    expect_error(
        server
            .client
            .nodepool_view()
            .cluster(other.id.to_string())
            .nodepool(pool.id.to_string())
            .send()
            .await,
        404,
        types::ErrorCode::NodePoolNotFound,
    );
}

async fn names_are_unique_per_cluster_only(server: TestServer) {
    create_cluster(&server.client, "first").await;
    create_cluster(&server.client, "second").await;
    let create = |cluster: &'static str| {
        server
            .client
            .nodepool_create()
            .cluster(cluster)
            .body(nodepool_request("workers"))
            .send()
    };
    create("first").await.expect("first pool");
    create("second")
        .await
        .expect("the same name in another cluster");
    let error = expect_error(
        create("first").await,
        409,
        types::ErrorCode::NodePoolAlreadyExists,
    );
    assert_eq!(
        error.message,
        "NodePool workers already exists in cluster first"
    );
}

async fn lists_are_per_cluster_with_totals(server: TestServer) {
    create_cluster(&server.client, "busy").await;
    create_cluster(&server.client, "quiet").await;
    let mut created = Vec::new();
    for i in 0..5 {
        let pool = create_pool(&server.client, "busy", &format!("pool-{i}")).await;
        created.push(pool.id);
    }
    let mut seen = Vec::new();
    for page in 1..=3u32 {
        let list = server
            .client
            .nodepool_list()
            .cluster("busy")
            .page(page)
            .size(2)
            .send()
            .await
            .expect("listed")
            .into_inner();
        assert_eq!(list.kind, types::NodePoolListKind::NodePoolList);
        assert_eq!((list.total, list.page, list.size), (5, page, 2));
        seen.extend(list.items.into_iter().map(|p| p.id));
    }
    assert_eq!(seen, created);
    assert_eq!(seen.iter().collect::<BTreeSet<_>>().len(), 5);

    assert_eq!(list_pools(&server.client, "quiet").await.total, 0);
}

async fn missing_parents_and_pools_are_not_found(server: TestServer) {
    let error = expect_error(
        server
            .client
            .nodepool_create()
            .cluster("ghost")
            .body(nodepool_request("p"))
            .send()
            .await,
        404,
        types::ErrorCode::ClusterNotFound,
    );
    assert_eq!(error.message, "Cluster ghost not found");
    expect_error(
        server.client.nodepool_list().cluster("ghost").send().await,
        404,
        types::ErrorCode::ClusterNotFound,
    );

    create_cluster(&server.client, "real").await;
    let error = expect_error(
        server
            .client
            .nodepool_view()
            .cluster("real")
            .nodepool("ghost")
            .send()
            .await,
        404,
        types::ErrorCode::NodePoolNotFound,
    );
    assert_eq!(error.message, "NodePool ghost not found in cluster real");
}

async fn concurrent_creates_of_one_name_make_one_pool(server: TestServer) {
    create_cluster(&server.client, "racy").await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let client = server.client.clone();
            tokio::spawn(async move {
                client
                    .nodepool_create()
                    .cluster("racy")
                    .body(nodepool_request("only-one"))
                    .send()
                    .await
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        match task.await.expect("no panic") {
            Ok(response) => statuses.push(response.status().as_u16()),
            Err(error) => {
                expect_error::<types::NodePool>(
                    Err(error),
                    409,
                    types::ErrorCode::NodePoolAlreadyExists,
                );
                statuses.push(409);
            }
        }
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
}
