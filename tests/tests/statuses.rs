//! Adapter status reports and phase aggregation (docs/statuses.md),
//! through the SDK: the seed's J1 steps 2-4 and J2 step 2, the condition and
//! generation rules, node pools, and many adapters reporting at once.

use std::collections::BTreeMap;

use hyperfleet_e2e::calls::{
    api_error, cluster_statuses, create_cluster, create_pool, expect_error, report_cluster,
    report_cluster_adapters, report_pool, view_cluster, view_pool,
};
use hyperfleet_e2e::fixtures::{
    CLUSTER_ADAPTERS, COMPLETE, FAILED, PENDING, RUNNING, Unknown, report,
};
use hyperfleet_e2e::http::expect_invalid;
use hyperfleet_e2e::{Backend, TestServer, on_every_backend};
use hyperfleet_sdk::types;
use serde_json::json;

on_every_backend!(
    j1_reports_move_a_cluster_from_pending_to_ready,
    j2_an_unhealthy_adapter_fails_and_the_cluster_is_not_ready,
    condition_transition_times_are_kept_while_status_holds,
    reports_above_the_generation_conflict_and_store_nothing,
    unknown_conditions_data_and_metadata_are_kept,
    malformed_reports_are_rejected,
    nul_characters_are_refused_alike,
    reports_on_missing_resources_are_not_found,
    node_pools_aggregate_their_own_adapters,
    fifty_adapters_reporting_at_once_lose_nothing,
);

fn phases(list: &types::AdapterStatusList) -> Vec<(String, types::AdapterPhase)> {
    list.statuses
        .iter()
        .map(|s| (s.adapter_name.clone(), s.phase))
        .collect()
}

async fn j1_reports_move_a_cluster_from_pending_to_ready(server: TestServer) {
    let created = create_cluster(&server.client, "my-test-cluster").await;
    let before = cluster_statuses(&server.client, "my-test-cluster").await;
    assert_eq!(before.phase, types::Phase::Pending);
    assert!(before.statuses.is_empty());
    assert_eq!(before.pending_adapters, CLUSTER_ADAPTERS);

    let validation = report_cluster(
        &server.client,
        "my-test-cluster",
        report("validation", 1, COMPLETE),
    )
    .await;
    assert_eq!(validation.phase, types::AdapterPhase::Complete);
    assert_eq!(validation.cluster_id, created.id);
    assert_eq!(validation.nodepool_id, None);
    assert_eq!(
        validation.message, "Available is True",
        "the deciding condition's message"
    );
    report_cluster(&server.client, "my-test-cluster", report("dns", 1, RUNNING)).await;
    report_cluster(
        &server.client,
        "my-test-cluster",
        report("infrastructure", 1, PENDING),
    )
    .await;

    let cluster = view_cluster(&server.client, "my-test-cluster").await;
    assert_eq!(cluster.status.phase, types::Phase::NotReady);
    assert_eq!(cluster.status.message, "waiting for dns, infrastructure");
    assert!(
        cluster.updated_at > created.updated_at,
        "reports move updated_at"
    );
    let not_ready_since = cluster.status.last_transition_time;
    assert!(not_ready_since > created.status.last_transition_time);

    let list = cluster_statuses(&server.client, "my-test-cluster").await;
    assert_eq!(
        (list.cluster_id, list.generation, list.phase),
        (created.id, 1, types::Phase::NotReady)
    );
    assert!(list.pending_adapters.is_empty());
    assert_eq!(
        phases(&list),
        [
            ("dns".to_string(), types::AdapterPhase::Running),
            ("infrastructure".to_string(), types::AdapterPhase::Pending),
            ("validation".to_string(), types::AdapterPhase::Complete),
        ]
    );
    for status in &list.statuses {
        assert_eq!(status.observed_generation, 1);
        assert_eq!(status.conditions.len(), 3);
        assert!(status.created_at <= status.updated_at);
    }

    for adapter in ["dns", "infrastructure"] {
        report_cluster(
            &server.client,
            "my-test-cluster",
            report(adapter, 1, COMPLETE),
        )
        .await;
    }
    let ready = view_cluster(&server.client, "my-test-cluster").await;
    assert_eq!(ready.status.phase, types::Phase::Ready);
    assert_eq!(ready.status.message, "all required adapters are complete");
    assert!(ready.status.last_transition_time > not_ready_since);
    assert_eq!(
        cluster_statuses(&server.client, "my-test-cluster")
            .await
            .phase,
        types::Phase::Ready
    );
}

