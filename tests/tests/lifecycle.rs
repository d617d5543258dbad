//! Updates and deletes (DESIGN.md section 5) through the SDK: the seed's
//! J4, J5, J9 and J10, cascades to node pools, tombstones, force deletes,
//! and generations racing ahead of adapters.

use std::collections::BTreeMap;

use hyperfleet_e2e::{
    COMPLETE, False, RUNNING, TestServer, True, api_error, cluster_request, nodepool_request,
    on_every_backend, report,
};
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

const CLUSTER_ADAPTERS: [&str; 3] = ["validation", "dns", "infrastructure"];
const NODEPOOL_ADAPTERS: [&str; 2] = ["validation", "infrastructure"];

fn finalized(done: bool) -> Vec<(&'static str, types::ConditionStatus)> {
    let mut conditions = COMPLETE.to_vec();
    conditions.push(("Finalized", if done { True } else { False }));
    conditions
}

async fn create(server: &TestServer, name: &str) -> types::Cluster {
    server
        .client
        .cluster_create()
        .body(cluster_request(name))
        .send()
        .await
        .expect("created")
        .into_inner()
}

async fn create_pool(server: &TestServer, cluster: &str, name: &str) -> types::NodePool {
    server
        .client
        .nodepool_create()
        .cluster(cluster)
        .body(nodepool_request(name))
        .send()
        .await
        .expect("created")
        .into_inner()
}

async fn view(server: &TestServer, cluster: &str) -> types::Cluster {
    server
        .client
        .cluster_view()
        .cluster(cluster)
        .send()
        .await
        .expect("found")
        .into_inner()
}

async fn report_all(
    server: &TestServer,
    cluster: &str,
    generation: u64,
    conditions: &[(&str, types::ConditionStatus)],
) {
    for adapter in CLUSTER_ADAPTERS {
        server
            .client
            .cluster_status_report()
            .cluster(cluster)
            .body(report(adapter, generation, conditions))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{adapter} at {generation}: {e}"));
    }
}

async fn report_pool(
    server: &TestServer,
    cluster: &str,
    pool: &str,
    generation: u64,
    conditions: &[(&str, types::ConditionStatus)],
) {
    for adapter in NODEPOOL_ADAPTERS {
        server
            .client
            .nodepool_status_report()
            .cluster(cluster)
            .nodepool(pool)
            .body(report(adapter, generation, conditions))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{adapter} at {generation}: {e}"));
    }
}

fn scale(nodes: u32) -> types::builder::ClusterPatch {
    types::ClusterPatch::builder().spec(Some(
        types::ClusterSpecPatch::builder()
            .node_count(Some(nodes.try_into().expect("nonzero")))
            .try_into()
            .expect("valid"),
    ))
}

async fn patch(
    server: &TestServer,
    cluster: &str,
    body: types::builder::ClusterPatch,
) -> types::Cluster {
    server
        .client
        .cluster_update()
        .cluster(cluster)
        .body(body)
        .send()
        .await
        .expect("patched")
        .into_inner()
}

async fn j4_a_patch_waits_for_adapters_at_the_new_generation(server: TestServer) {
    create(&server, "j4").await;
    report_all(&server, "j4", 1, COMPLETE).await;
    let ready = view(&server, "j4").await;
    assert_eq!(ready.status.phase, types::Phase::Ready);

    let patched = patch(&server, "j4", scale(5)).await;
    assert_eq!(patched.generation, 2);
    assert_eq!(patched.spec.node_count.get(), 5);
    assert_eq!(patched.status.phase, types::Phase::NotReady);
    assert_eq!(
        patched.status.message,
        "waiting for validation, dns, infrastructure"
    );
    assert!(patched.status.last_transition_time > ready.status.last_transition_time);
    assert_eq!(view(&server, "j4").await, patched);

    let statuses = server
        .client
        .cluster_status_list()
        .cluster("j4")
        .send()
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(statuses.generation, 2);
    assert!(
        statuses
            .statuses
            .iter()
            .all(|s| s.phase == types::AdapterPhase::Pending),
        "reports of generation 1 no longer count"
    );

    report_all(&server, "j4", 2, COMPLETE).await;
    let again = view(&server, "j4").await;
    assert_eq!(
        (again.status.phase, again.generation),
        (types::Phase::Ready, 2)
    );
}

