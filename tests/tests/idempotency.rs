//! Idempotent creates (docs/watch.md): a repeat with the same
//! `Idempotency-Key` replays the first answer and creates nothing.
//!
//! Answers with the codes the released contract does not list (409
//! `IdempotencyKeyInFlight`, 422 `IdempotencyKeyReused`) are fetched from the
//! server directly, past the contract proxy.

use hyperfleet_e2e::calls::{create_cluster, list_clusters, list_pools};
use hyperfleet_e2e::http::assert_error_shape;
use hyperfleet_e2e::{TestServer, on_every_backend};
use serde_json::{Value, json};

on_every_backend!(
    a_repeat_replays_the_first_answer,
    the_same_key_with_another_body_is_422,
    concurrent_repeats_create_one_cluster,
    a_repeat_while_the_first_is_in_flight_is_409,
    node_pool_creates_replay_too,
);

const CLUSTERS: &str = "/api/hyperfleet/v1/clusters";

fn body(name: &str, nodes: u32) -> Value {
    json!({"name": name, "spec": {"provider": "gcp", "region": "us-east1", "nodeCount": nodes}})
}

async fn post(url: &str, key: &str, body: &Value) -> (u16, Option<String>, Value) {
    let answer = reqwest::Client::new()
        .post(url)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .expect("the server answers");
    let status = answer.status().as_u16();
    let replayed = answer
        .headers()
        .get("idempotent-replayed")
        .map(|v| v.to_str().expect("ASCII").to_string());
    (status, replayed, answer.json().await.expect("a JSON body"))
}

async fn a_repeat_replays_the_first_answer(server: TestServer) {
    let url = format!("{}{CLUSTERS}", server.base_url);
    let (status, replayed, first) = post(&url, "create-once", &body("once", 3)).await;
    assert_eq!((status, replayed), (201, None));
    let (status, replayed, again) = post(&url, "create-once", &body("once", 3)).await;
    assert_eq!((status, replayed.as_deref()), (201, Some("true")));
    assert_eq!(again, first, "the same body, byte for byte as JSON");
    assert_eq!(list_clusters(&server.client).await.total, 1);
    // Another key is another request: the name is taken now.
    let (status, _, _) = post(&url, "create-twice", &body("once", 3)).await;
    assert_eq!(status, 409);
}

async fn the_same_key_with_another_body_is_422(server: TestServer) {
    let url = server.direct_url(CLUSTERS);
    let (status, _, _) = post(&url, "k-1", &body("first", 3)).await;
    assert_eq!(status, 201);
    let (status, _, error) = post(&url, "k-1", &body("first", 4)).await;
    assert_eq!(status, 422);
    assert_error_shape(&error, "IdempotencyKeyReused");
    assert_eq!(list_clusters(&server.client).await.total, 1);
    // A bad key is a 400 on the header.
    let (status, _, error) = post(&url, "has space", &body("second", 3)).await;
    assert_eq!(status, 400);
    assert_eq!(error["details"][0]["field"], "Idempotency-Key");
}

async fn concurrent_repeats_create_one_cluster(server: TestServer) {
    let url = server.direct_url(CLUSTERS);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { post(&url, "together", &body("together", 3)).await })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.expect("the request task ends") {
            (201, None, _) => created += 1,
            (201, Some(replayed), _) => assert_eq!(replayed, "true"),
            (409, _, error) => assert_error_shape(&error, "IdempotencyKeyInFlight"),
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert_eq!(created, 1, "one request ran; the others replayed or waited");
    assert_eq!(list_clusters(&server.client).await.total, 1);
}

async fn a_repeat_while_the_first_is_in_flight_is_409(server: TestServer) {
    // The first request's claim, as a create still running holds it.
    let db = server.database().await;
    let insert = sea_orm::Statement::from_sql_and_values(
        db.get_database_backend(),
        match db.get_database_backend() {
            sea_orm::DbBackend::Postgres => {
                "INSERT INTO idempotency_keys (scope, key, request_hash, state, created_at) \
                 VALUES ('', 'busy', 'x', 'in_flight', $1)"
            }
            _ => {
                "INSERT INTO idempotency_keys (scope, key, request_hash, state, created_at) \
                 VALUES ('', 'busy', 'x', 'in_flight', ?)"
            }
        },
        [chrono::Utc::now().into()],
    );
    use sea_orm::ConnectionTrait;
    db.execute_raw(insert).await.expect("the claim is stored");
    let url = server.direct_url(CLUSTERS);
    let (status, _, error) = post(&url, "busy", &body("busy", 3)).await;
    assert_eq!(status, 409);
    assert_error_shape(&error, "IdempotencyKeyInFlight");
    // A claim older than the in-flight expiry no longer blocks its key.
    let age = sea_orm::Statement::from_string(
        db.get_database_backend(),
        "UPDATE idempotency_keys SET created_at = '2000-01-01T00:00:00Z' WHERE key = 'busy'",
    );
    db.execute_raw(age).await.expect("the claim is aged");
    let (status, replayed, _) = post(&url, "busy", &body("busy", 3)).await;
    assert_eq!((status, replayed), (201, None));
}

async fn node_pool_creates_replay_too(server: TestServer) {
    create_cluster(&server.client, "parent").await;
    let url = format!("{}{CLUSTERS}/parent/nodepools", server.base_url);
    let pool = json!({"name": "pool", "spec": {"nodeCount": 2, "machineType": "n1-standard-4"}});
    let (status, replayed, first) = post(&url, "pool-key", &pool).await;
    assert_eq!((status, replayed), (201, None));
    let (status, replayed, again) = post(&url, "pool-key", &pool).await;
    assert_eq!((status, replayed.as_deref()), (201, Some("true")));
    assert_eq!(again, first);
    assert_eq!(list_pools(&server.client, "parent").await.total, 1);
}
