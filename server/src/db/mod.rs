//! Database connection and schema: one pool for SQLite or PostgreSQL,
//! migrated before the server takes requests, on which no statement may run
//! longer than the statement timeout.

pub mod entities;
pub mod filter;
pub mod tables;
pub mod tally;
pub mod vacuum;

use std::time::{Duration, Instant};

use hyperfleet_migrations::{Migrator, MigratorTrait};
use sea_orm::sea_query::Expr;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, EntityTrait, QuerySelect,
    Select, SqliteTransactionMode, TransactionOptions,
};

/// The SQLite file `serve` uses when no URL is given.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://hyperfleet.db";

/// Connections a PostgreSQL pool opens at most, unless configured.
pub const DEFAULT_POSTGRES_POOL_SIZE: u32 = 32;
/// Connections a SQLite pool opens: one writer at a time anyway, and WAL
/// readers beside it. Eight, so that a quarter (two) may list at once: one
/// list at a time left a core idle while lists queued.
const SQLITE_POOL_SIZE: u32 = 8;

/// How long one statement may run unless configured (`serve
/// --statement-timeout`).
pub const DEFAULT_STATEMENT_TIMEOUT: Duration = Duration::from_secs(5);

/// SQLite virtual-machine instructions between two looks at the clock: a
/// few hundred microseconds of work, so a runaway statement stops within a
/// millisecond of its deadline and a short one never pays for the check.
const SQLITE_PROGRESS_OPS: i32 = 10_000;

/// Open a pool on `url` (`sqlite://FILE` or `postgres://...`) of at most
/// `pool_size` connections (PostgreSQL; default
/// [`DEFAULT_POSTGRES_POOL_SIZE`]), on which no statement runs longer than
/// `statement_timeout` (`None`: unbounded, for migrations).
///
/// SQLite is tuned for a server: WAL so readers never wait for the writer, a
/// busy timeout so concurrent writers queue instead of failing, and foreign
/// keys on. A missing SQLite file is created. Connections are checked before
/// use only after 30 s idle, not on every checkout.
///
/// The bound (see [`crate::error::is_timeout`] for how it is answered):
/// - PostgreSQL: `statement_timeout` set at connection start-up, so every
///   pooled connection carries it, lock waits included; the statement is
///   cancelled by the server and the connection stays usable.
/// - SQLite has no statement timeout: a progress handler interrupts a
///   statement once the connection has been checked out for longer than the
///   bound (a transaction's statements share one deadline), and the busy
///   timeout, which bounds waiting for the write lock, is no longer than it.
pub async fn connect(
    url: &str,
    pool_size: Option<u32>,
    statement_timeout: Option<Duration>,
) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_string());
    // sqlx pings a pooled connection on every checkout by default: one more
    // round trip per request (measured: the API's GET at half the req/s).
    // Only a connection idle long enough to have been dropped is checked.
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire_if_idle_for(Duration::from_secs(30));
    let timeout = statement_timeout.filter(|t| !t.is_zero());
    if is_sqlite(url) {
        let busy = timeout.map_or(Duration::from_secs(10), |t| t.min(Duration::from_secs(10)));
        options
            .max_connections(SQLITE_POOL_SIZE)
            .map_sqlx_sqlite_opts(move |o| {
                o.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(busy)
                    .foreign_keys(true)
            });
        if let Some(timeout) = timeout {
            // A new connection is handed out without `before_acquire`, so
            // both hooks arm the deadline.
            options
                .map_sqlx_sqlite_pool_opts(move |pool| {
                    pool.after_connect(move |conn, _| {
                        Box::pin(async move { arm_sqlite_deadline(conn, timeout).await })
                    })
                })
                .map_sqlx_sqlite_before_acquire(move |conn, _| {
                    Box::pin(async move {
                        arm_sqlite_deadline(conn, timeout).await?;
                        Ok(true)
                    })
                });
        }
    } else {
        let size = pool_size.unwrap_or(DEFAULT_POSTGRES_POOL_SIZE).max(1);
        options.max_connections(size).min_connections(1);
        if let Some(timeout) = timeout {
            let millis = timeout.as_millis().max(1).to_string();
            options.map_sqlx_postgres_opts(move |o| {
                o.options([("statement_timeout", millis.as_str())])
            });
        }
    }
    Database::connect(options).await
}

/// Interrupt whatever `conn` runs once `timeout` has passed from now (the
/// checkout): SQLite calls the handler every [`SQLITE_PROGRESS_OPS`]
/// instructions and stops the statement with `SQLITE_INTERRUPT` when it
/// says no. The handler replaces the previous checkout's.
async fn arm_sqlite_deadline(
    conn: &mut sea_orm::sqlx::SqliteConnection,
    timeout: Duration,
) -> Result<(), sea_orm::sqlx::Error> {
    let deadline = Instant::now() + timeout;
    conn.lock_handle()
        .await?
        .set_progress_handler(SQLITE_PROGRESS_OPS, move || Instant::now() < deadline);
    Ok(())
}

/// Open `url` without a statement timeout and apply every pending migration:
/// a migration that rewrites a large table may take longer than a request
/// should.
pub async fn connect_and_migrate(url: &str) -> Result<(), DbErr> {
    let db = connect(url, Some(1), None).await?;
    migrate(&db).await?;
    db.close().await
}

