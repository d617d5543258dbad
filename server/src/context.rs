//! State shared by every request handler.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

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
}
