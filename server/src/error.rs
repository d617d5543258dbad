//! The only place that turns what went wrong into an HTTP status and a
//! stable error code: every failure of a resource operation is a variant of
//! [`ServiceError`], and [`ServiceError::into_api`] picks its code.

use hyperfleet_api::{Error, ErrorCode};
use sea_orm::DbErr;

/// What a resource operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request broke a value rule of the wire contract; the api crate's
    /// checks already made the answer (every offending field listed).
    #[error("{0}")]
    Invalid(Error),
    /// No valid bearer token; the message says what was wrong with it.
    #[error("{0}")]
    Unauthenticated(&'static str),
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
    /// A change to a resource that is being deleted.
    #[error("{kind} {name} is being deleted and can no longer be changed")]
    Terminating { kind: &'static str, name: String },
    /// A new node pool in a cluster that is being deleted.
    #[error("Cluster {cluster} is being deleted: no new node pools")]
    ParentTerminating { cluster: String },
    /// A forced delete of a resource nobody has deleted yet.
    #[error("{kind} {name} is not being deleted: delete it first, then force")]
    NotTerminating { kind: &'static str, name: String },
    /// A report about a generation the resource has not reached.
    #[error("observed_generation {observed} is above the resource's generation {generation}")]
    GenerationAhead { observed: i64, generation: i64 },
    /// A report older than the one the adapter already sent.
    #[error(
        "adapter {adapter} already reported generation {stored}; this report is for {reported}"
    )]
    StaleStatus {
        adapter: String,
        stored: i64,
        reported: i64,
    },
    /// A report on a Terminating resource that does not say whether the
    /// adapter has finalized it.
    #[error("the resource is being deleted: reports must carry a Finalized condition")]
    FinalizedRequired,
    /// A report from a new adapter on a resource that already keeps the
    /// reports of as many adapters as it may (room for the required ones
    /// that have not reported yet included).
    #[error(
        "{kind} {id} already keeps the reports of {limit} adapters, the most one resource \
         may have (required adapters always fit); adapter {adapter} cannot add another"
    )]
    TooManyAdapters {
        kind: &'static str,
        id: uuid::Uuid,
        adapter: String,
        limit: usize,
    },
    /// `If-Match` named a version the resource no longer has.
    #[error(
        "{kind} {name} is at resource_version {current}, not the one If-Match names; read it \
         again and retry"
    )]
    PreconditionFailed {
        kind: &'static str,
        name: String,
        current: i64,
    },
    /// A create with this `Idempotency-Key` is still being answered.
    #[error(
        "a request with this Idempotency-Key is still in flight; retry once it has been answered"
    )]
    IdempotencyKeyInFlight,
    /// The `Idempotency-Key` was first used with another request.
    #[error(
        "this Idempotency-Key was used with another request (a different body or path); use a \
         new key for a new request"
    )]
    IdempotencyKeyReused,
    /// A watch asked for a position the change feed no longer holds.
    #[error(
        "resource_version {since} is older than the change feed keeps (or not one of this \
         feed's); list again and watch from the list's resource_version"
    )]
    ResourceVersionTooOld { since: i64 },
    /// A statement ran past the statement timeout (`serve
    /// --statement-timeout`) and was stopped; the connection went back to
    /// the pool usable.
    #[error(
        "the query took too long and was stopped (statement timeout); narrow the filters or \
         retry later"
    )]
    QueryTimeout,
    /// Every list permit stayed taken for as long as a statement may run.
    #[error("too many expensive lists are running at once; retry later")]
    Busy,
    /// The readiness probe could not reach the database.
    #[error("the database is unreachable")]
    DatabaseUnreachable,
    /// Stored data the server cannot read back; a bug or a manual edit.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// A response the server failed to build; a bug.
    #[error("cannot build the response: {0}")]
    Response(String),
    #[error("database error: {0}")]
    Database(DbErr),
}

impl From<DbErr> for ServiceError {
    /// Every database error passes here, so a statement stopped by the
    /// timeout is told apart wherever it happens.
    fn from(error: DbErr) -> Self {
        if is_timeout(&error) {
            Self::QueryTimeout
        } else {
            Self::Database(error)
        }
    }
}

impl From<Error> for ServiceError {
    fn from(error: Error) -> Self {
        Self::Invalid(error)
    }
}

