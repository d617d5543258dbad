//! State shared by every request handler.

use sea_orm::DatabaseConnection;

/// What handlers need: the database and the configured adapters.
pub struct ServerContext {
    pub db: DatabaseConnection,
    /// Adapters that must be complete for a cluster to be Ready.
    pub cluster_adapters: Vec<String>,
    /// Adapters that must be complete for a node pool to be Ready.
    pub nodepool_adapters: Vec<String>,
}
