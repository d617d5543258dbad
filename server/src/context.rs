//! State shared by every request handler.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr, TransactionTrait};

use crate::aggregation::AggregationConfig;
use crate::auth::Tokens;
use crate::db::write_transaction;
use crate::list_gate::{ListGate, Writing};
use crate::metrics::Metrics;

/// What handlers need: the database, the configured adapters, the
/// tokens that may call, and the metrics.
pub struct ServerContext {
    pub db: DatabaseConnection,
    /// The adapters that must be complete for a cluster or node pool to be
    /// Ready, and the order they run in.
    pub aggregation: AggregationConfig,
    /// Request counters, shared with the log drain that feeds them.
    pub metrics: Arc<Metrics>,
    /// The accepted bearer tokens; `None` when authentication is off.
    pub tokens: Option<Tokens>,
    /// How many list queries may run at once: fewer than the pool has
    /// connections, so lookups and adapters' reports always find one
    /// (`resource::page`), and one fewer while writes are in flight.
    pub list_gate: ListGate,
    /// The longest a statement may run (`serve --statement-timeout`); also
    /// the longest a list waits for a permit.
    pub statement_timeout: Duration,
    /// The change feed's newest position, as last read
    /// (`events::follow_head`); watch streams wait on it.
    pub feed_head: tokio::sync::watch::Receiver<i64>,
}

impl ServerContext {
    /// Begin a write transaction, counted as in flight for the list gate
    /// until the returned guard is dropped: keep it until the transaction
    /// ends.
    pub async fn begin_write(&self) -> Result<(Writing<'_>, DatabaseTransaction), DbErr> {
        let writing = self.list_gate.writing();
        let txn = self.db.begin_with_options(write_transaction()).await?;
        Ok((writing, txn))
    }
}