/// Apply every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// How many list queries may run at once by default, on a pool of
/// `pool_size` connections with `cores` cores here: a quarter of the pool,
/// and no more than the cores, at least one. A list costs a core's time
/// while it runs; more lists at once than cores only queue for the same
/// cores while they hold connections, and crowd out the lookups and
/// adapters' reports (the control loop) that run beside them. A database on
/// a bigger machine than the server's can be given more
/// (`serve --list-concurrency`).
pub fn list_share(url: &str, pool_size: Option<u32>, cores: usize) -> usize {
    let size = if is_sqlite(url) {
        SQLITE_POOL_SIZE
    } else {
        pool_size.unwrap_or(DEFAULT_POSTGRES_POOL_SIZE).max(1)
    };
    usize::try_from(size / 4).unwrap_or(1).min(cores).max(1)
}

/// Which statement to cancel if its client goes away: a PostgreSQL backend
/// and the start of the transaction it runs for us. The start tells our
/// transaction from a later one on the same backend, once the connection is
/// back in the pool.
pub struct Running {
    pid: i32,
    xact_start: chrono::DateTime<chrono::FixedOffset>,
}

impl Running {
    /// The select-list items that say who a PostgreSQL transaction is, for
    /// [`Running::from_row`]; a caller adds them to its first statement in
    /// the transaction rather than spend a round trip on them.
    pub const COLUMNS: &'static str = "pg_backend_pid() AS pid, now() AS xact_start";

    /// Who the transaction is, from a row with [`Running::COLUMNS`].
    pub fn from_row(row: &sea_orm::QueryResult) -> Result<Self, DbErr> {
        Ok(Self {
            pid: row.try_get("", "pid")?,
            xact_start: row.try_get("", "xact_start")?,
        })
    }
}

/// Cancels the statement of [`Running`] when dropped before
/// [`CancelOnDrop::disarm`]: the handler future is dropped when its client
/// disconnects (dropshot's `CancelOnDisconnect`), and sqlx, dropping a query
/// midway, would leave PostgreSQL to run it to the end (or the timeout).
pub struct CancelOnDrop {
    db: DatabaseConnection,
    running: Option<Running>,
}

impl CancelOnDrop {
    pub fn new(db: &DatabaseConnection, running: Running) -> Self {
        Self {
            db: db.clone(),
            running: Some(running),
        }
    }

    /// The statements finished: nothing to cancel.
    pub fn disarm(mut self) {
        self.running = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        let Some(running) = self.running.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let db = self.db.clone();
        runtime.spawn(async move {
            // Only while the backend still runs our transaction: the
            // connection may already serve another request.
            let cancel = sea_orm::Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "SELECT pg_cancel_backend(pid) FROM pg_stat_activity \
                 WHERE pid = $1 AND xact_start = $2 AND state = 'active'",
                [running.pid.into(), running.xact_start.into()],
            );
            if let Err(error) = db.execute_raw(cancel).await {
                tracing::warn!(%error, pid = running.pid, "cannot cancel a dropped list query");
            }
        });
    }
}

/// Options for a transaction that writes. On SQLite it takes the write lock
/// up front: a deferred transaction that reads first would fail, not wait,
/// when another writer commits in between. PostgreSQL ignores the mode.
pub fn write_transaction() -> TransactionOptions {
    TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    }
}

/// How many rows `query` matches, as one plain `SELECT COUNT(*) FROM t WHERE
/// ...` (sea-orm's own `count` wraps the whole select in a subquery).
pub async fn count<E: EntityTrait>(
    db: &impl ConnectionTrait,
    query: Select<E>,
) -> Result<u64, DbErr> {
    let total: Option<i64> = query
        .select_only()
        .expr(Expr::cust("COUNT(*)"))
        .into_tuple()
        .one(db)
        .await?;
    Ok(total.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_get_a_quarter_of_the_pool_and_no_more_than_the_cores() {
        let postgres = "postgres://postgres@127.0.0.1/x";
        assert_eq!(list_share(postgres, None, 2), 2);
        assert_eq!(list_share(postgres, None, 64), 8);
        assert_eq!(list_share(postgres, Some(12), 64), 3);
        assert_eq!(list_share(postgres, Some(2), 64), 1);
        assert_eq!(list_share(postgres, None, 1), 1);
        assert_eq!(list_share("sqlite://x.db", Some(100), 64), 2);
    }

    /// SQLite has no statement timeout of its own: the progress handler
    /// stops a statement that would run for minutes, with the error the
    /// server answers 503.
    #[tokio::test]
    async fn sqlite_statements_stop_at_the_timeout() {
        let db = connect("sqlite::memory:", None, Some(Duration::from_millis(100)))
            .await
            .expect("the pool opens");
        let endless = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) \
                       SELECT count(*) FROM n";
        let error = db
            .execute_unprepared(endless)
            .await
            .expect_err("the statement is stopped");
        assert!(crate::error::is_timeout(&error), "{error:?}");
        // The connection went back usable.
        db.execute_unprepared("SELECT 1")
            .await
            .expect("the pool still serves");
    }
}
