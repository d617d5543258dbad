//! Updates and deletes (docs/lifecycle.md) through the SDK: the seed's
//! J4, J5, J9 and J10, cascades to node pools, tombstones, force deletes,
//! and generations racing ahead of adapters.

use std::collections::BTreeMap;

use hyperfleet_e2e::calls::{
    api_error, cluster_statuses, create_cluster, create_pool, delete_cluster,
    expect_cluster_deleted, expect_error, expect_pool_deleted, list_clusters, list_pools,
    patch_cluster, report_cluster, report_cluster_adapters, report_pool_adapters, view_cluster,
    view_pool,
};
use hyperfleet_e2e::fixtures::{
    COMPLETE, RUNNING, cluster_request, finalized, labels, nodepool_request, report, scale,
    scale_pool,
};
use hyperfleet_e2e::http::expect_invalid;
use hyperfleet_e2e::{TestServer, on_every_backend};
use hyperfleet_sdk::types;
use serde_json::json;

on_every_backend!(
    j4_a_patch_waits_for_adapters_at_the_new_generation,
    j9_a_partial_spec_keeps_the_other_fields,
    patches_that_change_nothing_bump_nothing,
    bad_patches_are_rejected,
    three_quick_patches_need_reports_at_generation_four,
    j5_delete_waits_for_finalizers_then_leaves_a_tombstone,
    deleting_a_cluster_cascades_to_its_node_pools,
    force_deletes_only_what_is_terminating,
    j10_a_node_pool_is_scaled_and_deleted_on_its_own,
);

async fn j4_a_patch_waits_for_adapters_at_the_new_generation(server: TestServer) {
    let client = &server.client;
    create_cluster(client, "j4").await;
    report_cluster_adapters(client, "j4", 1, COMPLETE).await;
    let ready = view_cluster(client, "j4").await;
    assert_eq!(ready.status.phase, types::Phase::Ready);

    let patched = patch_cluster(client, "j4", scale(5)).await;
    assert_eq!(patched.generation, 2);
    assert_eq!(patched.spec.node_count.get(), 5);
    assert_eq!(patched.status.phase, types::Phase::NotReady);
    assert_eq!(
        patched.status.message,
        "waiting for validation, dns, infrastructure"
    );
    assert!(patched.status.last_transition_time > ready.status.last_transition_time);
    assert_eq!(view_cluster(client, "j4").await, patched);

    let statuses = cluster_statuses(client, "j4").await;
    assert_eq!(statuses.generation, 2);
    assert!(
        statuses
            .statuses
            .iter()
            .all(|s| s.phase == types::AdapterPhase::Pending),
        "reports of generation 1 no longer count"
    );

    report_cluster_adapters(client, "j4", 2, COMPLETE).await;
    let again = view_cluster(client, "j4").await;
    assert_eq!(
        (again.status.phase, again.generation),
        (types::Phase::Ready, 2)
    );
}

async fn j9_a_partial_spec_keeps_the_other_fields(server: TestServer) {
    let created = create_cluster(&server.client, "j9").await;
    let body = types::ClusterPatch::builder()
        .spec(Some(
            types::ClusterSpecPatch::builder()
                .region(Some("us-west1".try_into().expect("valid")))
                .try_into()
                .expect("valid"),
        ))
        .labels(BTreeMap::from([
            ("tier".to_string(), Some("gold".to_string())),
            ("team".to_string(), None),
        ]));
    let patched = patch_cluster(&server.client, "j9", body).await;
    assert_eq!(patched.spec.region.as_str(), "us-west1");
    assert_eq!(patched.spec.provider, created.spec.provider);
    assert_eq!(patched.spec.node_count, created.spec.node_count);
    assert_eq!(
        patched.labels,
        labels(&[("environment", "production"), ("tier", "gold")])
    );
    assert_eq!(patched.generation, 2);
    // Nobody has reported yet, so it is still Pending, not Not Ready.
    assert_eq!(patched.status.phase, types::Phase::Pending);
    assert_eq!(patched.name, created.name);
}

async fn patches_that_change_nothing_bump_nothing(server: TestServer) {
    let client = &server.client;
    let created = create_cluster(client, "same").await;
    let body = scale(3).labels(BTreeMap::from([(
        "environment".to_string(),
        Some("production".to_string()),
    )]));
    assert_eq!(patch_cluster(client, "same", body).await, created);
    assert_eq!(
        patch_cluster(client, "same", types::ClusterPatch::builder()).await,
        created
    );
    assert_eq!(view_cluster(client, "same").await, created);
}