async fn j2_an_unhealthy_adapter_fails_and_the_cluster_is_not_ready(server: TestServer) {
    create_cluster(&server.client, "flaky").await;
    report_cluster_adapters(&server.client, "flaky", 1, COMPLETE).await;
    assert_eq!(
        view_cluster(&server.client, "flaky").await.status.phase,
        types::Phase::Ready
    );

    let failed = report_cluster(&server.client, "flaky", report("infrastructure", 1, FAILED)).await;
    assert_eq!(failed.phase, types::AdapterPhase::Failed);
    assert_eq!(failed.message, "Health is False");
    let cluster = view_cluster(&server.client, "flaky").await;
    assert_eq!(cluster.status.phase, types::Phase::NotReady);
    assert_eq!(
        cluster.status.message,
        "waiting for infrastructure (Failed)"
    );

    // Recovery: a healthy report makes it Ready again.
    report_cluster(
        &server.client,
        "flaky",
        report("infrastructure", 1, COMPLETE),
    )
    .await;
    assert_eq!(
        view_cluster(&server.client, "flaky").await.status.phase,
        types::Phase::Ready
    );
}

async fn condition_transition_times_are_kept_while_status_holds(server: TestServer) {
    create_cluster(&server.client, "steady").await;
    let first = report_cluster(&server.client, "steady", report("dns", 1, RUNNING)).await;
    let again = report_cluster(&server.client, "steady", report("dns", 1, RUNNING)).await;
    let time_of = |status: &types::AdapterStatus, kind: &str| {
        status
            .conditions
            .iter()
            .find(|c| c.type_ == kind)
            .map(|c| c.last_transition_time)
    };
    assert_eq!(time_of(&again, "Applied"), time_of(&first, "Applied"));
    assert_eq!(time_of(&again, "Available"), time_of(&first, "Available"));
    assert_eq!(
        again.last_transition_time, first.last_transition_time,
        "phase unchanged"
    );
    assert!(again.updated_at > first.updated_at);

    let done = report_cluster(&server.client, "steady", report("dns", 1, COMPLETE)).await;
    assert_eq!(
        time_of(&done, "Applied"),
        time_of(&first, "Applied"),
        "Applied stayed True"
    );
    assert!(
        time_of(&done, "Available") > time_of(&first, "Available"),
        "Available flipped"
    );
    assert!(
        done.last_transition_time > first.last_transition_time,
        "Running -> Complete"
    );
    assert_eq!(done.created_at, first.created_at);
}

async fn reports_above_the_generation_conflict_and_store_nothing(server: TestServer) {
    let cluster = create_cluster(&server.client, "gen-one").await;
    expect_error(
        server
            .client
            .cluster_status_report()
            .cluster("gen-one")
            .body(report("dns", 2, COMPLETE))
            .send()
            .await,
        409,
        types::ErrorCode::GenerationConflict,
    );
    let list = cluster_statuses(&server.client, "gen-one").await;
    assert!(list.statuses.is_empty(), "nothing stored");
    assert_eq!(
        view_cluster(&server.client, "gen-one").await,
        cluster,
        "the cluster is untouched"
    );
}

