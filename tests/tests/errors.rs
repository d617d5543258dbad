//! Bad input of every kind is answered in the one error shape, with its
//! code, the offending fields, and the request id; nothing is stored.
//!
//! The SDK validates names and patterns before sending, so the invalid
//! bodies here go over plain HTTP to prove the server checks them itself.

use hyperfleet_e2e::calls::{create_cluster, fields, list_clusters, list_pools, view_cluster};
use hyperfleet_e2e::http::{
    assert_error_shape, error_of, expect_bad_query, get, raw_exchange, send_raw,
};
use hyperfleet_e2e::{TestServer, on_every_backend};
use hyperfleet_sdk::types;
use serde_json::{Value, json};

on_every_backend!(
    invalid_cluster_bodies_name_every_offending_field,
    invalid_nodepool_bodies_name_every_offending_field,
    unreadable_bodies_are_bad_requests,
    bad_query_parameters_are_named,
    wrong_methods_get_405_with_allow,
    probes_and_served_contract,
    framework_answers_have_the_error_shape,
);

const CLUSTERS: &str = "/api/hyperfleet/v1/clusters";

/// POST `body` as `content_type`; the status and the error it is answered
/// with.
async fn post_raw(
    server: &TestServer,
    path: &str,
    content_type: &str,
    body: String,
) -> (u16, types::Error) {
    send_raw(server, reqwest::Method::POST, path, content_type, body).await
}

fn seed_cluster() -> Value {
    json!({
        "name": "my-test-cluster",
        "spec": { "provider": "gcp", "region": "us-east1", "nodeCount": 3 },
        "labels": { "environment": "production", "team": "platform" }
    })
}

/// The seed body with `edit` applied.
fn cluster_with(edit: impl FnOnce(&mut Value)) -> String {
    let mut body = seed_cluster();
    edit(&mut body);
    body.to_string()
}

async fn invalid_cluster_bodies_name_every_offending_field(server: TestServer) {
    let uuid = uuid::Uuid::new_v4().to_string();
    let long = "a".repeat(64);
    let cases: Vec<(String, &[&str])> = vec![
        (cluster_with(|b| b["name"] = json!("Upper_Case")), &["name"]),
        (cluster_with(|b| b["name"] = json!(uuid)), &["name"]),
        (cluster_with(|b| b["name"] = json!(long)), &["name"]),
        (cluster_with(|b| b["name"] = json!("")), &["name"]),
        (
            cluster_with(|b| b["spec"]["nodeCount"] = json!(0)),
            &["spec.nodeCount"],
        ),
        (
            cluster_with(|b| b["spec"]["nodeCount"] = json!(1001)),
            &["spec.nodeCount"],
        ),
        (
            cluster_with(|b| b["spec"]["nodeCount"] = json!("three")),
            &["spec.nodeCount"],
        ),
        (
            cluster_with(|b| b["spec"]["provider"] = json!("GCP!")),
            &["spec.provider"],
        ),
        (
            cluster_with(|b| b["spec"]["region"] = json!("")),
            &["spec.region"],
        ),
        (
            cluster_with(|b| _ = b["spec"].as_object_mut().map(|s| s.remove("region"))),
            &["spec.region"],
        ),
        (
            cluster_with(|b| _ = b.as_object_mut().map(|s| s.remove("spec"))),
            &["spec"],
        ),
        (cluster_with(|b| b["colour"] = json!("red")), &["colour"]),
        (
            cluster_with(|b| b["spec"]["zones"] = json!(3)),
            &["spec.zones"],
        ),
        (
            cluster_with(|b| b["labels"]["bad key"] = json!("x")),
            &["labels.bad key"],
        ),
        (
            cluster_with(|b| b["labels"]["tier"] = json!("a:b")),
            &["labels.tier"],
        ),
        (
            cluster_with(|b| b["labels"]["tier"] = json!(7)),
            &["labels.tier"],
        ),
        (
            cluster_with(|b| {
                b["name"] = json!("-bad");
                b["spec"]["nodeCount"] = json!(-1);
                b["spec"]["provider"] = json!("");
            }),
            &["name", "spec.provider", "spec.nodeCount"],
        ),
    ];
    for (body, expected) in cases {
        let (status, error) = post_raw(&server, CLUSTERS, "application/json", body.clone()).await;
        assert_eq!(
            (status, error.error),
            (400, types::ErrorCode::ValidationFailed),
            "{body}"
        );
        assert_eq!(fields(&error), expected, "{body}: {}", error.message);
    }

    let too_many: serde_json::Map<String, Value> =
        (0..65).map(|i| (format!("k{i}"), json!("v"))).collect();
    let body = cluster_with(|b| b["labels"] = Value::Object(too_many));
    let (status, error) = post_raw(&server, CLUSTERS, "application/json", body).await;
    assert_eq!((status, fields(&error)), (400, vec!["labels"]));

    let list = list_clusters(&server.client).await;
    assert_eq!(list.total, 0, "no invalid request stored anything");
}

