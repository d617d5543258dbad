//! Database connection and schema: one pool for SQLite or PostgreSQL,
//! migrated before the server takes requests.

pub mod entities;
pub mod filter;
pub mod tables;

use std::time::Duration;

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
/// readers beside it.
const SQLITE_POOL_SIZE: u32 = 4;

/// Open a pool on `url` (`sqlite://FILE` or `postgres://...`) of at most
/// `pool_size` connections (PostgreSQL; default
/// [`DEFAULT_POSTGRES_POOL_SIZE`]).
///
/// SQLite is tuned for a server: WAL so readers never wait for the writer, a
/// busy timeout so concurrent writers queue instead of failing, and foreign
/// keys on. A missing SQLite file is created. Connections are checked before
/// use only after 30 s idle, not on every checkout.
pub async fn connect(url: &str, pool_size: Option<u32>) -> Result<DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_string());
    // sqlx pings a pooled connection on every checkout by default: one more
    // round trip per request (measured: the API's GET at half the req/s).
    // Only a connection idle long enough to have been dropped is checked.
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire_if_idle_for(Duration::from_secs(30));
    if is_sqlite(url) {
        options
            .max_connections(SQLITE_POOL_SIZE)
            .map_sqlx_sqlite_opts(|o| {
                o.create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
            });
    } else {
        let size = pool_size.unwrap_or(DEFAULT_POSTGRES_POOL_SIZE).max(1);
        options.max_connections(size).min_connections(1);
    }
    Database::connect(options).await
}

/// Apply every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
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