async fn unknown_conditions_data_and_metadata_are_kept(server: TestServer) {
    create_cluster(&server.client, "rich").await;
    let mut conditions = COMPLETE.to_vec();
    conditions.push(("Progressing", Unknown));
    let data: serde_json::Map<String, serde_json::Value> =
        json!({"recordsCreated": ["a.example.com"], "nested": {"n": 1}})
            .as_object()
            .cloned()
            .unwrap_or_default();
    let metadata: serde_json::Map<String, serde_json::Value> = json!({"jobName": "dns-1"})
        .as_object()
        .cloned()
        .unwrap_or_default();
    let body = report("dns", 1, &conditions)
        .data(data.clone())
        .metadata(metadata.clone())
        .message(Some(
            "all records created".try_into().expect("a valid message"),
        ));
    let stored = report_cluster(&server.client, "rich", body).await;
    assert_eq!(stored.message, "all records created");
    let listed = cluster_statuses(&server.client, "rich")
        .await
        .statuses
        .remove(0);
    assert_eq!(listed, stored);
    assert_eq!(listed.data, data);
    assert_eq!(listed.metadata, metadata);
    let kinds: Vec<&str> = listed.conditions.iter().map(|c| c.type_.as_str()).collect();
    assert_eq!(kinds, ["Applied", "Available", "Health", "Progressing"]);
    assert_eq!(listed.conditions[3].status, Unknown);
}

async fn malformed_reports_are_rejected(server: TestServer) {
    create_cluster(&server.client, "strict").await;
    let path = "/api/hyperfleet/v1/clusters/strict/statuses";
    let good = json!({
        "adapter": "dns", "observed_generation": 1,
        "conditions": [
            {"type": "Applied", "status": "True"},
            {"type": "Available", "status": "False"},
            {"type": "Health", "status": "True"}
        ]
    });
    let with = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut body = good.clone();
        edit(&mut body);
        body
    };
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (
            with(&|b| _ = b["conditions"].as_array_mut().map(|c| c.pop())),
            "conditions",
        ),
        (
            with(&|b| b["conditions"][0]["status"] = json!("Maybe")),
            "conditions[0].status",
        ),
        (
            with(&|b| b["conditions"][1]["type"] = json!("Applied")),
            "conditions[1].type",
        ),
        (
            with(&|b| b["conditions"][0]["colour"] = json!("red")),
            "conditions[0].colour",
        ),
        (with(&|b| b["adapter"] = json!("DNS")), "adapter"),
        (
            with(&|b| b["observed_generation"] = json!(0)),
            "observed_generation",
        ),
        (
            with(&|b| b["observed_generation"] = json!("one")),
            "observed_generation",
        ),
        (with(&|b| b["data"] = json!([1, 2])), "data"),
        (with(&|b| b["extra"] = json!(1)), "extra"),
    ];
    for (body, field) in cases {
        expect_invalid(&server, reqwest::Method::PUT, path, &body, field).await;
    }
    let response = server
        .http()
        .put(server.url(path))
        .json(&good)
        .send()
        .await
        .expect("answered");
    assert_eq!(
        response.status().as_u16(),
        200,
        "the unedited report is fine"
    );
}

