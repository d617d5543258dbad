//! With autovacuum off (as on the machines this project is built and
//! benchmarked on), the server vacuums its own tables once their dead rows
//! pass autovacuum's default threshold; with it on, it leaves them to it.
//! PostgreSQL only: SQLite has no vacuum to miss.

use std::collections::BTreeMap;
use std::time::Duration;

use hyperfleet_e2e::calls::{create_cluster_with, patch_cluster};
use hyperfleet_e2e::fixtures::{cluster_request_at, labels};
use hyperfleet_e2e::wait::wait_for;
use hyperfleet_e2e::{Backend, TestServer};
use hyperfleet_sdk::types;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

/// `clusters`' dead rows and how often it was vacuumed, as the statistics
/// say.
async fn cluster_stats(db: &DatabaseConnection) -> (i64, i64) {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT n_dead_tup AS dead, vacuum_count AS vacuums FROM pg_stat_user_tables \
             WHERE relname = 'clusters' AND schemaname = current_schema()",
        ))
        .await
        .expect("the statistics can be read")
        .expect("clusters has statistics");
    (
        row.try_get("", "dead").expect("n_dead_tup"),
        row.try_get("", "vacuums").expect("vacuum_count"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_rows_are_vacuumed_when_autovacuum_is_off() {
    let Some(server) = TestServer::start(Backend::Postgres).await else {
        return;
    };
    // A label change rewrites the search terms, an indexed column, so each
    // leaves a dead row version behind (no in-place update).
    const CLUSTERS: usize = 20;
    const CHANGES: usize = 6;
    for i in 0..CLUSTERS {
        let name = format!("c{i}");
        create_cluster_with(
            &server.client,
            cluster_request_at(&name, "gcp", "us-east1").labels(labels(&[("round", "0")])),
        )
        .await;
        for round in 1..=CHANGES {
            let patch = types::ClusterPatch::builder().labels(BTreeMap::from([(
                "round".to_string(),
                Some(round.to_string()),
            )]));
            patch_cluster(&server.client, &name, patch).await;
        }
    }
    let db = server.database().await;
    let autovacuum: String = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT current_setting('autovacuum') AS on_off",
        ))
        .await
        .expect("the setting can be read")
        .expect("a setting")
        .try_get("", "on_off")
        .expect("text");
    // Past the threshold (50 + a fifth of the live rows) once the server's
    // backends have reported their writes (unless the server's own check,
    // once a minute, got there first on a slow machine).
    let threshold = 50 + CLUSTERS as i64 / 5;
    wait_for(
        "the label changes' dead rows in the statistics",
        Duration::from_secs(30),
        || async {
            let (dead, vacuums) = cluster_stats(&db).await;
            (dead > threshold || vacuums > 0).then_some(())
        },
    )
    .await;

    hyperfleet_server::db::vacuum::vacuum_due(&db)
        .await
        .expect("the vacuum runs");

    let (dead_after, vacuums_after) = cluster_stats(&db).await;
    if autovacuum == "off" {
        assert!(
            dead_after == 0 && vacuums_after >= 1,
            "vacuumed, no dead rows left: {dead_after} dead rows, {vacuums_after} vacuums"
        );
    } else {
        assert_eq!(
            vacuums_after, 0,
            "with autovacuum on the server leaves vacuuming to it"
        );
    }
    server.stop().await;
}
