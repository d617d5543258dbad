//! Adapter order (docs/statuses.md#adapter-order), through the SDK on both
//! backends: GET statuses says who waits for whom (`waiting`), and the
//! control loop of `hyperfleet dev` (the reference adapters on the adapter
//! kit, the sentinel, the in-process bus) completes validation before dns
//! before infrastructure, and finalizes in reverse on delete.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hyperfleet_control_loop::local::{LocalConfig, LocalLoop};
use hyperfleet_control_loop::reference_adapters::Simulation;
use hyperfleet_control_loop::sentinel::SentinelConfig;
use hyperfleet_e2e::calls::{
    cluster_statuses, create_cluster, create_pool, delete_cluster, patch_cluster, report_cluster,
};
use hyperfleet_e2e::fixtures::{COMPLETE, RUNNING, finalized, report, scale};
use hyperfleet_e2e::wait::wait_for_phase;
use hyperfleet_e2e::{TestServer, on_every_backend};
use hyperfleet_sdk::types;

on_every_backend!(
    waiting_names_what_each_adapter_waits_for,
    the_loop_completes_in_order_and_finalizes_in_reverse,
);

/// `(adapter, waiting_for, message)` of each waiting adapter.
fn waiting(list: &types::AdapterStatusList) -> Vec<(String, String, String)> {
    list.waiting
        .iter()
        .map(|w| {
            (
                w.adapter.clone(),
                w.waiting_for.join(","),
                w.message.clone(),
            )
        })
        .collect()
}

fn row(adapter: &str, waiting_for: &str, message: &str) -> (String, String, String) {
    (adapter.into(), waiting_for.into(), message.into())
}

async fn waiting_names_what_each_adapter_waits_for(server: TestServer) {
    let client = &server.client;
    create_cluster(client, "ordered").await;
    let fresh = cluster_statuses(client, "ordered").await;
    assert_eq!(
        waiting(&fresh),
        [
            row("dns", "validation", "Waiting for validation to complete"),
            row(
                "infrastructure",
                "validation,dns",
                "Waiting for validation and dns to complete"
            ),
        ]
    );
    // pending_adapters keeps its meaning: never reported.
    assert_eq!(
        fresh.pending_adapters,
        ["validation", "dns", "infrastructure"]
    );

    // Running is not complete: nothing moves.
    report_cluster(client, "ordered", report("validation", 1, RUNNING)).await;
    assert_eq!(
        waiting(&cluster_statuses(client, "ordered").await),
        waiting(&fresh)
    );
    report_cluster(client, "ordered", report("validation", 1, COMPLETE)).await;
    assert_eq!(
        waiting(&cluster_statuses(client, "ordered").await),
        [row("infrastructure", "dns", "Waiting for dns to complete")]
    );
    report_cluster(client, "ordered", report("dns", 1, COMPLETE)).await;
    assert!(cluster_statuses(client, "ordered").await.waiting.is_empty());

    // A new generation starts the order again.
    report_cluster(client, "ordered", report("infrastructure", 1, COMPLETE)).await;
    patch_cluster(client, "ordered", scale(6)).await;
    let patched = cluster_statuses(client, "ordered").await;
    assert_eq!(
        waiting(&patched),
        waiting(&fresh),
        "everyone is back to waiting"
    );
    assert!(
        patched.pending_adapters.is_empty(),
        "all have reported once"
    );

    // Node pools have their own order.
    create_pool(client, "ordered", "pool").await;
    let pool = client
        .nodepool_status_list()
        .cluster("ordered")
        .nodepool("pool")
        .send()
        .await
        .expect("pool statuses")
        .into_inner();
    assert_eq!(
        waiting(&pool),
        [row(
            "infrastructure",
            "validation",
            "Waiting for validation to complete"
        )]
    );

    // Deletion runs the order in reverse: infrastructure finalizes first.
    create_cluster(client, "leaving").await;
    for adapter in ["validation", "dns", "infrastructure"] {
        report_cluster(client, "leaving", report(adapter, 1, COMPLETE)).await;
    }
    delete_cluster(client, "leaving").await;
    assert_eq!(
        waiting(&cluster_statuses(client, "leaving").await),
        [
            row(
                "validation",
                "dns,infrastructure",
                "Waiting for dns and infrastructure to finalize"
            ),
            row(
                "dns",
                "infrastructure",
                "Waiting for infrastructure to finalize"
            ),
        ]
    );
    report_cluster(
        client,
        "leaving",
        report("infrastructure", 2, &finalized(true)),
    )
    .await;
    assert_eq!(
        waiting(&cluster_statuses(client, "leaving").await),
        [row("validation", "dns", "Waiting for dns to finalize")]
    );
}

/// When `condition` last turned True in each adapter's latest report.
fn turned_true(
    list: &types::AdapterStatusList,
    condition: &str,
) -> BTreeMap<String, DateTime<Utc>> {
    list.statuses
        .iter()
        .filter_map(|s| {
            s.conditions
                .iter()
                .find(|c| c.type_ == condition && c.status == types::ConditionStatus::True)
                .map(|c| (s.adapter_name.clone(), c.last_transition_time))
        })
        .collect()
}

async fn the_loop_completes_in_order_and_finalizes_in_reverse(server: TestServer) {
    let client = server.client.clone();
    // What `hyperfleet dev` runs against its API, here against this backend.
    let control_loop = LocalLoop::start(
        client.clone(),
        LocalConfig {
            simulation: Simulation {
                work: Duration::from_millis(100),
                failure_rate: 0.0,
                fail_first: 0,
            },
            sentinel: SentinelConfig {
                poll_interval: Duration::from_millis(100),
                ..SentinelConfig::default()
            },
            retry_delay: Duration::from_millis(300),
        },
    );
    create_cluster(&client, "dag").await;
    wait_for_phase(
        &client,
        "dag",
        types::Phase::Ready,
        1,
        Duration::from_secs(30),
    )
    .await;
    let available = turned_true(&cluster_statuses(&client, "dag").await, "Available");
    assert!(
        available["validation"] < available["dns"]
            && available["dns"] < available["infrastructure"],
        "validation, then dns, then infrastructure: {available:?}"
    );

    // Deletion: watch the Finalized transitions until the cluster goes (the
    // last adapter's report removes it, so its own is never seen).
    delete_cluster(&client, "dag").await;
    let mut finalized_at = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let list = client.cluster_status_list().cluster("dag").send().await;
        let Ok(list) = list else { break };
        let list = list.into_inner();
        let finalized = turned_true(&list, "Finalized");
        // Never a dependency finalized before what depends on it.
        if finalized.contains_key("dns") {
            assert!(finalized.contains_key("infrastructure"), "{finalized:?}");
        }
        assert!(!finalized.contains_key("validation") || finalized.contains_key("dns"));
        finalized_at.extend(finalized);
        assert!(tokio::time::Instant::now() < deadline, "the cluster goes");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        finalized_at.contains_key("infrastructure") && finalized_at.contains_key("dns"),
        "both seen finalizing: {finalized_at:?}"
    );
    assert!(
        finalized_at["infrastructure"] < finalized_at["dns"],
        "infrastructure finalized before dns: {finalized_at:?}"
    );
    control_loop.stop();
}
