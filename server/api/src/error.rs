//! The one error shape of every HyperFleet response (docs/errors.md).
//!
//! The status code is a function of the error code, so a client can branch on
//! `error` alone and the two can never disagree.

use dropshot::{ErrorStatusCode, HttpError, HttpResponseError};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Header that carries the request id on extractor errors until they are
/// turned into an [`Error`]; dropshot sets the same header on every response.
pub const REQUEST_ID_HEADER: &str = dropshot::HEADER_REQUEST_ID;

/// A stable, machine-readable error code. Each code always comes with the
/// same HTTP status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ErrorCode {
    /// 400: a field of the request has a value the API does not accept.
    ValidationFailed,
    /// 400: the request could not be read at all (malformed JSON, a body
    /// that is more than one JSON value, wrong content type, bad query
    /// string).
    BadRequest,
    /// 401: the request carries no valid credentials.
    Unauthenticated,
    /// 403: the caller may not act on this resource.
    PermissionDenied,
    /// 404: no route or resource matches the request.
    NotFound,
    /// 404: the cluster does not exist (or has been deleted).
    ClusterNotFound,
    /// 404: the node pool does not exist (or has been deleted).
    NodePoolNotFound,
    /// 405: the path exists but does not support this method.
    MethodNotAllowed,
    /// 409: a cluster with this name already exists.
    ClusterAlreadyExists,
    /// 409: a node pool with this name already exists in the cluster.
    NodePoolAlreadyExists,
    /// 409: the resource is being deleted and no longer accepts this change.
    ResourceTerminating,
    /// 409: the operation needs a resource that is being deleted.
    ResourceNotTerminating,
    /// 409: the adapter already reported a newer generation.
    StaleStatus,
    /// 409: the report names a generation the resource has not reached.
    GenerationConflict,
    /// 413: the request body is larger than the API accepts.
    PayloadTooLarge,
    /// 500: the server failed; the log has the details, the answer does not.
    InternalError,
    /// 503: a dependency (the database) is unreachable, the server is at
    /// its connection cap, or a query ran longer than the statement timeout
    /// and was stopped; retry later.
    Unavailable,
    // The three below answer requests that never reached an operation: the
    // connection layer sends them (docs/errors.md, "Connection answers").
    // They are left out of the document because no operation returns them,
    // and a client of the released contract reading an operation's answer
    // never meets them.
    /// 408: the request's headers or body did not arrive in time.
    #[schemars(skip)]
    RequestTimeout,
    /// 414: the request's URI is longer than the server reads.
    #[schemars(skip)]
    UriTooLong,
    /// 431: the request's headers are larger than the server reads.
    #[schemars(skip)]
    HeadersTooLarge,
    // The four below answer only requests that use what the released
    // contract did not have (`If-Match`, `Idempotency-Key`, the change
    // feed), so no client of it ever meets them; they are left out of the
    // document's enum for the same reason as the three above, and listed in
    // docs/errors.md and in the descriptions of the operations that send
    // them.
    /// 412: `If-Match` names a version the resource no longer has.
    #[schemars(skip)]
    PreconditionFailed,
    /// 409: a create with this `Idempotency-Key` is still being answered.
    #[schemars(skip)]
    IdempotencyKeyInFlight,
    /// 422: this `Idempotency-Key` was used with another request.
    #[schemars(skip)]
    IdempotencyKeyReused,
    /// 410: the change feed no longer holds the position asked for.
    #[schemars(skip)]
    ResourceVersionTooOld,
}

