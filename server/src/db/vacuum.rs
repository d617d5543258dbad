//! Vacuuming our tables on PostgreSQL when autovacuum is off, as it often
//! is during and after a bulk load (and is on the machines we benchmark
//! on). Without any vacuum, every row version a write leaves behind stays
//! in its table and in each of the table's indexes: a phase change leaves
//! its old search terms in the search index, so the lists that intersect
//! those terms (J3) slow down with every change the fleet ever made, not
//! with its size. Where autovacuum runs, this does nothing.
//!
//! The rule is autovacuum's own default one: a table is vacuumed once its
//! dead rows pass 50 plus a fifth of its live rows. Only one vacuum of a
//! table runs at a time across replicas (`SKIP_LOCKED`: the others skip
//! it), on a connection of its own without the statement timeout, since a
//! vacuum of a large table may take longer than any request may.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement};

use crate::db;

/// How often the tables' dead rows are looked at.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(60);

/// Our tables (in the connection's schema) whose dead rows have passed
/// autovacuum's default threshold, with how many they hold, when
/// autovacuum is off; none when it is on.
async fn due(db: &impl ConnectionTrait) -> Result<Vec<(String, i64)>, DbErr> {
    let rows = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT relname::text AS name, n_dead_tup AS dead FROM pg_stat_user_tables \
             WHERE schemaname = current_schema() AND current_setting('autovacuum') = 'off' \
             AND n_dead_tup > 50 + 0.2 * n_live_tup ORDER BY n_dead_tup DESC",
        ))
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("", "name")?, row.try_get("", "dead")?)))
        .collect()
}

/// Vacuum every table that is [`due`] now, one after the other.
pub async fn vacuum_due(db: &impl ConnectionTrait) -> Result<(), DbErr> {
    for (table, dead) in due(db).await? {
        // The name comes from the catalogue; quoted all the same.
        let quoted = format!("\"{}\"", table.replace('"', "\"\""));
        tracing::info!(table, dead, "vacuuming (autovacuum is off)");
        db.execute_unprepared(&format!("VACUUM (SKIP_LOCKED) {quoted}"))
            .await?;
    }
    Ok(())
}

/// Look every [`CHECK_INTERVAL`] until the returned task is aborted, on a
/// connection of its own to `url` (opened at the first check and again
/// after a failure). Failures are logged and retried at the next check.
pub fn spawn_vacuuming(url: String) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(CHECK_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is at once: nothing is due at a start.
        ticks.tick().await;
        let mut connection: Option<DatabaseConnection> = None;
        loop {
            ticks.tick().await;
            let db = match connection.take() {
                Some(db) => db,
                None => match db::connect(&url, Some(1), None).await {
                    Ok(db) => db,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot connect to vacuum; retrying");
                        continue;
                    }
                },
            };
            match vacuum_due(&db).await {
                Ok(()) => connection = Some(db),
                Err(e) => tracing::warn!(error = %e, "vacuuming failed; retrying"),
            }
        }
    })
}