async fn bad_patches_are_rejected(server: TestServer) {
    let created = create_cluster(&server.client, "guarded").await;
    for (body, field) in [
        (json!({"name": "renamed"}), "name"),
        (json!({"colour": "red"}), "colour"),
        (json!({"spec": {"nodeCount": 0}}), "spec.nodeCount"),
        (json!({"spec": {"nodeCount": null}}), "spec.nodeCount"),
        (json!({"spec": {"zones": 2}}), "spec.zones"),
        (json!({"labels": {"bad key": "x"}}), "labels.bad key"),
    ] {
        let path = "/api/hyperfleet/v1/clusters/guarded";
        expect_invalid(&server, reqwest::Method::PATCH, path, &body, field).await;
    }
    assert_eq!(
        view_cluster(&server.client, "guarded").await,
        created,
        "nothing changed"
    );
    expect_error(
        server
            .client
            .cluster_update()
            .cluster("ghost")
            .body(scale(2))
            .send()
            .await,
        404,
        types::ErrorCode::ClusterNotFound,
    );
}

async fn three_quick_patches_need_reports_at_generation_four(server: TestServer) {
    let client = &server.client;
    create_cluster(client, "quick").await;
    for nodes in [4, 5, 6] {
        patch_cluster(client, "quick", scale(nodes)).await;
    }
    let cluster = view_cluster(client, "quick").await;
    assert_eq!((cluster.generation, cluster.spec.node_count.get()), (4, 6));

    for generation in [2, 3] {
        report_cluster_adapters(client, "quick", generation, COMPLETE).await;
        assert_ne!(
            view_cluster(client, "quick").await.status.phase,
            types::Phase::Ready,
            "generation {generation}"
        );
    }
    report_cluster_adapters(client, "quick", 4, COMPLETE).await;
    assert_eq!(
        view_cluster(client, "quick").await.status.phase,
        types::Phase::Ready
    );

    // A slow adapter's old news cannot overwrite newer news.
    let before = cluster_statuses(client, "quick").await;
    expect_error(
        client
            .cluster_status_report()
            .cluster("quick")
            .body(report("dns", 3, RUNNING))
            .send()
            .await,
        409,
        types::ErrorCode::StaleStatus,
    );
    let after = cluster_statuses(client, "quick").await;
    assert_eq!(after, before, "nothing stored");
    assert_eq!(
        view_cluster(client, "quick").await.status.phase,
        types::Phase::Ready
    );
}

async fn j5_delete_waits_for_finalizers_then_leaves_a_tombstone(server: TestServer) {
    let client = &server.client;
    let created = create_cluster(client, "j5").await;
    report_cluster_adapters(client, "j5", 1, COMPLETE).await;

    let deleting = delete_cluster(client, "j5").await;
    assert_eq!(
        (deleting.status.phase, deleting.generation),
        (types::Phase::Terminating, 2)
    );
    assert_eq!(
        deleting.status.message,
        "deleting: waiting for validation, dns, infrastructure to finalize"
    );

    let again = delete_cluster(client, "j5").await;
    assert_eq!(again.generation, 2, "a repeated delete bumps nothing");

    // While it terminates, nothing but finalizing reports may touch it;
    // a report must carry Finalized.
    let terminating = types::ErrorCode::ResourceTerminating;
    let update = client.cluster_update().cluster("j5").body(scale(9));
    expect_error(update.send().await, 409, terminating);
    let unfinalized = client
        .cluster_status_report()
        .cluster("j5")
        .body(report("dns", 2, COMPLETE));
    expect_error(unfinalized.send().await, 409, terminating);
    let late_pool = client
        .nodepool_create()
        .cluster("j5")
        .body(nodepool_request("late"));
    expect_error(late_pool.send().await, 409, terminating);
    let (status, _) = api_error(create_again(&server, "j5").await);
    assert_eq!(status, 409, "the name is taken while terminating");

    report_cluster_adapters(client, "j5", 2, &finalized(false)).await;
    for adapter in ["validation", "dns"] {
        report_cluster(client, "j5", report(adapter, 2, &finalized(true))).await;
    }
    let waiting = view_cluster(client, "j5").await;
    assert_eq!(waiting.status.phase, types::Phase::Terminating);
    assert_eq!(
        waiting.status.message,
        "deleting: waiting for infrastructure to finalize"
    );

    report_cluster(client, "j5", report("infrastructure", 2, &finalized(true))).await;
    expect_cluster_deleted(client, created.id).await;
    let (_, error) = api_error(client.cluster_view().cluster("j5").send().await);
    assert_eq!(error.message, "Cluster j5 not found");
    let (status, error) = api_error(
        client
            .cluster_delete()
            .cluster(created.id.to_string())
            .send()
            .await,
    );
    assert_eq!(
        (status, error.message),
        (
            404,
            format!("Cluster {} has been successfully deleted", created.id)
        )
    );
    let unknown = uuid::Uuid::new_v4();
    let (_, error) = api_error(
        client
            .cluster_view()
            .cluster(unknown.to_string())
            .send()
            .await,
    );
    assert_eq!(error.message, format!("Cluster {unknown} not found"));

    let reborn = create_again(&server, "j5")
        .await
        .expect("the name is free again")
        .into_inner();
    assert_ne!(reborn.id, created.id);
    assert_eq!(
        (reborn.generation, reborn.status.phase),
        (1, types::Phase::Pending)
    );
    assert_eq!(list_clusters(client).await.total, 1);
}