impl ErrorCode {
    /// The HTTP status that always accompanies this code.
    pub fn status(self) -> ErrorStatusCode {
        match self {
            Self::ValidationFailed | Self::BadRequest => ErrorStatusCode::BAD_REQUEST,
            Self::Unauthenticated => ErrorStatusCode::UNAUTHORIZED,
            Self::PermissionDenied => ErrorStatusCode::FORBIDDEN,
            Self::NotFound | Self::ClusterNotFound | Self::NodePoolNotFound => {
                ErrorStatusCode::NOT_FOUND
            }
            Self::MethodNotAllowed => ErrorStatusCode::METHOD_NOT_ALLOWED,
            Self::ClusterAlreadyExists
            | Self::NodePoolAlreadyExists
            | Self::ResourceTerminating
            | Self::ResourceNotTerminating
            | Self::StaleStatus
            | Self::GenerationConflict
            | Self::IdempotencyKeyInFlight => ErrorStatusCode::CONFLICT,
            Self::PreconditionFailed => ErrorStatusCode::PRECONDITION_FAILED,
            Self::IdempotencyKeyReused => ErrorStatusCode::UNPROCESSABLE_ENTITY,
            Self::ResourceVersionTooOld => ErrorStatusCode::GONE,
            Self::PayloadTooLarge => ErrorStatusCode::PAYLOAD_TOO_LARGE,
            Self::InternalError => ErrorStatusCode::INTERNAL_SERVER_ERROR,
            Self::Unavailable => ErrorStatusCode::SERVICE_UNAVAILABLE,
            Self::RequestTimeout => ErrorStatusCode::REQUEST_TIMEOUT,
            Self::UriTooLong => ErrorStatusCode::URI_TOO_LONG,
            Self::HeadersTooLarge => ErrorStatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        }
    }

    /// The code for an error that dropshot produced with only a status.
    fn for_status(status: ErrorStatusCode) -> Self {
        match status.as_u16() {
            404 => Self::NotFound,
            405 => Self::MethodNotAllowed,
            413 => Self::PayloadTooLarge,
            503 => Self::Unavailable,
            500..=599 => Self::InternalError,
            _ => Self::BadRequest,
        }
    }
}

/// One offending field of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FieldError {
    /// Where the problem is: a dotted path into the body (`spec.nodeCount`),
    /// or the name of a query or path parameter (`size`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// The body of every error response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(example = "Error::example")]
pub struct Error {
    /// Stable error code; the HTTP status follows from it.
    pub error: ErrorCode,
    /// Human-readable explanation.
    pub message: String,
    /// The id of the request, also sent as the `x-request-id` header; quote it
    /// when reporting a problem.
    pub request_id: String,
    /// The offending fields, for validation errors; empty otherwise.
    #[serde(default)]
    pub details: Vec<FieldError>,
}

impl Error {
    /// An error without field details and without a request id yet.
    pub fn new(error: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error,
            message: message.into(),
            request_id: String::new(),
            details: Vec::new(),
        }
    }

    /// A 400 `ValidationFailed` listing every offending field.
    pub fn validation(details: Vec<FieldError>) -> Self {
        let message = match details.as_slice() {
            [one] => format!("invalid request: {}: {}", one.field, one.message),
            many => format!("invalid request: {} fields are invalid", many.len()),
        };
        Self {
            details,
            ..Self::new(ErrorCode::ValidationFailed, message)
        }
    }

    /// Attach the id of the request this error answers.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.request_id = request_id.into();
        self
    }

    fn example() -> Self {
        Self {
            error: ErrorCode::ValidationFailed,
            message: "invalid request: spec.nodeCount: must be between 1 and 1000".into(),
            request_id: "2c0dc8a8-5ae5-4a3c-9d43-6f7c3b1c2a9e".into(),
            details: vec![FieldError {
                field: "spec.nodeCount".into(),
                message: "must be between 1 and 1000".into(),
            }],
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.error, self.message)
    }
}

impl std::error::Error for Error {}

impl HttpResponseError for Error {
    fn status_code(&self) -> ErrorStatusCode {
        self.error.status()
    }
}

/// Errors that dropshot raises itself (response serialization, a failing
/// built-in extractor) come through here; our extractors tag them with the
/// request id header so the body can carry it too.
impl From<HttpError> for Error {
    fn from(error: HttpError) -> Self {
        let request_id = error
            .headers
            .as_ref()
            .and_then(|headers| headers.get(REQUEST_ID_HEADER))
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let code = ErrorCode::for_status(error.status_code);
        let message = if code == ErrorCode::InternalError {
            "internal error".to_string()
        } else {
            error.external_message
        };
        Self::new(code, message).with_request_id(request_id)
    }
}