async fn j9_a_partial_spec_keeps_the_other_fields(server: TestServer) {
    let created = create(&server, "j9").await;
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
    let patched = patch(&server, "j9", body).await;
    assert_eq!(patched.spec.region.as_str(), "us-west1");
    assert_eq!(patched.spec.provider, created.spec.provider);
    assert_eq!(patched.spec.node_count, created.spec.node_count);
    let labels: BTreeMap<String, String> = [("environment", "production"), ("tier", "gold")]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
    assert_eq!(patched.labels, labels);
    assert_eq!(patched.generation, 2);
    // Nobody has reported yet, so it is still Pending, not Not Ready.
    assert_eq!(patched.status.phase, types::Phase::Pending);
    assert_eq!(patched.name, created.name);
}

async fn patches_that_change_nothing_bump_nothing(server: TestServer) {
    let created = create(&server, "same").await;
    let body = types::ClusterPatch::builder()
        .spec(Some(
            types::ClusterSpecPatch::builder()
                .node_count(Some(3.try_into().expect("nonzero")))
                .try_into()
                .expect("valid"),
        ))
        .labels(BTreeMap::from([(
            "environment".to_string(),
            Some("production".to_string()),
        )]));
    assert_eq!(patch(&server, "same", body).await, created);
    assert_eq!(
        patch(&server, "same", types::ClusterPatch::builder()).await,
        created
    );
    assert_eq!(view(&server, "same").await, created);
}

async fn bad_patches_are_rejected(server: TestServer) {
    let created = create(&server, "guarded").await;
    let url = server.url("/api/hyperfleet/v1/clusters/guarded");
    for (body, field) in [
        (json!({"name": "renamed"}), "name"),
        (json!({"colour": "red"}), "colour"),
        (json!({"spec": {"nodeCount": 0}}), "spec.nodeCount"),
        (json!({"spec": {"nodeCount": null}}), "spec.nodeCount"),
        (json!({"spec": {"zones": 2}}), "spec.zones"),
        (json!({"labels": {"bad key": "x"}}), "labels.bad key"),
    ] {
        let response = server
            .http()
            .patch(&url)
            .json(&body)
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status().as_u16(), 400, "{body}");
        let error: types::Error = response.json().await.expect("the error shape");
        assert_eq!(error.error, types::ErrorCode::ValidationFailed, "{body}");
        assert!(
            error.details.iter().any(|d| d.field == field),
            "{body}: {:?}",
            error.details
        );
    }
    assert_eq!(view(&server, "guarded").await, created, "nothing changed");
    let (status, error) = api_error(
        server
            .client
            .cluster_update()
            .cluster("ghost")
            .body(scale(2))
            .send()
            .await,
    );
    assert_eq!(
        (status, error.error),
        (404, types::ErrorCode::ClusterNotFound)
    );
}

async fn three_quick_patches_need_reports_at_generation_four(server: TestServer) {
    create(&server, "quick").await;
    for nodes in [4, 5, 6] {
        patch(&server, "quick", scale(nodes)).await;
    }
    let cluster = view(&server, "quick").await;
    assert_eq!((cluster.generation, cluster.spec.node_count.get()), (4, 6));

    for generation in [2, 3] {
        report_all(&server, "quick", generation, COMPLETE).await;
        assert_ne!(
            view(&server, "quick").await.status.phase,
            types::Phase::Ready,
            "generation {generation}"
        );
    }
    report_all(&server, "quick", 4, COMPLETE).await;
    assert_eq!(
        view(&server, "quick").await.status.phase,
        types::Phase::Ready
    );

    // A slow adapter's old news cannot overwrite newer news.
    let before = server
        .client
        .cluster_status_list()
        .cluster("quick")
        .send()
        .await
        .expect("listed")
        .into_inner();
    let (status, error) = api_error(
        server
            .client
            .cluster_status_report()
            .cluster("quick")
            .body(report("dns", 3, RUNNING))
            .send()
            .await,
    );
    assert_eq!((status, error.error), (409, types::ErrorCode::StaleStatus));
    let after = server
        .client
        .cluster_status_list()
        .cluster("quick")
        .send()
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(after, before, "nothing stored");
    assert_eq!(
        view(&server, "quick").await.status.phase,
        types::Phase::Ready
    );
}