async fn invalid_nodepool_bodies_name_every_offending_field(server: TestServer) {
    create_cluster(&server.client, "parent").await;
    let path = format!("{CLUSTERS}/parent/nodepools");
    let cases: Vec<(Value, &[&str])> = vec![
        (
            json!({"name": "p", "spec": {"nodeCount": 0, "machineType": "n1"}}),
            &["spec.nodeCount"],
        ),
        (
            json!({"name": "p", "spec": {"nodeCount": 1, "machineType": "N1 big"}}),
            &["spec.machineType"],
        ),
        (
            json!({"name": "p", "spec": {"nodeCount": 1}}),
            &["spec.machineType"],
        ),
        (
            json!({"name": "P", "spec": {"nodeCount": 1, "machineType": "n1"}}),
            &["name"],
        ),
        (
            json!({"name": "p", "spec": {"nodeCount": 1, "machineType": "n1"}, "cluster_id": "x"}),
            &["cluster_id"],
        ),
    ];
    for (body, expected) in cases {
        let (status, error) = post_raw(&server, &path, "application/json", body.to_string()).await;
        assert_eq!(
            (status, error.error),
            (400, types::ErrorCode::ValidationFailed),
            "{body}"
        );
        assert_eq!(fields(&error), expected, "{body}");
    }
    assert_eq!(list_pools(&server.client, "parent").await.total, 0);
}

async fn unreadable_bodies_are_bad_requests(server: TestServer) {
    let seed = seed_cluster().to_string();
    let cases = [
        ("application/json", "{\"name\": ".to_string()),
        ("application/json", "not json".to_string()),
        ("application/json", String::new()),
        // One JSON value and nothing but whitespace after it: a
        // deserializer stops after the first value.
        ("application/json", format!("{seed}xyz")),
        ("application/json", format!("{{}}{seed}")),
        ("application/json", format!("{seed}{seed}")),
        ("application/json", "[]xyz".to_string()),
        ("text/plain", seed.clone()),
        ("application/x-www-form-urlencoded", seed.clone()),
    ];
    for (content_type, body) in cases {
        let (status, error) = post_raw(&server, CLUSTERS, content_type, body.clone()).await;
        assert_eq!(
            (status, error.error),
            (400, types::ErrorCode::BadRequest),
            "{content_type}: {body}"
        );
    }
    // A charset parameter is fine.
    let response = server
        .http()
        .post(server.url(CLUSTERS))
        .header("content-type", "application/json; charset=utf-8")
        .body(format!(" \n{seed}\r\n\t "))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status().as_u16(), 201, "whitespace around is fine");

    // A PATCH whose second object would move the cluster is refused whole,
    // not applied up to the first object.
    let path = format!("{CLUSTERS}/my-test-cluster");
    for body in [
        r#"{}{"labels":{"team":"beta"}}"#,
        r#"{"labels":{"team":"beta"}}xyz"#,
        "[]xyz",
    ] {
        let (status, error) = send_raw(
            &server,
            reqwest::Method::PATCH,
            &path,
            "application/json",
            body,
        )
        .await;
        assert_eq!(
            (status, error.error),
            (400, types::ErrorCode::BadRequest),
            "{body}"
        );
        assert!(
            error.message.contains("one JSON value"),
            "{}",
            error.message
        );
    }
    let cluster = view_cluster(&server.client, "my-test-cluster").await;
    assert_eq!(
        cluster.labels.get("team").map(String::as_str),
        Some("platform")
    );
    assert_eq!(cluster.generation, 1);
}

async fn bad_query_parameters_are_named(server: TestServer) {
    let cases = [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("size=0", "size"),
        ("size=1001", "size"),
        ("size=", "size"),
        ("page=1&page=2", "page"),
        ("colour=red", "colour"),
    ];
    for path in [CLUSTERS.to_string(), format!("{CLUSTERS}/any/nodepools")] {
        for (query, field) in cases {
            expect_bad_query(&server, &format!("{path}?{query}"), field).await;
        }
    }
}

