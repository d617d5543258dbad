//! State shared by every request handler.

use sea_orm::DatabaseConnection;

use crate::auth::Tokens;

/// What handlers need: the database, the configured adapters, and the
/// tokens that may call.
pub struct ServerContext {
    pub db: DatabaseConnection,
    /// Adapters that must be complete for a cluster to be Ready.
    pub cluster_adapters: Vec<String>,
    /// Adapters that must be complete for a node pool to be Ready.
    pub nodepool_adapters: Vec<String>,
    /// The accepted bearer tokens; `None` when authentication is off.
    pub tokens: Option<Tokens>,
}
