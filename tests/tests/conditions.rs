//! Resource conditions (docs/statuses.md#resource-conditions) on clusters
//! and node pools, through the SDK: each condition's transitions through
//! create -> Ready -> PATCH -> Health=False -> recovery -> delete, and the
//! `condition=Type:Status` list filter with its counts.

use chrono::{DateTime, Utc};
use hyperfleet_e2e::calls::{
    create_cluster, create_pool, delete_cluster, patch_cluster, report_cluster,
    report_cluster_adapters, report_pool_adapters, view_cluster, view_pool,
};
use hyperfleet_e2e::fixtures::{COMPLETE, FAILED, RUNNING, finalized, report, scale};
use hyperfleet_e2e::http::expect_bad_query;
use hyperfleet_e2e::wait::wait_until_gone;
use hyperfleet_e2e::{TestServer, on_every_backend};
use hyperfleet_sdk::types::{self, ConditionStatus::*};

on_every_backend!(
    cluster_conditions_through_the_lifecycle,
    node_pools_have_their_own_conditions,
    the_condition_filter_counts_in_sql,
);

/// `(status, reason)` of each condition type, in the order listed.
type Expected = [(&'static str, types::ConditionStatus, &'static str); 5];

fn condition<'a>(status: &'a types::ResourceStatus, kind: &str) -> &'a types::ResourceCondition {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == kind)
        .unwrap_or_else(|| panic!("no {kind} condition in {:?}", status.conditions))
}

/// Check every condition's status and reason, and that each describes
/// `generation` (but `LastKnownReconciled`, which names the generation last
/// reconciled, and `ValidationPassed` during deletion, which keeps its verdict:
/// both checked by the tests themselves).
fn check(status: &types::ResourceStatus, generation: i64, expected: Expected) {
    let deleting = status.phase == types::Phase::Terminating;
    let kinds: Vec<&str> = status.conditions.iter().map(|c| c.type_.as_str()).collect();
    assert_eq!(
        kinds,
        expected.map(|(kind, _, _)| kind),
        "every type, in order"
    );
    for (kind, want, reason) in expected {
        let got = condition(status, kind);
        assert_eq!(
            (got.status, got.reason.as_str()),
            (want, reason),
            "{kind}: {got:?}"
        );
        let kept = kind == "LastKnownReconciled" || (deleting && kind == "ValidationPassed");
        if !kept {
            assert_eq!(got.observed_generation, generation, "{kind}");
        }
    }
}

fn changed_at(status: &types::ResourceStatus, kind: &str) -> DateTime<Utc> {
    condition(status, kind).last_transition_time
}