/// A create that may fail, for names that are taken or just freed.
async fn create_again(
    server: &TestServer,
    name: &str,
) -> hyperfleet_e2e::calls::SdkResult<types::Cluster> {
    server
        .client
        .cluster_create()
        .body(cluster_request(name))
        .send()
        .await
}

async fn deleting_a_cluster_cascades_to_its_node_pools(server: TestServer) {
    let client = &server.client;
    create_cluster(client, "parent").await;
    let first = create_pool(client, "parent", "first").await;
    let second = create_pool(client, "parent", "second").await;
    report_pool_adapters(client, "parent", "first", 1, COMPLETE).await;

    delete_cluster(client, "parent").await;
    for pool in ["first", "second"] {
        let pool = view_pool(client, "parent", pool).await;
        assert_eq!(
            (pool.status.phase, pool.generation),
            (types::Phase::Terminating, 2)
        );
    }

    // The cluster's adapters finalize, but the pools are still there.
    report_cluster_adapters(client, "parent", 2, &finalized(true)).await;
    assert_eq!(
        view_cluster(client, "parent").await.status.phase,
        types::Phase::Terminating
    );

    report_pool_adapters(client, "parent", "first", 2, &finalized(true)).await;
    expect_pool_deleted(client, "parent", first.id).await;
    assert_eq!(
        view_cluster(client, "parent").await.status.phase,
        types::Phase::Terminating,
        "one pool left"
    );

    // The last pool's finalizers take the cluster with them.
    report_pool_adapters(client, "parent", "second", 2, &finalized(true)).await;
    expect_cluster_deleted(client, second.cluster_id).await;
}

async fn force_deletes_only_what_is_terminating(server: TestServer) {
    let client = &server.client;
    let created = create_cluster(client, "forced").await;
    let pool = create_pool(client, "forced", "pool").await;
    let not_terminating = types::ErrorCode::ResourceNotTerminating;
    let force_cluster = client.cluster_delete().cluster("forced").force(true);
    expect_error(force_cluster.send().await, 409, not_terminating);
    let force_pool = client
        .nodepool_delete()
        .cluster("forced")
        .nodepool("pool")
        .force(true);
    expect_error(force_pool.send().await, 409, not_terminating);
    assert_eq!(
        view_cluster(client, "forced").await.status.phase,
        types::Phase::Pending,
        "untouched"
    );

    delete_cluster(client, "forced").await;
    let forced = client
        .cluster_delete()
        .cluster("forced")
        .force(true)
        .send()
        .await
        .expect("accepted");
    assert_eq!(forced.status().as_u16(), 202);
    expect_cluster_deleted(client, created.id).await;
    let (status, _) = api_error(
        client
            .nodepool_view()
            .cluster(created.id.to_string())
            .nodepool(pool.id.to_string())
            .send()
            .await,
    );
    assert_eq!(status, 404);
    let reborn = create_again(&server, "forced")
        .await
        .expect("the name is free again")
        .into_inner();
    assert!(
        list_pools(client, "forced").await.items.is_empty(),
        "{reborn:?} starts without the old pools"
    );
}

async fn j10_a_node_pool_is_scaled_and_deleted_on_its_own(server: TestServer) {
    let client = &server.client;
    create_cluster(client, "host").await;
    let pool = create_pool(client, "host", "workers").await;
    report_pool_adapters(client, "host", "workers", 1, COMPLETE).await;

    let scaled = client
        .nodepool_update()
        .cluster("host")
        .nodepool("workers")
        .body(scale_pool(8))
        .send()
        .await
        .expect("patched")
        .into_inner();
    assert_eq!((scaled.generation, scaled.spec.node_count.get()), (2, 8));
    assert_eq!(scaled.spec.machine_type, pool.spec.machine_type);
    assert_eq!(scaled.status.phase, types::Phase::NotReady);
    report_pool_adapters(client, "host", "workers", 2, COMPLETE).await;

    let deleting = client
        .nodepool_delete()
        .cluster("host")
        .nodepool("workers")
        .send()
        .await
        .expect("accepted");
    assert_eq!(deleting.status().as_u16(), 202);
    assert_eq!(deleting.into_inner().generation, 3);
    report_pool_adapters(client, "host", "workers", 3, &finalized(true)).await;
    expect_pool_deleted(client, "host", pool.id).await;

    // The cluster is not affected, and the pool name is free again.
    assert_eq!(
        view_cluster(client, "host").await.status.phase,
        types::Phase::Pending
    );
    create_pool(client, "host", "workers").await;
}
