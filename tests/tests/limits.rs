//! Input at and past the limits: oversized bodies, deep or huge status data,
//! non-UTF-8, metacharacters in filters. Always a 4xx in the error shape,
//! never a 500, never a changed row.

use hyperfleet_e2e::{COMPLETE, TestServer, cluster_request, on_every_backend, report};
use hyperfleet_sdk::types;
use serde_json::{Value, json};

on_every_backend!(
    bodies_over_one_mebibyte_are_413,
    status_data_is_bounded,
    non_utf8_and_metacharacters_are_400,
);

async fn send(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    body: Vec<u8>,
) -> (u16, types::Error) {
    let response = server
        .http()
        .request(method, server.url(path))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("answered");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    let error =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not the error shape ({e}): {text}"));
    (status, error)
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
    let list = server
        .client
        .cluster_list()
        .send()
        .await
        .expect("listed")
        .into_inner();
    assert_eq!(list.total, 0);
}

async fn status_data_is_bounded(server: TestServer) {
    server
        .client
        .cluster_create()
        .body(cluster_request("bounded"))
        .send()
        .await
        .expect("created");
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
    let list = server
        .client
        .cluster_status_list()
        .cluster("bounded")
        .send()
        .await
        .expect("listed")
        .into_inner();
    assert!(list.statuses.is_empty(), "nothing stored");

    // At the limits it is fine.
    let mut at_limit = json!("leaf");
    for _ in 0..8 {
        at_limit = json!({ "d": at_limit });
    }
    let data = json!({"blob": "x".repeat(60 * 1024), "deep": at_limit});
    let body = report("dns", 1, COMPLETE).data(data.as_object().cloned().unwrap_or_default());
    server
        .client
        .cluster_status_report()
        .cluster("bounded")
        .body(body)
        .send()
        .await
        .expect("accepted at the limits");
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
        let response = server
            .http()
            .get(server.url(&format!("/api/hyperfleet/v1/clusters?{query}")))
            .send()
            .await
            .expect("answered");
        assert_eq!(response.status().as_u16(), 400, "{query}");
        let error: types::Error = response.json().await.expect("the error shape");
        assert_eq!(error.error, types::ErrorCode::BadRequest, "{query}");
    }
    // The table is still there.
    server
        .client
        .cluster_create()
        .body(cluster_request("still-here"))
        .send()
        .await
        .expect("created");
}
