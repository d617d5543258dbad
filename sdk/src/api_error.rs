//! The error body of a failed call, with its code as text.
//!
//! The generated [`types::Error`](crate::types::Error) knows the codes of
//! the released contract. Codes added since and answered only to requests
//! that use what came with them (`PreconditionFailed` for `If-Match`,
//! `IdempotencyKeyReused` and `IdempotencyKeyInFlight` for
//! `Idempotency-Key`, `ResourceVersionTooOld` for the change feed) do not
//! parse as that type, and reach the caller as
//! [`Error::InvalidResponsePayload`](crate::Error::InvalidResponsePayload).
//! [`ApiError::of`] reads both the same way.

use serde::Deserialize;

/// What the server said about a failed call, in the error shape every
/// HyperFleet error has.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct ApiError {
    /// The stable error code, e.g. `ClusterNotFound` or `PreconditionFailed`.
    pub error: String,
    /// What went wrong, for people.
    pub message: String,
    /// The request's id, as the server logged it.
    #[serde(default)]
    pub request_id: String,
}

impl ApiError {
    /// The server's error body in `error`, when the call got one: a listed
    /// error ([`Error::ErrorResponse`](crate::Error::ErrorResponse)) or a
    /// body with a code the generated types do not list. `None` for
    /// failures without an error body (connection errors, for instance).
    ///
    /// ```no_run
    /// # async fn demo(client: hyperfleet_sdk::Client) {
    /// use hyperfleet_sdk::api_error::ApiError;
    ///
    /// let stale = client
    ///     .cluster_update()
    ///     .cluster("my-cluster")
    ///     .if_match("\"41\"")
    ///     .body(hyperfleet_sdk::types::ClusterPatch::builder())
    ///     .send()
    ///     .await;
    /// if let Err(e) = stale {
    ///     match ApiError::of(&e) {
    ///         Some(body) if body.error == "PreconditionFailed" => {
    ///             // Someone changed it first: read it again, decide again.
    ///         }
    ///         _ => panic!("{e}"),
    ///     }
    /// }
    /// # }
    /// ```
    pub fn of<E: serde::Serialize>(error: &crate::Error<E>) -> Option<ApiError> {
        match error {
            crate::Error::ErrorResponse(response) => serde_json::to_value(response.as_ref())
                .ok()
                .and_then(|value| ApiError::deserialize(value).ok()),
            crate::Error::InvalidResponsePayload(body, _) => serde_json::from_slice(body).ok(),
            _ => None,
        }
    }
}