async fn wrong_methods_get_405_with_allow(server: TestServer) {
    for (method, path, allow) in [
        (reqwest::Method::DELETE, CLUSTERS.to_string(), "GET, POST"),
        (
            reqwest::Method::PUT,
            format!("{CLUSTERS}/x"),
            "GET, PATCH, DELETE",
        ),
        (
            reqwest::Method::POST,
            format!("{CLUSTERS}/x/statuses"),
            "GET, PUT",
        ),
        (reqwest::Method::POST, "/healthz".to_string(), "GET"),
    ] {
        let response = server
            .http()
            .request(method.clone(), server.url(&path))
            .send()
            .await
            .expect("answered");
        let allowed = response
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        assert_eq!(allowed.as_deref(), Some(allow), "{method} {path}");
        let (status, error) = error_of(response).await;
        assert_eq!(
            (status, error.error),
            (405, types::ErrorCode::MethodNotAllowed)
        );
    }
}

async fn probes_and_served_contract(server: TestServer) {
    let live = server
        .client
        .health_live()
        .send()
        .await
        .expect("alive")
        .into_inner();
    assert_eq!(live.status, "ok");
    let ready = server
        .client
        .health_ready()
        .send()
        .await
        .expect("ready")
        .into_inner();
    assert_eq!(ready.status, "ok");

    let response = get(&server, "/openapi.yaml").await;
    assert_eq!(response.status().as_u16(), 200);
    let served = response.text().await.expect("a body");
    let checked_in = include_str!("../../openapi.yaml");
    assert_eq!(served, checked_in);

    // The reference page renders that same document: every operation of
    // it has its section.
    let response = get(&server, "/docs").await;
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    let page = response.text().await.expect("a body");
    let document: serde_json::Value = yaml_serde::from_str(checked_in).expect("YAML");
    let mut operations = 0;
    for item in document["paths"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
    {
        for operation in item.as_object().into_iter().flat_map(|o| o.values()) {
            let id = operation["operationId"].as_str().unwrap_or_default();
            assert!(
                page.contains(&format!("id=\"op-{id}\"")),
                "/docs shows {id}"
            );
            operations += 1;
        }
    }
    assert!(operations > 10, "the document has its operations");
}

/// What hyper and dropshot answer before any operation runs (an unknown
/// path, bad percent-encoding, an unknown method, a request line or headers
/// past hyper's limits, bytes that are not HTTP) comes in the error shape
/// too. Sent to the server itself: the contract proxy would not pass most
/// of these on.
async fn framework_answers_have_the_error_shape(server: TestServer) {
    let addr = server.server_addr();
    let http = reqwest::Client::new();
    let method = |m: &str| reqwest::Method::from_bytes(m.as_bytes()).expect("a method");
    for (method, path, status, code, allow) in [
        (method("GET"), "/nope".to_string(), 404, "NotFound", None),
        (
            method("POST"),
            format!("{CLUSTERS}/x/y/z"),
            404,
            "NotFound",
            None,
        ),
        (
            method("GET"),
            format!("{CLUSTERS}/%FF"),
            400,
            "BadRequest",
            None,
        ),
        (
            method("TRACE"),
            CLUSTERS.to_string(),
            405,
            "MethodNotAllowed",
            Some("GET, POST"),
        ),
        (
            method("FOO"),
            "/healthz".to_string(),
            405,
            "MethodNotAllowed",
            Some("GET"),
        ),
    ] {
        let response = http
            .request(method.clone(), format!("http://{addr}{path}"))
            .send()
            .await
            .expect("answered");
        let allowed = response
            .headers()
            .get("allow")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        assert_eq!(allowed.as_deref(), allow, "{method} {path}");
        let header_id = response
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
        let body: Value = response.json().await.expect("a JSON body");
        assert_error_shape(&body, code);
        assert_eq!(body["request_id"].as_str(), header_id.as_deref());
    }

    // HEAD keeps its empty body, but the status is the same.
    let head = http
        .head(format!("http://{addr}{CLUSTERS}/x/statuses"))
        .send()
        .await
        .expect("answered");
    assert_eq!(head.status().as_u16(), 405);

    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(70_000));
    let many_headers = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\n{}\r\n",
        (0..120)
            .map(|i| format!("x-h{i}: v\r\n"))
            .collect::<String>()
    );
    for (request, status, code) in [
        (long_uri, 414, "UriTooLong"),
        (many_headers, 431, "HeadersTooLarge"),
        ("NOT HTTP AT ALL\r\n\r\n".to_string(), 400, "BadRequest"),
    ] {
        let (answered, body) = raw_exchange(addr, request.as_bytes()).await;
        assert_eq!(answered, status, "{body}");
        assert_error_shape(&body, code);
    }
}
