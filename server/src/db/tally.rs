//! Totals kept by PostgreSQL for the lists that ask for at most one search
//! term (migration 000010 explains the tables and why they only grow by
//! inserts): reading one, and folding the inserted deltas into the kept
//! totals so that a read stays a sum over a handful of rows.

use std::time::Duration;

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr, Statement, TransactionTrait};

/// The term every row holds.
pub const EVERY_ROW: &str = "*";

/// How often the deltas are folded. Between two folds a total reads the
/// deltas written since the last one: at a thousand writes a second, a few
/// thousand rows from an index.
pub const FOLD_INTERVAL: Duration = Duration::from_secs(1);

/// Folds between two vacuums of the delta table. Every fold deletes what it
/// moved; the dead rows must go, or the table and its index grow with every
/// write ever made. Autovacuum would do it, but it may be off (as it is for
/// a fresh bulk load), and the table is small, so this costs little.
const FOLDS_PER_VACUUM: u32 = 60;

/// A key for `pg_try_advisory_xact_lock`, so that of several servers on one
/// database one folds at a time ("HFTALLY" in ASCII).
const FOLD_LOCK: i64 = 0x48_46_54_41_4c_4c_59;

/// How many rows of `kind` (`Cluster`, `NodePool`: the triggers' argument)
/// hold any of `terms`, of which no row may hold two (one term, the phases
/// of a phase set, or [`EVERY_ROW`]), as an expression for a statement
/// that reads more beside it: the kind is parameter `$kind`, the terms (an
/// array literal, `db::filter::array_literal`) parameter `$terms`. Exact,
/// in the reading statement's snapshot: the kept totals plus the deltas
/// not yet folded into them, in one statement, so a fold committing
/// meanwhile is seen whole or not at all.
///
/// Each term is looked up by itself, one probe of `(kind, term)` in each
/// table: a comparison with the whole array (`term = ANY(...)`) is, in the
/// prepared statement's generic plan, a filter on every kept total of the
/// kind rather than an index condition, and with a cluster's label, phase
/// and placement terms (migration 000015) there are hundreds of them. The
/// terms are made distinct first, so a term given twice counts once.
pub fn total_expression(kind: usize, terms: usize) -> String {
    format!(
        "(SELECT coalesce(sum((SELECT s.n FROM search_totals s \
         WHERE s.kind = ${kind} AND s.term = t.term)), 0) \
         + coalesce(sum((SELECT sum(d.delta) FROM search_tally d \
         WHERE d.kind = ${kind} AND d.term = t.term)), 0) \
         FROM (SELECT DISTINCT unnest(CAST(${terms} AS text[])) AS term) t)::bigint"
    )
}

/// Move every committed delta into the kept totals, in one transaction, so
/// that a total read meanwhile sees either all of them as deltas or all of
/// them in the totals. Another server folding at the same moment is left
/// to it (advisory lock); a delta committed during the fold stays for the
/// next one. Returns how many deltas were folded (`None`: another server
/// was folding).
pub async fn fold(db: &DatabaseConnection) -> Result<Option<u64>, DbErr> {
    let backend = db.get_database_backend();
    let txn = db.begin().await?;
    let locked = txn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            "SELECT pg_try_advisory_xact_lock($1)",
            [FOLD_LOCK.into()],
        ))
        .await?
        .map(|row| row.try_get_by_index::<bool>(0))
        .transpose()?
        .unwrap_or(false);
    if !locked {
        return Ok(None);
    }
    let moved = txn
        .execute_unprepared(
            "WITH moved AS (DELETE FROM search_tally RETURNING kind, term, delta) \
             INSERT INTO search_totals (kind, term, n) \
             SELECT kind, term, sum(delta) FROM moved GROUP BY kind, term \
             ON CONFLICT (kind, term) DO UPDATE SET n = search_totals.n + excluded.n",
        )
        .await?;
    txn.commit().await?;
    Ok(Some(moved.rows_affected()))
}

/// Fold every [`FOLD_INTERVAL`] until the returned task is aborted,
/// vacuuming the delta table now and then. Failures are logged and retried
/// at the next tick: until a fold succeeds, totals stay exact, reads just
/// sum more deltas.
pub fn spawn_folding(db: DatabaseConnection) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(FOLD_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut folds: u32 = 0;
        loop {
            ticks.tick().await;
            match fold(&db).await {
                Ok(Some(_)) => folds += 1,
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "folding list totals failed; retrying"),
            }
            if folds >= FOLDS_PER_VACUUM {
                folds = 0;
                if let Err(e) = db.execute_unprepared("VACUUM search_tally").await {
                    tracing::warn!(error = %e, "vacuuming the list totals' deltas failed");
                }
            }
        }
    })
}