async fn cluster_conditions_through_the_lifecycle(server: TestServer) {
    let client = &server.client;
    // Created: nothing reported yet.
    let created = create_cluster(client, "conditions").await;
    check(
        &created.status,
        1,
        [
            ("Reconciled", False, "Provisioning"),
            ("LastKnownReconciled", False, "NeverReconciled"),
            ("AllAdaptersReady", False, "Provisioning"),
            ("ValidationPassed", Unknown, "Pending"),
            ("Degraded", False, "Healthy"),
        ],
    );
    assert_eq!(
        condition(&created.status, "Reconciled").message,
        "waiting for validation, dns, infrastructure"
    );
    assert_eq!(
        view_cluster(client, "conditions").await.status,
        created.status
    );

    // Ready.
    report_cluster_adapters(client, "conditions", 1, COMPLETE).await;
    let ready = view_cluster(client, "conditions").await.status;
    assert_eq!(ready.phase, types::Phase::Ready);
    check(
        &ready,
        1,
        [
            ("Reconciled", True, "Reconciled"),
            ("LastKnownReconciled", True, "Reconciled"),
            ("AllAdaptersReady", True, "AllAdaptersReady"),
            ("ValidationPassed", True, "Passed"),
            ("Degraded", False, "Healthy"),
        ],
    );
    assert!(changed_at(&ready, "Reconciled") > changed_at(&created.status, "Reconciled"));
    // Degraded kept its status, so its transition time stands.
    assert_eq!(
        changed_at(&ready, "Degraded"),
        changed_at(&created.status, "Degraded")
    );

    // PATCH: generation 2, which no adapter has reported on.
    let patched = patch_cluster(client, "conditions", scale(5)).await.status;
    check(
        &patched,
        2,
        [
            ("Reconciled", False, "Updating"),
            ("LastKnownReconciled", True, "Reconciled"),
            ("AllAdaptersReady", False, "Updating"),
            ("ValidationPassed", Unknown, "Pending"),
            ("Degraded", False, "Healthy"),
        ],
    );
    // Sticky: still the time and the generation it was reconciled at.
    let last_known = condition(&patched, "LastKnownReconciled");
    assert_eq!(last_known.observed_generation, 1);
    assert_eq!(
        last_known.last_transition_time,
        changed_at(&ready, "LastKnownReconciled")
    );

    // Health=False after a reconciliation: Degraded.
    report_cluster(client, "conditions", report("validation", 2, COMPLETE)).await;
    report_cluster(client, "conditions", report("dns", 2, FAILED)).await;
    let degraded = view_cluster(client, "conditions").await.status;
    check(
        &degraded,
        2,
        [
            ("Reconciled", False, "Failed"),
            ("LastKnownReconciled", False, "Failed"),
            ("AllAdaptersReady", False, "Failed"),
            ("ValidationPassed", True, "Passed"),
            ("Degraded", True, "AdapterFailed"),
        ],
    );
    assert!(
        condition(&degraded, "Degraded").message.contains("dns"),
        "{degraded:?}"
    );

    // Healthy again, still working: no longer Degraded, but something
    // failed since the last reconciliation.
    report_cluster(client, "conditions", report("dns", 2, RUNNING)).await;
    let healing = view_cluster(client, "conditions").await.status;
    check(
        &healing,
        2,
        [
            ("Reconciled", False, "Updating"),
            ("LastKnownReconciled", False, "Failed"),
            ("AllAdaptersReady", False, "Updating"),
            ("ValidationPassed", True, "Passed"),
            ("Degraded", False, "Healthy"),
        ],
    );

    // Recovered.
    report_cluster_adapters(client, "conditions", 2, COMPLETE).await;
    let recovered = view_cluster(client, "conditions").await.status;
    check(
        &recovered,
        2,
        [
            ("Reconciled", True, "Reconciled"),
            ("LastKnownReconciled", True, "Reconciled"),
            ("AllAdaptersReady", True, "AllAdaptersReady"),
            ("ValidationPassed", True, "Passed"),
            ("Degraded", False, "Healthy"),
        ],
    );
    assert_eq!(
        condition(&recovered, "LastKnownReconciled").observed_generation,
        2
    );

    // Delete: generation 3, deleting; the validation verdict stands.
    let deleting = delete_cluster(client, "conditions").await.status;
    check(
        &deleting,
        3,
        [
            ("Reconciled", False, "Deleting"),
            ("LastKnownReconciled", True, "Reconciled"),
            ("AllAdaptersReady", False, "Deleting"),
            ("ValidationPassed", True, "Passed"),
            ("Degraded", False, "Healthy"),
        ],
    );
    assert_eq!(
        condition(&deleting, "ValidationPassed").observed_generation,
        2,
        "the verdict of generation 2, kept"
    );
    report_cluster_adapters(client, "conditions", 3, &finalized(true)).await;
    wait_until_gone(client, "conditions", std::time::Duration::from_secs(5)).await;
}