/// NUL (U+0000) in any string a report or resource carries is 400
/// `ValidationFailed` naming the field, on both backends alike
/// (PostgreSQL cannot store it and answered 500), and nothing is
/// stored.
async fn nul_characters_are_refused_alike(server: TestServer) {
    create_cluster(&server.client, "nul").await;
    let path = "/api/hyperfleet/v1/clusters/nul/statuses";
    let good = json!({
        "adapter": "dns", "observed_generation": 1,
        "conditions": [
            {"type": "Applied", "status": "True", "reason": "Done", "message": "ok"},
            {"type": "Available", "status": "False"},
            {"type": "Health", "status": "True"}
        ],
        "data": {"deep": {"list": [1, "x", {"k": "v"}]}},
        "metadata": {"a": ["b"]},
        "message": "fine"
    });
    let with = |edit: &dyn Fn(&mut serde_json::Value)| {
        let mut body = good.clone();
        edit(&mut body);
        body
    };
    let cases: Vec<(serde_json::Value, &str)> = vec![
        (with(&|b| b["message"] = json!("a\u{0}b")), "message"),
        (
            with(&|b| b["conditions"][0]["reason"] = json!("\u{0}")),
            "conditions[0].reason",
        ),
        (
            with(&|b| b["conditions"][0]["message"] = json!("x\u{0}")),
            "conditions[0].message",
        ),
        (
            with(&|b| b["data"]["deep"]["list"][2]["k"] = json!("v\u{0}")),
            "data.deep.list[2].k",
        ),
        (with(&|b| b["data"]["key\u{0}"] = json!(1)), "data.key\\0"),
        (
            with(&|b| b["metadata"]["a"][0] = json!("\u{0}")),
            "metadata.a[0]",
        ),
    ];
    for (body, field) in cases {
        expect_invalid(&server, reqwest::Method::PUT, path, &body, field).await;
    }
    assert!(
        cluster_statuses(&server.client, "nul")
            .await
            .statuses
            .is_empty(),
        "no refused report was stored"
    );

    // Names and labels already allow only a few ASCII characters; NUL in
    // them is refused by those rules before any backend sees it.
    let clusters = "/api/hyperfleet/v1/clusters";
    let create = json!({
        "name": "a\u{0}b",
        "spec": {"provider": "gcp", "region": "us-east1", "nodeCount": 1},
        "labels": {"env": "x\u{0}"}
    });
    expect_invalid(&server, reqwest::Method::POST, clusters, &create, "name").await;
    expect_invalid(
        &server,
        reqwest::Method::POST,
        clusters,
        &create,
        "labels.env",
    )
    .await;
    let patch = json!({"labels": {"env": "x\u{0}"}});
    expect_invalid(
        &server,
        reqwest::Method::PATCH,
        &format!("{clusters}/nul"),
        &patch,
        "labels.env",
    )
    .await;
    // In a path or a filter it is a 400 or 404 too, never a 500.
    for query in [
        format!("{clusters}/a%00b"),
        format!("{clusters}?labels=env%3Da%00b"),
        format!("{clusters}/nul/nodepools?labels=a%00%3Db"),
    ] {
        let status = hyperfleet_e2e::http::get(&server, &query)
            .await
            .status()
            .as_u16();
        assert!(matches!(status, 400 | 404), "{query}: {status}");
    }

    let response = server
        .http()
        .put(server.url(path))
        .json(&good)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status().as_u16(), 200, "the clean report is fine");
}

async fn reports_on_missing_resources_are_not_found(server: TestServer) {
    let client = &server.client;
    let on_ghost = client.cluster_status_report().cluster("ghost");
    let not_found = types::ErrorCode::ClusterNotFound;
    expect_error(
        on_ghost.body(report("dns", 1, COMPLETE)).send().await,
        404,
        not_found,
    );
    let (status, _) = api_error(client.cluster_status_list().cluster("ghost").send().await);
    assert_eq!(status, 404);
    create_cluster(client, "real").await;
    let on_ghost_pool = client
        .nodepool_status_report()
        .cluster("real")
        .nodepool("ghost");
    expect_error(
        on_ghost_pool.body(report("dns", 1, COMPLETE)).send().await,
        404,
        types::ErrorCode::NodePoolNotFound,
    );
}

