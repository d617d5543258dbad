//! Answers for a known path with an unsupported method.
//!
//! Dropshot's router would answer 405 in its own body shape; registering a
//! handler for every missing method of every path gives the API's error
//! shape and an `Allow` header instead. (Dropshot's own 404 and its 405 for
//! other methods are rewritten by `listener.rs`, which asks [`allow`] here.)

use std::collections::BTreeMap;

use dropshot::{ApiDescription, ApiEndpoint, ApiEndpointVersions, Path, RequestContext};
use http::Method;
use hyperfleet_api::{ClusterPath, Error, ErrorCode, NodePoolPath};

use crate::context::ServerContext;

/// Methods answered with 405 where the contract does not list them.
/// OPTIONS is among them: dropshot would otherwise answer it itself, in its
/// own body shape and with an `Allow` naming every registered handler
/// (these 405 handlers included).
const METHODS: [Method; 6] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
];

/// `operations` is [`operations()`], computed once at start-up.
pub fn register_method_not_allowed(
    api: &mut ApiDescription<ServerContext>,
    operations: &[(Method, String, String)],
) -> Result<(), String> {
    for (path, allowed) in routes(operations) {
        // In the fixed order of METHODS, so the header is stable.
        let allow = METHODS
            .iter()
            .filter(|m| allowed.contains(m))
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        for method in METHODS.iter().filter(|m| !allowed.contains(m)) {
            let id = format!("method_not_allowed_{}_{path}", method.as_str());
            let (method, json) = (method.clone(), dropshot::CONTENT_TYPE_JSON);
            let all = ApiEndpointVersions::All;
            // Dropshot insists that a handler consumes every path variable,
            // so there is one handler shape per set of variables.
            let allow = allow.clone();
            let endpoint = if path.contains("{nodepool}") {
                let handler = move |rqctx: RequestContext<ServerContext>, _: Path<NodePoolPath>| {
                    std::future::ready(method_not_allowed(&rqctx, &allow))
                };
                ApiEndpoint::new(id, handler, method, json, path, all)
            } else if path.contains("{cluster}") {
                let handler = move |rqctx: RequestContext<ServerContext>, _: Path<ClusterPath>| {
                    std::future::ready(method_not_allowed(&rqctx, &allow))
                };
                ApiEndpoint::new(id, handler, method, json, path, all)
            } else {
                let handler = move |rqctx: RequestContext<ServerContext>| {
                    std::future::ready(method_not_allowed(&rqctx, &allow))
                };
                ApiEndpoint::new(id, handler, method, json, path, all)
            };
            api.register(endpoint.visible(false))
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// Every path with the methods it serves.
fn routes(operations: &[(Method, String, String)]) -> BTreeMap<&str, Vec<Method>> {
    let mut routes: BTreeMap<&str, Vec<Method>> = BTreeMap::new();
    for (method, path, _) in operations {
        routes
            .entry(path.as_str())
            .or_default()
            .push(method.clone());
    }
    routes
}

/// Operations the trait serves but the document does not show.
const UNPUBLISHED: [(&str, &str, &str); 3] = [
    ("GET", "/openapi.yaml", "openapi_view"),
    ("GET", "/docs", "docs_view"),
    ("GET", "/metrics", "metrics_view"),
];

/// Every operation: method, path template and operation id, from the
/// document itself so a new endpoint is covered without touching this file.
pub fn operations() -> Result<Vec<(Method, String, String)>, String> {
    let document = hyperfleet_api::openapi_document()?;
    let mut operations = Vec::new();
    if let Some(paths) = document.get("paths").and_then(|p| p.as_object()) {
        for (path, methods) in paths {
            for (method, operation) in methods.as_object().into_iter().flatten() {
                let id = operation.get("operationId").and_then(|id| id.as_str());
                if let (Ok(method), Some(id)) = (
                    Method::from_bytes(method.to_ascii_uppercase().as_bytes()),
                    id,
                ) {
                    operations.push((method, path.clone(), id.to_string()));
                }
            }
        }
    }
    for (method, path, id) in UNPUBLISHED {
        if let Ok(method) = Method::from_bytes(method.as_bytes()) {
            operations.push((method, path.to_string(), id.to_string()));
        }
    }
    Ok(operations)
}

fn method_not_allowed(
    rqctx: &RequestContext<ServerContext>,
    allow: &str,
) -> Result<http::Response<dropshot::Body>, Error> {
    let error = Error::new(
        ErrorCode::MethodNotAllowed,
        format!(
            "{} is not allowed here; allowed: {allow}",
            rqctx.request.method()
        ),
    )
    .with_request_id(&rqctx.request_id);
    let body = serde_json::to_vec(&error)
        .map_err(|e| Error::new(ErrorCode::InternalError, e.to_string()))?;
    http::Response::builder()
        .status(http::StatusCode::METHOD_NOT_ALLOWED)
        .header(http::header::CONTENT_TYPE, dropshot::CONTENT_TYPE_JSON)
        .header(http::header::ALLOW, allow)
        .body(body.into())
        .map_err(|e| Error::new(ErrorCode::InternalError, e.to_string()))
}

/// The `Allow` header for a concrete `path`, if it matches a known path
/// template (a `{variable}` matches any one segment): for the methods
/// dropshot answers 405 itself (HEAD, TRACE, unknown ones).
pub fn allow(operations: &[(Method, String, String)], path: &str) -> Option<String> {
    let segments: Vec<&str> = path.split('/').collect();
    let matches = |template: &str| {
        let parts: Vec<&str> = template.split('/').collect();
        parts.len() == segments.len()
            && parts
                .iter()
                .zip(&segments)
                .all(|(part, segment)| part.starts_with('{') || part == segment)
    };
    let (_, allowed) = routes(operations)
        .into_iter()
        .find(|(template, _)| matches(template))?;
    Some(
        METHODS
            .iter()
            .filter(|m| allowed.contains(m))
            .map(Method::as_str)
            .collect::<Vec<_>>()
            .join(", "),
    )
}