async fn j5_delete_waits_for_finalizers_then_leaves_a_tombstone(server: TestServer) {
    let created = create(&server, "j5").await;
    report_all(&server, "j5", 1, COMPLETE).await;

    let deleting = server
        .client
        .cluster_delete()
        .cluster("j5")
        .send()
        .await
        .expect("accepted");
    assert_eq!(deleting.status().as_u16(), 202);
    let deleting = deleting.into_inner();
    assert_eq!(
        (deleting.status.phase, deleting.generation),
        (types::Phase::Terminating, 2)
    );
    assert_eq!(
        deleting.status.message,
        "deleting: waiting for validation, dns, infrastructure to finalize"
    );

    let again = server
        .client
        .cluster_delete()
        .cluster("j5")
        .send()
        .await
        .expect("accepted");
    assert_eq!(again.status().as_u16(), 202);
    assert_eq!(
        again.into_inner().generation,
        2,
        "a repeated delete bumps nothing"
    );

    let (status, error) = api_error(
        server
            .client
            .cluster_update()
            .cluster("j5")
            .body(scale(9))
            .send()
            .await,
    );
    assert_eq!(
        (status, error.error),
        (409, types::ErrorCode::ResourceTerminating)
    );
    let (status, error) = api_error(
        server
            .client
            .cluster_status_report()
            .cluster("j5")
            .body(report("dns", 2, COMPLETE))
            .send()
            .await,
    );
    assert_eq!(
        (status, error.error),
        (409, types::ErrorCode::ResourceTerminating),
        "reports must carry Finalized"
    );
    let (status, error) = api_error(
        server
            .client
            .nodepool_create()
            .cluster("j5")
            .body(nodepool_request("late"))
            .send()
            .await,
    );
    assert_eq!(
        (status, error.error),
        (409, types::ErrorCode::ResourceTerminating)
    );
    let (status, _) = api_error(create_again(&server, "j5").await);
    assert_eq!(status, 409, "the name is taken while terminating");

    report_all(&server, "j5", 2, &finalized(false)).await;
    for adapter in ["validation", "dns"] {
        server
            .client
            .cluster_status_report()
            .cluster("j5")
            .body(report(adapter, 2, &finalized(true)))
            .send()
            .await
            .expect("accepted");
    }
    let waiting = view(&server, "j5").await;
    assert_eq!(waiting.status.phase, types::Phase::Terminating);
    assert_eq!(
        waiting.status.message,
        "deleting: waiting for infrastructure to finalize"
    );

    server
        .client
        .cluster_status_report()
        .cluster("j5")
        .body(report("infrastructure", 2, &finalized(true)))
        .send()
        .await
        .expect("accepted");
    let (status, error) = api_error(
        server
            .client
            .cluster_view()
            .cluster(created.id.to_string())
            .send()
            .await,
    );
    assert_eq!(
        (status, error.error),
        (404, types::ErrorCode::ClusterNotFound)
    );
    assert_eq!(
        error.message,
        format!("Cluster {} has been successfully deleted", created.id)
    );
    let (_, error) = api_error(server.client.cluster_view().cluster("j5").send().await);
    assert_eq!(error.message, "Cluster j5 not found");
    let (status, error) = api_error(
        server
            .client
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
        server
            .client
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
    let list = server
        .client
        .cluster_list()
        .send()
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(list.total, 1);
}

async fn create_again(
    server: &TestServer,
    name: &str,
) -> Result<hyperfleet_sdk::ResponseValue<types::Cluster>, hyperfleet_sdk::Error<types::Error>> {
    server
        .client
        .cluster_create()
        .body(cluster_request(name))
        .send()
        .await
}

async fn deleting_a_cluster_cascades_to_its_node_pools(server: TestServer) {
    create(&server, "parent").await;
    let first = create_pool(&server, "parent", "first").await;
    let second = create_pool(&server, "parent", "second").await;
    report_pool(&server, "parent", "first", 1, COMPLETE).await;

    server
        .client
        .cluster_delete()
        .cluster("parent")
        .send()
        .await
        .expect("accepted");
    for pool in ["first", "second"] {
        let pool = server
            .client
            .nodepool_view()
            .cluster("parent")
            .nodepool(pool)
            .send()
            .await
            .expect("found")
            .into_inner();
        assert_eq!(
            (pool.status.phase, pool.generation),
            (types::Phase::Terminating, 2)
        );
    }

    // The cluster's adapters finalize, but the pools are still there.
    report_all(&server, "parent", 2, &finalized(true)).await;
    assert_eq!(
        view(&server, "parent").await.status.phase,
        types::Phase::Terminating
    );

    report_pool(&server, "parent", "first", 2, &finalized(true)).await;
    let (status, error) = api_error(
        server
            .client
            .nodepool_view()
            .cluster("parent")
            .nodepool(first.id.to_string())
            .send()
            .await,
    );
    assert_eq!(
        (status, error.error),
        (404, types::ErrorCode::NodePoolNotFound)
    );
    assert_eq!(
        error.message,
        format!("NodePool {} has been successfully deleted", first.id)
    );
    assert_eq!(
        view(&server, "parent").await.status.phase,
        types::Phase::Terminating,
        "one pool left"
    );

    // The last pool's finalizers take the cluster with them.
    report_pool(&server, "parent", "second", 2, &finalized(true)).await;
    let (status, error) = api_error(
        server
            .client
            .cluster_view()
            .cluster(second.cluster_id.to_string())
            .send()
            .await,
    );
    assert_eq!(status, 404);
    assert_eq!(
        error.message,
        format!(
            "Cluster {} has been successfully deleted",
            second.cluster_id
        )
    );
}

async fn force_deletes_only_what_is_terminating(server: TestServer) {
    let created = create(&server, "forced").await;
    let pool = create_pool(&server, "forced", "pool").await;
    let (status, error) = api_error(
        server
            .client
            .cluster_delete()
            .cluster("forced")
            .force(true)
            .send()
            .await,
    );
    assert_eq!(
        (status, error.error),
        (409, types::ErrorCode::ResourceNotTerminating)
    );
    let (status, error) = api_error(
        server
            .client
            .nodepool_delete()
            .cluster("forced")
            .nodepool("pool")
            .force(true)
            .send()
            .await,
    );
    assert_eq!(
        (status, error.error),
        (409, types::ErrorCode::ResourceNotTerminating)
    );
    assert_eq!(
        view(&server, "forced").await.status.phase,
        types::Phase::Pending,
        "untouched"
    );

    server
        .client
        .cluster_delete()
        .cluster("forced")
        .send()
        .await
        .expect("accepted");
    let forced = server
        .client
        .cluster_delete()
        .cluster("forced")
        .force(true)
        .send()
        .await
        .expect("accepted");
    assert_eq!(forced.status().as_u16(), 202);
    let (_, error) = api_error(
        server
            .client
            .cluster_view()
            .cluster(created.id.to_string())
            .send()
            .await,
    );
    assert_eq!(
        error.message,
        format!("Cluster {} has been successfully deleted", created.id)
    );
    let (status, _) = api_error(
        server
            .client
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
        server
            .client
            .nodepool_list()
            .cluster("forced")
            .send()
            .await
            .expect("listed")
            .into_inner()
            .items
            .is_empty(),
        "{reborn:?} starts without the old pools"
    );
}

async fn j10_a_node_pool_is_scaled_and_deleted_on_its_own(server: TestServer) {
    create(&server, "host").await;
    let pool = create_pool(&server, "host", "workers").await;
    report_pool(&server, "host", "workers", 1, COMPLETE).await;

    let scaled = server
        .client
        .nodepool_update()
        .cluster("host")
        .nodepool("workers")
        .body(
            types::NodePoolPatch::builder().spec(Some(
                types::NodePoolSpecPatch::builder()
                    .node_count(Some(8.try_into().expect("nonzero")))
                    .try_into()
                    .expect("valid"),
            )),
        )
        .send()
        .await
        .expect("patched")
        .into_inner();
    assert_eq!((scaled.generation, scaled.spec.node_count.get()), (2, 8));
    assert_eq!(scaled.spec.machine_type, pool.spec.machine_type);
    assert_eq!(scaled.status.phase, types::Phase::NotReady);
    report_pool(&server, "host", "workers", 2, COMPLETE).await;

    let deleting = server
        .client
        .nodepool_delete()
        .cluster("host")
        .nodepool("workers")
        .send()
        .await
        .expect("accepted");
    assert_eq!(deleting.status().as_u16(), 202);
    assert_eq!(deleting.into_inner().generation, 3);
    report_pool(&server, "host", "workers", 3, &finalized(true)).await;
    let (status, error) = api_error(
        server
            .client
            .nodepool_view()
            .cluster("host")
            .nodepool(pool.id.to_string())
            .send()
            .await,
    );
    assert_eq!(
        (status, error.message),
        (
            404,
            format!("NodePool {} has been successfully deleted", pool.id)
        )
    );

    // The cluster is not affected, and the pool name is free again.
    assert_eq!(
        view(&server, "host").await.status.phase,
        types::Phase::Pending
    );
    create_pool(&server, "host", "workers").await;
}