async fn node_pools_have_their_own_conditions(server: TestServer) {
    let client = &server.client;
    create_cluster(client, "parent").await;
    let pool = create_pool(client, "parent", "workers").await;
    check(
        &pool.status,
        1,
        [
            ("Reconciled", False, "Provisioning"),
            ("LastKnownReconciled", False, "NeverReconciled"),
            ("AllAdaptersReady", False, "Provisioning"),
            ("ValidationPassed", Unknown, "Pending"),
            ("Degraded", False, "Healthy"),
        ],
    );
    assert_eq!(
        condition(&pool.status, "Reconciled").message,
        "waiting for validation, infrastructure"
    );
    report_pool_adapters(client, "parent", "workers", 1, COMPLETE).await;
    let ready = view_pool(client, "parent", "workers").await.status;
    assert_eq!(condition(&ready, "Reconciled").status, True);
    // The cluster's own conditions did not move.
    let parent = view_cluster(client, "parent").await.status;
    assert_eq!(condition(&parent, "Reconciled").status, False);
}

async fn the_condition_filter_counts_in_sql(server: TestServer) {
    let client = &server.client;
    // ready: reconciled. degraded: reconciled, patched, dns failing.
    // fresh: nothing reported.
    for name in ["ready", "degraded", "fresh"] {
        create_cluster(client, name).await;
    }
    report_cluster_adapters(client, "ready", 1, COMPLETE).await;
    report_cluster_adapters(client, "degraded", 1, COMPLETE).await;
    patch_cluster(client, "degraded", scale(4)).await;
    report_cluster(client, "degraded", report("validation", 2, COMPLETE)).await;
    report_cluster(client, "degraded", report("dns", 2, FAILED)).await;
    create_pool(client, "ready", "pool").await;

    let names = |list: types::ClusterList| {
        let mut names: Vec<String> = list.items.into_iter().map(|c| c.name).collect();
        names.sort();
        (list.total, names)
    };
    let cases: [(&str, u64, &[&str]); 8] = [
        ("Reconciled:True", 1, &["ready"]),
        ("Reconciled:False", 2, &["degraded", "fresh"]),
        ("Degraded:True", 1, &["degraded"]),
        ("LastKnownReconciled:True", 1, &["ready"]),
        (
            "Reconciled:False,LastKnownReconciled:False",
            2,
            &["degraded", "fresh"],
        ),
        ("ValidationPassed:True", 2, &["degraded", "ready"]),
        ("ValidationPassed:Unknown", 1, &["fresh"]),
        ("Reconciled:True,Degraded:True", 0, &[]),
    ];
    for (filter, total, expected) in cases {
        let list = client
            .cluster_list()
            .condition(filter)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{filter}: {e}"))
            .into_inner();
        assert_eq!(
            names(list),
            (total, expected.iter().map(|s| s.to_string()).collect()),
            "{filter}"
        );
    }
    // Combined with the other filters, and paged: the total counts all.
    let page = client
        .cluster_list()
        .condition("Reconciled:False")
        .size(1)
        .send()
        .await
        .expect("a page")
        .into_inner();
    assert_eq!((page.total, page.items.len()), (2, 1));
    let phased = client
        .cluster_list()
        .condition("Reconciled:False")
        .phase("Pending")
        .send()
        .await
        .expect("a list")
        .into_inner();
    assert_eq!(names(phased), (1, vec!["fresh".to_string()]));

    // Node pools, across clusters and within one.
    let pools = client
        .nodepool_list_all()
        .condition("Reconciled:False")
        .send()
        .await
        .expect("a list")
        .into_inner();
    assert_eq!(pools.total, 1);
    let pools = client
        .nodepool_list()
        .cluster("ready")
        .condition("Reconciled:True")
        .send()
        .await
        .expect("a list")
        .into_inner();
    assert_eq!(pools.total, 0);

    // Checked like every filter: a bad term is a 400 naming `condition`.
    for bad in [
        "Reconciled",
        "Reconciled:Maybe",
        "Ready:True",
        "Reconciled:True,",
    ] {
        let query = bad.replace(',', "%2C");
        expect_bad_query(
            &server,
            &format!("/api/hyperfleet/v1/clusters?condition={query}"),
            "condition",
        )
        .await;
        expect_bad_query(
            &server,
            &format!("/api/hyperfleet/v1/nodepools?condition={query}"),
            "condition",
        )
        .await;
    }
}