async fn node_pools_aggregate_their_own_adapters(server: TestServer) {
    let client = &server.client;
    let cluster = create_cluster(client, "with-pool").await;
    let pool = create_pool(client, "with-pool", "workers").await;
    let validation = report_pool(
        client,
        "with-pool",
        "workers",
        report("validation", 1, COMPLETE),
    )
    .await;
    assert_eq!(validation.nodepool_id, Some(pool.id));
    assert_eq!(validation.cluster_id, cluster.id);
    let half = view_pool(client, "with-pool", "workers").await;
    assert_eq!(half.status.phase, types::Phase::NotReady);
    assert_eq!(half.status.message, "waiting for infrastructure");

    let infrastructure = report("infrastructure", 1, COMPLETE);
    report_pool(client, "with-pool", "workers", infrastructure).await;
    let ready = view_pool(client, "with-pool", "workers").await;
    assert_eq!(ready.status.phase, types::Phase::Ready);

    let list = server
        .client
        .nodepool_status_list()
        .cluster(cluster.id.to_string())
        .nodepool(pool.id.to_string())
        .send()
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(
        (list.nodepool_id, list.phase),
        (Some(pool.id), types::Phase::Ready)
    );
    assert_eq!(list.statuses.len(), 2);
    // The cluster's own statuses are separate.
    assert!(
        cluster_statuses(&server.client, "with-pool")
            .await
            .statuses
            .is_empty()
    );
    assert_eq!(
        view_cluster(&server.client, "with-pool").await.status.phase,
        types::Phase::Pending
    );
}

async fn fifty_adapters_reporting_at_once_lose_nothing(server: TestServer) {
    create_cluster(&server.client, "busy").await;
    let adapters: Vec<String> = CLUSTER_ADAPTERS
        .into_iter()
        .map(String::from)
        .chain((3..50).map(|i| format!("adapter-{i}")))
        .collect();
    let tasks: Vec<_> = adapters
        .iter()
        .cloned()
        .map(|adapter| {
            let client = server.client.clone();
            tokio::spawn(async move {
                for seq in 0..20 {
                    let conditions = if seq == 19 {
                        COMPLETE
                    } else if seq % 2 == 0 {
                        RUNNING
                    } else {
                        FAILED
                    };
                    let data = json!({"seq": seq}).as_object().cloned().unwrap_or_default();
                    let body = report(&adapter, 1, conditions).data(data).message(Some(
                        format!("report {seq}").try_into().expect("a valid message"),
                    ));
                    client
                        .cluster_status_report()
                        .cluster("busy")
                        .body(body)
                        .send()
                        .await?;
                }
                Ok::<_, hyperfleet_sdk::Error<types::Error>>(())
            })
        })
        .collect();
    for task in tasks {
        task.await
            .expect("no panic")
            .expect("every report accepted");
    }
    let list = cluster_statuses(&server.client, "busy").await;
    assert_eq!(list.statuses.len(), 50);
    let last: BTreeMap<&str, (&str, Option<&serde_json::Value>, types::AdapterPhase)> = list
        .statuses
        .iter()
        .map(|s| {
            (
                s.adapter_name.as_str(),
                (s.message.as_str(), s.data.get("seq"), s.phase),
            )
        })
        .collect();
    for adapter in &adapters {
        assert_eq!(
            last.get(adapter.as_str()),
            Some(&("report 19", Some(&json!(19)), types::AdapterPhase::Complete)),
            "{adapter} kept its last report"
        );
    }
    assert_eq!(list.phase, types::Phase::Ready);
    assert_eq!(
        view_cluster(&server.client, "busy").await.status.phase,
        types::Phase::Ready
    );
}

#[tokio::test]
async fn with_no_required_adapters_resources_are_ready_at_once() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(server) = TestServer::start_with(backend, Vec::new(), Vec::new()).await else {
            continue;
        };
        let cluster = create_cluster(&server.client, "instant").await;
        assert_eq!(cluster.status.phase, types::Phase::Ready, "{backend:?}");
        assert_eq!(cluster.status.message, "no adapters are required");
        let pool = create_pool(&server.client, "instant", "pool").await;
        assert_eq!(pool.status.phase, types::Phase::Ready);
        assert!(
            cluster_statuses(&server.client, "instant")
                .await
                .pending_adapters
                .is_empty()
        );
    }
}
