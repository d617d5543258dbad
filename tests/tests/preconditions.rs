//! Resource versions, `ETag` and `If-Match` (docs/watch.md): a stale
//! precondition is 412 and changes nothing, whoever races.
//!
//! Answers with the codes the released contract does not list (412
//! `PreconditionFailed`) are fetched from the server directly, past the
//! contract proxy (docs/errors.md says why they are not in its enum).

use hyperfleet_e2e::calls::{create_cluster, create_pool, view_cluster, view_pool};
use hyperfleet_e2e::http::assert_error_shape;
use hyperfleet_e2e::{TestServer, on_every_backend};
use serde_json::{Value, json};

on_every_backend!(
    twenty_patches_with_one_if_match_make_one_change,
    a_stale_delete_changes_nothing,
    every_single_resource_answer_carries_its_etag,
    if_match_star_and_lists_match,
    the_sdk_reads_a_stale_precondition,
);

const CLUSTERS: &str = "/api/hyperfleet/v1/clusters";

async fn twenty_patches_with_one_if_match_make_one_change(server: TestServer) {
    let created = create_cluster(&server.client, "race").await;
    let etag = format!("\"{}\"", created.resource_version);
    let url = server.direct_url(&format!("{CLUSTERS}/race"));
    let http = reqwest::Client::new();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let (http, url, etag) = (http.clone(), url.clone(), etag.clone());
            tokio::spawn(async move {
                let answer = http
                    .patch(&url)
                    .header("If-Match", etag)
                    .json(&json!({"spec": {"nodeCount": 10 + i}}))
                    .send()
                    .await
                    .expect("the server answers");
                let status = answer.status().as_u16();
                (status, answer.json::<Value>().await.expect("a JSON body"))
            })
        })
        .collect();
    let mut ok = 0;
    for task in tasks {
        let (status, body) = task.await.expect("the request task ends");
        match status {
            200 => ok += 1,
            412 => {
                assert_error_shape(&body, "PreconditionFailed");
                let message = body["message"].as_str().unwrap_or_default();
                assert!(message.contains("resource_version"), "{message}");
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(ok, 1, "exactly one patch wins");
    let after = view_cluster(&server.client, "race").await;
    assert_eq!(after.generation, 2, "one change, not twenty");
    assert_ne!(after.resource_version, created.resource_version);
}

async fn a_stale_delete_changes_nothing(server: TestServer) {
    let created = create_cluster(&server.client, "stale").await;
    create_pool(&server.client, "stale", "pool").await;
    let pool = view_pool(&server.client, "stale", "pool").await;
    let http = reqwest::Client::new();
    // The pool's version moves with a patch; the old one is stale.
    let patched = http
        .patch(server.direct_url(&format!("{CLUSTERS}/stale/nodepools/pool")))
        .header("If-Match", format!("\"{}\"", pool.resource_version))
        .json(&json!({"labels": {"tier": "gold"}}))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(patched.status().as_u16(), 200);
    let stale = http
        .delete(server.direct_url(&format!("{CLUSTERS}/stale/nodepools/pool")))
        .header("If-Match", format!("\"{}\"", pool.resource_version))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(stale.status().as_u16(), 412);
    let body: Value = stale.json().await.expect("a JSON body");
    assert_error_shape(&body, "PreconditionFailed");
    let still = view_pool(&server.client, "stale", "pool").await;
    assert_ne!(
        still.status.phase,
        hyperfleet_sdk::types::Phase::Terminating
    );
    // A cluster delete with a fresh version goes through.
    let current = view_cluster(&server.client, "stale").await;
    assert_eq!(current.resource_version, created.resource_version);
    let fresh = http
        .delete(server.direct_url(&format!("{CLUSTERS}/stale")))
        .header("If-Match", format!("\"{}\"", current.resource_version))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(fresh.status().as_u16(), 202);
}

async fn every_single_resource_answer_carries_its_etag(server: TestServer) {
    let http = reqwest::Client::new();
    let created = http
        .post(format!("{}{CLUSTERS}", server.base_url))
        .json(&json!({"name": "tagged", "spec": {"provider": "gcp", "region": "us-east1", "nodeCount": 1}}))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(created.status().as_u16(), 201);
    let etag = created.headers()["etag"]
        .to_str()
        .expect("ASCII")
        .to_string();
    let body: Value = created.json().await.expect("a JSON body");
    assert_eq!(
        etag,
        format!(
            "\"{}\"",
            body["resource_version"].as_str().expect("a string")
        )
    );
    let viewed = http
        .get(format!("{}{CLUSTERS}/tagged", server.base_url))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(viewed.headers()["etag"].to_str().expect("ASCII"), etag);
    let patched = http
        .patch(format!("{}{CLUSTERS}/tagged", server.base_url))
        .header("If-Match", &etag)
        .json(&json!({"spec": {"nodeCount": 2}}))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(patched.status().as_u16(), 200);
    let new_etag = patched.headers()["etag"]
        .to_str()
        .expect("ASCII")
        .to_string();
    assert_ne!(new_etag, etag, "a change moves the version");
    let body: Value = patched.json().await.expect("a JSON body");
    assert_eq!(
        new_etag,
        format!(
            "\"{}\"",
            body["resource_version"].as_str().expect("a string")
        )
    );
    // A list carries the feed position it reflects, at least the newest change.
    let list = hyperfleet_e2e::calls::list_clusters(&server.client).await;
    let position: i64 = list.resource_version.parse().expect("a number");
    let version: i64 = new_etag.trim_matches('"').parse().expect("a number");
    assert!(position >= version, "{position} < {version}");
}

async fn if_match_star_and_lists_match(server: TestServer) {
    let created = create_cluster(&server.client, "lists").await;
    let http = reqwest::Client::new();
    let url = server.direct_url(&format!("{CLUSTERS}/lists"));
    for (if_match, nodes, status) in [
        ("*".to_string(), 2, 200),
        (format!("\"0\", \"{}\"", created.resource_version), 3, 412),
        ("W/\"1\"".to_string(), 4, 412),
    ] {
        let answer = http
            .patch(&url)
            .header("If-Match", &if_match)
            .json(&json!({"spec": {"nodeCount": nodes}}))
            .send()
            .await
            .expect("the server answers");
        assert_eq!(answer.status().as_u16(), status, "If-Match: {if_match}");
    }
    let current = view_cluster(&server.client, "lists").await;
    let answer = http
        .patch(&url)
        .header(
            "If-Match",
            format!("\"0\", \"{}\"", current.resource_version),
        )
        .json(&json!({"spec": {"nodeCount": 5}}))
        .send()
        .await
        .expect("the server answers");
    assert_eq!(answer.status().as_u16(), 200, "one of the list matches");
}

/// Through the SDK, a 412's code, which the generated error type does not
/// list, is read with `ApiError::of`; a listed one the same way.
async fn the_sdk_reads_a_stale_precondition(server: TestServer) {
    use hyperfleet_sdk::api_error::ApiError;
    use hyperfleet_sdk::types;

    let created = create_cluster(&server.client, "sdk").await;
    let direct = hyperfleet_sdk::Client::new(&format!("http://{}", server.server_addr()));
    let stale = format!("\"{}\"", created.resource_version);
    let patch = || {
        types::ClusterPatch::builder().labels(std::collections::BTreeMap::from([(
            "tier".to_string(),
            Some("gold".to_string()),
        )]))
    };
    direct
        .cluster_update()
        .cluster("sdk")
        .if_match(stale.clone())
        .body(patch())
        .send()
        .await
        .expect("the first patch with the current version");
    let error = direct
        .cluster_update()
        .cluster("sdk")
        .if_match(stale)
        .body(patch())
        .send()
        .await
        .expect_err("the version is stale now");
    let body = ApiError::of(&error).expect("an error body");
    assert_eq!(body.error, "PreconditionFailed");
    assert!(!body.request_id.is_empty());

    let missing = direct
        .cluster_view()
        .cluster("nowhere")
        .send()
        .await
        .expect_err("no such cluster");
    let body = ApiError::of(&missing).expect("an error body");
    assert_eq!(
        (body.error.as_str(), body.message.as_str()),
        ("ClusterNotFound", "Cluster nowhere not found")
    );
}
