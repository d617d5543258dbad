//! Bearer-token authentication in the contract: the security scheme of the
//! OpenAPI document, and the response type that can answer 401 with its
//! `WWW-Authenticate` challenge.
//!
//! Why a response type: dropshot turns a handler's custom error type into a
//! response through a serializer that sets the status and the JSON body but
//! no header, and offers no middleware. RFC 9110 requires a 401 to carry
//! `WWW-Authenticate`, so operations behind authentication return
//! [`Guarded`], whose second variant is that 401, built here with the header
//! and the API's one error body. Its OpenAPI metadata is the wrapped
//! response's, so the contract is unchanged by the wrapper.

use dropshot::{ApiEndpointResponse, HttpError, HttpResponse};
use http::StatusCode;

use crate::error::{Error, ErrorCode};

/// Name of the bearer security scheme in `components.securitySchemes`.
pub const BEARER_SCHEME: &str = "bearerAuth";

/// The answer of an operation behind authentication: its typed response, or
/// a 401 `Unauthenticated` with a `WWW-Authenticate` challenge.
#[derive(Debug)]
pub enum Guarded<R> {
    /// The operation ran; this is its response.
    Ok(R),
    /// The request carried no usable credentials.
    Unauthenticated {
        /// The body: an `Unauthenticated` error with the request id.
        error: Error,
        /// The value of the `WWW-Authenticate` header, such as
        /// `Bearer realm="hyperfleet"`.
        challenge: String,
    },
}

impl<R> From<R> for Guarded<R> {
    fn from(response: R) -> Self {
        Guarded::Ok(response)
    }
}

impl<R: HttpResponse> HttpResponse for Guarded<R> {
    fn to_result(self) -> Result<http::Response<dropshot::Body>, HttpError> {
        match self {
            Guarded::Ok(response) => response.to_result(),
            Guarded::Unauthenticated { error, challenge } => {
                debug_assert_eq!(error.error, ErrorCode::Unauthenticated);
                let body = serde_json::to_vec(&error)
                    .map_err(|e| HttpError::for_internal_error(e.to_string()))?;
                Ok(http::Response::builder()
                    .status(StatusCode::UNAUTHORIZED)
                    .header(http::header::CONTENT_TYPE, dropshot::CONTENT_TYPE_JSON)
                    .header(http::header::WWW_AUTHENTICATE, challenge)
                    .body(body.into())?)
            }
        }
    }

    fn response_metadata() -> ApiEndpointResponse {
        R::response_metadata()
    }

    fn status_code(&self) -> StatusCode {
        match self {
            Guarded::Ok(response) => response.status_code(),
            Guarded::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
        }
    }
}

/// Declare the bearer scheme, require it everywhere, and exempt the
/// operations that stay open (the probes), so clients and documentation
/// tools know which requests need `Authorization: Bearer <token>`.
pub(crate) fn add_security(document: &mut serde_json::Value) {
    let Some(root) = document.as_object_mut() else {
        return;
    };
    let scheme = serde_json::json!({
        "type": "http",
        "scheme": "bearer",
        "description": "A token minted with `hyperfleet token new`, sent as \
            `Authorization: Bearer <token>`. Required when the server runs with \
            `--auth`; without it the API is open and ignores the header. A missing \
            or unknown token, or more than one `Authorization` header, is 401 `Unauthenticated` (with `WWW-Authenticate: \
            Bearer`); a token whose role or teams do not allow the request is 403 \
            `PermissionDenied`.",
    });
    let components = root
        .entry("components")
        .or_insert_with(|| serde_json::json!({}));
    if let Some(components) = components.as_object_mut() {
        let schemes = components
            .entry("securitySchemes")
            .or_insert_with(|| serde_json::json!({}));
        if let Some(schemes) = schemes.as_object_mut() {
            schemes.insert(BEARER_SCHEME.into(), scheme);
        }
    }
    root.insert(
        "security".into(),
        serde_json::json!([{ BEARER_SCHEME: [] }]),
    );
    // An empty requirement list overrides the global one: no credentials.
    for path in ["/healthz", "/readyz"] {
        let operations = document
            .pointer_mut(&format!("/paths/{}", path.replace('/', "~1")))
            .and_then(serde_json::Value::as_object_mut);
        for operation in operations.into_iter().flat_map(|ops| ops.values_mut()) {
            if let Some(operation) = operation.as_object_mut() {
                operation.insert("security".into(), serde_json::json!([]));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use dropshot::HttpResponseOk;

    use super::*;

    #[test]
    fn a_challenge_is_a_401_with_the_header_and_the_error_body() {
        let guarded: Guarded<HttpResponseOk<String>> = Guarded::Unauthenticated {
            error: Error::new(ErrorCode::Unauthenticated, "missing bearer token")
                .with_request_id("r-1"),
            challenge: "Bearer realm=\"hyperfleet\"".into(),
        };
        assert_eq!(guarded.status_code(), StatusCode::UNAUTHORIZED);
        let response = guarded.to_result().expect("a response");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers().get(http::header::WWW_AUTHENTICATE),
            Some(&http::HeaderValue::from_static(
                "Bearer realm=\"hyperfleet\""
            ))
        );
        assert_eq!(
            response.headers().get(http::header::CONTENT_TYPE),
            Some(&http::HeaderValue::from_static(dropshot::CONTENT_TYPE_JSON))
        );
    }

    #[test]
    fn a_response_passes_through() {
        let guarded: Guarded<HttpResponseOk<String>> = HttpResponseOk("ok".to_string()).into();
        assert_eq!(guarded.status_code(), StatusCode::OK);
        assert_eq!(
            guarded.to_result().expect("a response").status(),
            StatusCode::OK
        );
    }

    #[test]
    fn the_document_requires_the_bearer_scheme_except_on_probes() {
        let document = crate::openapi_document().expect("a document");
        assert_eq!(
            document.pointer("/components/securitySchemes/bearerAuth/scheme"),
            Some(&serde_json::json!("bearer"))
        );
        assert_eq!(
            document.get("security"),
            Some(&serde_json::json!([{ "bearerAuth": [] }]))
        );
        for open in ["/paths/~1healthz/get", "/paths/~1readyz/get"] {
            assert_eq!(
                document.pointer(&format!("{open}/security")),
                Some(&serde_json::json!([])),
                "{open}"
            );
        }
        assert_eq!(
            document.pointer("/paths/~1api~1hyperfleet~1v1~1clusters/get/security"),
            None,
            "resource operations use the global requirement"
        );
    }
}
