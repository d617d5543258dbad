//! Input at and past the limits: oversized bodies, deep or huge status data,
//! non-UTF-8, metacharacters in filters. Always a 4xx in the error shape,
//! never a 500, never a changed row.

use hyperfleet_e2e::calls::{
    cluster_statuses, create_cluster, create_pool, expect_error, list_clusters, report_cluster,
    report_pool,
};
use hyperfleet_e2e::fixtures::{CLUSTER_ADAPTERS, COMPLETE, NODEPOOL_ADAPTERS, True, report};
use hyperfleet_e2e::http::{get_error, send_raw};
use hyperfleet_e2e::{TestServer, on_every_backend};
use hyperfleet_sdk::types;
use serde_json::{Value, json};

on_every_backend!(
    bodies_over_one_mebibyte_are_413,
    status_data_is_bounded,
    conditions_per_report_are_bounded,
    adapters_per_resource_are_bounded_and_required_ones_fit,
    non_utf8_and_metacharacters_are_400,
);

/// Send a JSON body the SDK would refuse to build.
async fn send(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    body: Vec<u8>,
) -> (u16, types::Error) {
    send_raw(server, method, path, "application/json", body).await
}

async fn bodies_over_one_mebibyte_are_413(server: TestServer) {
    let mut body =
        json!({"name": "big", "spec": {"provider": "gcp", "region": "r", "nodeCount": 1}});
    body["labels"] = json!({"padding": "x".repeat(1024 * 1024)});
    let (status, error) = send(
        &server,
        reqwest::Method::POST,
        "/api/hyperfleet/v1/clusters",
        body.to_string().into_bytes(),
    )
    .await;
    assert_eq!(
        (status, error.error),
        (413, types::ErrorCode::PayloadTooLarge)
    );
    assert_eq!(list_clusters(&server.client).await.total, 0);
}

