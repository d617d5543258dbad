//! State shared by every request handler.

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::auth::Tokens;
use crate::metrics::Metrics;

/// What handlers need: the database, the configured adapters, the
/// tokens that may call, and the metrics.
pub struct ServerContext {
    pub db: DatabaseConnection,
    /// Adapters that must be complete for a cluster to be Ready.
    pub cluster_adapters: Vec<String>,
    /// Adapters that must be complete for a node pool to be Ready.
    pub nodepool_adapters: Vec<String>,
    /// Request counters, shared with the log drain that feeds them.
    pub metrics: Arc<Metrics>,
    /// The accepted bearer tokens; `None` when authentication is off.
    pub tokens: Option<Tokens>,
}