impl ServiceError {
    /// The answer for the client. Internal details are logged here, with the
    /// request id, and never sent.
    pub fn into_api(self, request_id: &str) -> Error {
        if let Self::Invalid(error) = self {
            return error.with_request_id(request_id);
        }
        // A limit of the contract, so a 400 on the field that hits it rather
        // than a new code, which the released contract's clients would not
        // know.
        if let Self::TooManyAdapters { .. } = &self {
            return Error::validation(vec![hyperfleet_api::FieldError {
                field: "adapter".into(),
                message: self.to_string(),
            }])
            .with_request_id(request_id);
        }
        let code = match &self {
            Self::Invalid(_) | Self::TooManyAdapters { .. } => ErrorCode::ValidationFailed,
            Self::Unauthenticated(_) => ErrorCode::Unauthenticated,
            Self::ClusterNotFound(_) | Self::ClusterDeleted(_) => ErrorCode::ClusterNotFound,
            Self::NodePoolNotFound { .. } | Self::NodePoolDeleted(_) => ErrorCode::NodePoolNotFound,
            Self::ClusterAlreadyExists(_) => ErrorCode::ClusterAlreadyExists,
            Self::NodePoolAlreadyExists { .. } => ErrorCode::NodePoolAlreadyExists,
            Self::ClusterForbidden | Self::Forbidden(_) => ErrorCode::PermissionDenied,
            Self::Terminating { .. } | Self::ParentTerminating { .. } | Self::FinalizedRequired => {
                ErrorCode::ResourceTerminating
            }
            Self::NotTerminating { .. } => ErrorCode::ResourceNotTerminating,
            Self::GenerationAhead { .. } => ErrorCode::GenerationConflict,
            Self::StaleStatus { .. } => ErrorCode::StaleStatus,
            Self::PreconditionFailed { .. } => ErrorCode::PreconditionFailed,
            Self::IdempotencyKeyInFlight => ErrorCode::IdempotencyKeyInFlight,
            Self::IdempotencyKeyReused => ErrorCode::IdempotencyKeyReused,
            Self::ResourceVersionTooOld { .. } => ErrorCode::ResourceVersionTooOld,
            Self::DatabaseUnreachable | Self::QueryTimeout | Self::Busy => ErrorCode::Unavailable,
            Self::Database(error) if is_unavailable(error) => {
                tracing::warn!(request_id, %error, "database unavailable");
                return Error::new(
                    ErrorCode::Unavailable,
                    "the database is unavailable; retry later",
                )
                .with_request_id(request_id);
            }
            Self::Database(_) | Self::Corrupt(_) | Self::Response(_) => {
                tracing::error!(request_id, error = %self, "request failed");
                return Error::new(ErrorCode::InternalError, "internal error")
                    .with_request_id(request_id);
            }
        };
        Error::new(code, self.to_string()).with_request_id(request_id)
    }
}

/// A statement stopped for running too long: PostgreSQL's `query_canceled`
/// (57014: the statement timeout, or our cancel of a disconnected client's
/// statement, whose answer nobody reads); SQLite's `SQLITE_INTERRUPT` (9,
/// from the progress handler of `db::connect`) and `SQLITE_BUSY` (5 and its
/// extended codes), which the busy timeout, no longer than the statement
/// timeout, gives after waiting that long for the write lock.
pub fn is_timeout(error: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    let (DbErr::Conn(RuntimeErr::SqlxError(e))
    | DbErr::Exec(RuntimeErr::SqlxError(e))
    | DbErr::Query(RuntimeErr::SqlxError(e))) = error
    else {
        return false;
    };
    let Sqlx::Database(db) = e.as_ref() else {
        return false;
    };
    let Some(code) = db.code() else {
        return false;
    };
    if code == "57014" {
        return true;
    }
    // SQLite's extended codes keep the primary code in the low byte.
    code.parse::<i32>()
        .is_ok_and(|code| matches!(code & 0xff, 5 | 9))
        && db
            .try_downcast_ref::<sea_orm::sqlx::sqlite::SqliteError>()
            .is_some()
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

/// What the connection layer (`listener.rs`) answers by itself, around
/// dropshot rather than from an operation; its codes are picked here too.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// The request's headers did not all arrive within the header timeout.
    #[error("the request's headers did not arrive within {0} s; closing the connection")]
    HeaderTimeout(u64),
    /// The request's body did not all arrive within the body timeout.
    #[error("the request's body did not arrive within {0} s; closing the connection")]
    BodyTimeout(u64),
    /// Every connection the server allows is busy with a request.
    #[error("the server is at its connection limit with every connection busy; retry later")]
    AtCapacity,
    /// An answer hyper or dropshot made with a status and its own body (or
    /// none): an unknown path, bad percent-encoding, an unknown method, a
    /// request line or headers past hyper's limits.
    #[error("{message}")]
    Framework { status: u16, message: String },
}

impl ConnectionError {
    /// The answer in the API's error shape. Its status is the code's
    /// (`ErrorCode::status`), which for `Framework` is the status given
    /// except where no code has it (a 4xx without one becomes 400
    /// `BadRequest`).
    pub fn into_api(self, request_id: &str) -> Error {
        let code = match &self {
            Self::HeaderTimeout(_) | Self::BodyTimeout(_) => ErrorCode::RequestTimeout,
            Self::AtCapacity => ErrorCode::Unavailable,
            Self::Framework { status, .. } => match status {
                404 => ErrorCode::NotFound,
                405 => ErrorCode::MethodNotAllowed,
                408 => ErrorCode::RequestTimeout,
                413 => ErrorCode::PayloadTooLarge,
                414 => ErrorCode::UriTooLong,
                431 => ErrorCode::HeadersTooLarge,
                503 => ErrorCode::Unavailable,
                500..=599 => ErrorCode::InternalError,
                _ => ErrorCode::BadRequest,
            },
        };
        Error::new(code, self.to_string()).with_request_id(request_id)
    }
}