async fn status_data_is_bounded(server: TestServer) {
    create_cluster(&server.client, "bounded").await;
    let path = "/api/hyperfleet/v1/clusters/bounded/statuses";
    let base = || {
        json!({"adapter": "dns", "observed_generation": 1, "conditions": [
            {"type": "Applied", "status": "True"}, {"type": "Available", "status": "True"},
            {"type": "Health", "status": "True"}]})
    };
    let mut deep = json!("leaf");
    for _ in 0..12 {
        deep = json!({ "d": deep });
    }
    let cases: Vec<(&str, Value)> = vec![
        ("data", {
            let mut b = base();
            b["data"] = json!({"blob": "x".repeat(70 * 1024)});
            b
        }),
        ("metadata", {
            let mut b = base();
            b["metadata"] = json!({"blob": "x".repeat(20 * 1024)});
            b
        }),
        ("data", {
            let mut b = base();
            b["data"] = deep.clone();
            b
        }),
    ];
    for (field, body) in cases {
        let (status, error) = send(
            &server,
            reqwest::Method::PUT,
            path,
            body.to_string().into_bytes(),
        )
        .await;
        assert_eq!(
            (status, error.error),
            (400, types::ErrorCode::ValidationFailed)
        );
        assert!(
            error.details.iter().any(|d| d.field == field),
            "{:?}",
            error.details
        );
    }
    // Nesting far past serde's own recursion limit is refused, not a crash.
    let abyss = format!(
        "{{\"adapter\":\"dns\",\"data\":{}{}}}",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let (status, _) = send(&server, reqwest::Method::PUT, path, abyss.into_bytes()).await;
    assert_eq!(status, 400);
    let list = cluster_statuses(&server.client, "bounded").await;
    assert!(list.statuses.is_empty(), "nothing stored");

    // At the limits it is fine.
    let mut at_limit = json!("leaf");
    for _ in 0..8 {
        at_limit = json!({ "d": at_limit });
    }
    let data = json!({"blob": "x".repeat(60 * 1024), "deep": at_limit});
    let body = report("dns", 1, COMPLETE).data(data.as_object().cloned().unwrap_or_default());
    report_cluster(&server.client, "bounded", body).await;
}

/// At most 32 conditions in one report.
async fn conditions_per_report_are_bounded(server: TestServer) {
    create_cluster(&server.client, "many-conditions").await;
    let with = |count: usize| {
        let mut conditions = COMPLETE.to_vec();
        let extra: Vec<String> = (conditions.len()..count)
            .map(|i| format!("Extra{i}"))
            .collect();
        conditions.extend(extra.iter().map(|kind| (kind.as_str(), True)));
        report("dns", 1, &conditions)
    };
    let error = expect_error(
        server
            .client
            .cluster_status_report()
            .cluster("many-conditions")
            .body(with(33))
            .send()
            .await,
        400,
        types::ErrorCode::ValidationFailed,
    );
    assert_eq!(error.details.len(), 1, "{error:?}");
    assert_eq!(error.details[0].field, "conditions");
    assert!(error.details[0].message.contains("at most 32"), "{error:?}");
    assert!(
        cluster_statuses(&server.client, "many-conditions")
            .await
            .statuses
            .is_empty()
    );
    let stored = report_cluster(&server.client, "many-conditions", with(32)).await;
    assert_eq!(stored.conditions.len(), 32);
}

/// At most 64 distinct adapters keep reports on one resource, with room
/// always kept for the required adapters (unbounded, 40 adapters x 7 800
/// conditions made `GET .../statuses` 59.6 MB).
async fn adapters_per_resource_are_bounded_and_required_ones_fit(server: TestServer) {
    create_cluster(&server.client, "crowded").await;
    // Two of the three required adapters are still missing after this one.
    report_cluster(
        &server.client,
        "crowded",
        report(CLUSTER_ADAPTERS[0], 1, COMPLETE),
    )
    .await;
    let room = 64 - 1 - (CLUSTER_ADAPTERS.len() - 1);
    for i in 0..room {
        report_cluster(
            &server.client,
            "crowded",
            report(&format!("extra-{i}"), 1, COMPLETE),
        )
        .await;
    }
    let refused = |adapter: &'static str| {
        let client = server.client.clone();
        async move {
            expect_error(
                client
                    .cluster_status_report()
                    .cluster("crowded")
                    .body(report(adapter, 1, COMPLETE))
                    .send()
                    .await,
                400,
                types::ErrorCode::ValidationFailed,
            )
        }
    };
    let error = refused("one-too-many").await;
    assert_eq!(error.details[0].field, "adapter");
    assert!(error.message.contains("64 adapters"), "{}", error.message);
    assert!(
        error.message.contains("required adapters always fit"),
        "{}",
        error.message
    );
    // The required adapters still fit, and then the resource is full.
    for adapter in &CLUSTER_ADAPTERS[1..] {
        report_cluster(&server.client, "crowded", report(adapter, 1, COMPLETE)).await;
    }
    refused("one-too-many").await;
    // An adapter already kept may report again.
    report_cluster(&server.client, "crowded", report("extra-0", 1, COMPLETE)).await;
    let list = cluster_statuses(&server.client, "crowded").await;
    assert_eq!(list.statuses.len(), 64);
    assert!(list.pending_adapters.is_empty());
    assert!(
        !list
            .statuses
            .iter()
            .any(|s| s.adapter_name == "one-too-many")
    );

    // Node pools have the same bound, counted per node pool.
    create_pool(&server.client, "crowded", "pool").await;
    let room = 64 - NODEPOOL_ADAPTERS.len();
    for i in 0..room {
        report_pool(
            &server.client,
            "crowded",
            "pool",
            report(&format!("extra-{i}"), 1, COMPLETE),
        )
        .await;
    }
    expect_error(
        server
            .client
            .nodepool_status_report()
            .cluster("crowded")
            .nodepool("pool")
            .body(report("one-too-many", 1, COMPLETE))
            .send()
            .await,
        400,
        types::ErrorCode::ValidationFailed,
    );
    for adapter in NODEPOOL_ADAPTERS {
        report_pool(
            &server.client,
            "crowded",
            "pool",
            report(adapter, 1, COMPLETE),
        )
        .await;
    }
}

async fn non_utf8_and_metacharacters_are_400(server: TestServer) {
    let (status, error) = send(
        &server,
        reqwest::Method::POST,
        "/api/hyperfleet/v1/clusters",
        b"{\"name\": \"\xff\xfe\"}".to_vec(),
    )
    .await;
    assert_eq!(status, 400, "{error:?}");
    for query in [
        "name=%27%3B%20DROP%20TABLE%20clusters%3B--",
        "labels=a%25:b",
        "name=a%5F%25",
        "provider=%00",
        "region=a%27b",
    ] {
        let (status, error) =
            get_error(&server, &format!("/api/hyperfleet/v1/clusters?{query}")).await;
        assert_eq!(
            (status, error.error),
            (400, types::ErrorCode::BadRequest),
            "{query}"
        );
    }
    // The table is still there.
    create_cluster(&server.client, "still-here").await;
}
