//! The only place that turns what went wrong into an HTTP status and a
//! stable error code.

use hyperfleet_api::{Error, ErrorCode};
use sea_orm::DbErr;

/// What a resource operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is already an answer (validation failures).
    #[error("{0}")]
    Api(Error),
    #[error("Cluster {0} not found")]
    ClusterNotFound(String),
    #[error("NodePool {nodepool} not found in cluster {cluster}")]
    NodePoolNotFound { cluster: String, nodepool: String },
    #[error("Cluster {0} has been successfully deleted")]
    ClusterDeleted(uuid::Uuid),
    #[error("NodePool {0} has been successfully deleted")]
    NodePoolDeleted(uuid::Uuid),
    #[error("Cluster {0} already exists")]
    ClusterAlreadyExists(String),
    #[error("NodePool {nodepool} already exists in cluster {cluster}")]
    NodePoolAlreadyExists { cluster: String, nodepool: String },
    /// Another team's cluster, or something inside it. The message is the
    /// seed's (journey J6), word for word.
    #[error("User does not have permission to access this cluster")]
    ClusterForbidden,
    /// The caller's role or teams do not allow this change.
    #[error("{0}")]
    Forbidden(String),
    /// Stored data the server cannot read back; a bug or a manual edit.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] DbErr),
}

impl From<Error> for ServiceError {
    fn from(error: Error) -> Self {
        Self::Api(error)
    }
}

impl ServiceError {
    /// An answer with `code` and `message`, for rules that need no variant
    /// of their own (conflicts of state).
    pub fn api(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::Api(Error::new(code, message))
    }

    /// The answer for the client. Internal details are logged here, with the
    /// request id, and never sent.
    pub fn into_api(self, request_id: &str) -> Error {
        let (code, message) = match &self {
            Self::Api(_) => {
                let Self::Api(error) = self else {
                    unreachable!()
                };
                return error.with_request_id(request_id);
            }
            Self::ClusterNotFound(_) | Self::ClusterDeleted(_) => {
                (ErrorCode::ClusterNotFound, self.to_string())
            }
            Self::NodePoolDeleted(_) => (ErrorCode::NodePoolNotFound, self.to_string()),
            Self::NodePoolNotFound { .. } => (ErrorCode::NodePoolNotFound, self.to_string()),
            Self::ClusterAlreadyExists(_) => (ErrorCode::ClusterAlreadyExists, self.to_string()),
            Self::NodePoolAlreadyExists { .. } => {
                (ErrorCode::NodePoolAlreadyExists, self.to_string())
            }
            Self::ClusterForbidden | Self::Forbidden(_) => {
                (ErrorCode::PermissionDenied, self.to_string())
            }
            Self::Database(error) if is_unavailable(error) => {
                tracing::warn!(request_id, %error, "database unavailable");
                (
                    ErrorCode::Unavailable,
                    "the database is unavailable; retry later".to_string(),
                )
            }
            Self::Database(_) | Self::Corrupt(_) => {
                tracing::error!(request_id, error = %self, "request failed");
                (ErrorCode::InternalError, "internal error".to_string())
            }
        };
        Error::new(code, message).with_request_id(request_id)
    }
}

/// Errors that mean "cannot reach the database" rather than "the query is
/// wrong": the client should retry, so they are 503, not 500.
pub fn is_unavailable(error: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    match error {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(RuntimeErr::SqlxError(e))
        | DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e)) => match e.as_ref() {
            Sqlx::Io(_)
            | Sqlx::Tls(_)
            | Sqlx::Protocol(_)
            | Sqlx::PoolTimedOut
            | Sqlx::PoolClosed
            | Sqlx::WorkerCrashed => true,
            // SQLSTATE class 08 (connection exception) and 57P (the server
            // is shutting down, crashed, or not yet accepting): a pooled
            // connection meets these when PostgreSQL goes away under it.
            Sqlx::Database(db) => db
                .code()
                .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
            _ => false,
        },
        DbErr::Conn(_) => true,
        _ => false,
    }
}
