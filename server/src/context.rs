//! State shared by every request handler.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::DatabaseConnection;
use tokio::sync::Semaphore;

use crate::aggregation::AggregationConfig;
use crate::auth::Tokens;
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
    /// (`resource::page`).
    pub list_permits: Arc<Semaphore>,
    /// The longest a statement may run (`serve --statement-timeout`); also
    /// the longest a list waits for a permit.
    pub statement_timeout: Duration,
    /// The change feed's newest position, as last read
    /// (`events::follow_head`); watch streams wait on it.
    pub feed_head: tokio::sync::watch::Receiver<i64>,
}
