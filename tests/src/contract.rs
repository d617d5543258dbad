//! Response conformance: every response the end-to-end tests receive is
//! checked against the openapi.yaml schema of its operation and status.
//!
//! How: the test server's base URL is a small recording proxy on
//! 127.0.0.1:0 in front of the real server ([`Proxy`]). Tests and the SDK
//! talk to it unchanged; it forwards each request, validates the answer
//! ([`Contract::check`]) and hands it back as it came. A test that received
//! a non-conforming response fails when its [`crate::TestServer`] is
//! dropped, listing each violation. This needs no change to the SDK or to
//! the tests, and covers the raw `http()` requests as well as SDK calls.
//!
//! The validator is hand-written for the JSON Schema subset dropshot emits
//! (`$ref`, `allOf`/`oneOf`/`anyOf`, `type` with `nullable`, `enum`,
//! `required`, `properties`, `additionalProperties`, `items`, numeric and
//! length bounds, `pattern`, and the `uuid`, `date-time` and sized integer
//! formats): the jsonschema crate would be a heavy build for this.

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// openapi.yaml, parsed once per test binary.
pub struct Contract {
    document: Value,
}

impl Contract {
    /// The checked-in contract.
    pub fn get() -> &'static Contract {
        static CONTRACT: OnceLock<Contract> = OnceLock::new();
        CONTRACT.get_or_init(|| {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml");
            let text =
                std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
            let document =
                yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{path} is not YAML: {e}"));
            Contract { document }
        })
    }

    /// The whole document, for tests that walk it.
    pub fn document(&self) -> &Value {
        &self.document
    }

    /// Check one response. `Ok(true)` when it was validated, `Ok(false)`
    /// when the contract does not describe it (a path outside the document,
    /// such as an unknown route or the unpublished `/openapi.yaml`).
    pub fn check(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: &[u8],
    ) -> Result<bool, String> {
        let Some((template, item)) = self.path_item(path) else {
            return Ok(false);
        };
        let what = format!("{method} {path} -> {status}");
        let Some(operation) = item.get(method.to_ascii_lowercase()) else {
            // Our 405 answer for a method the path does not have.
            if status != 405 {
                return Err(format!(
                    "{what}: {template} has no {method} and the answer is not 405"
                ));
            }
            let schema = serde_json::json!({"$ref": "#/components/schemas/Error"});
            return self.check_body(&what, &schema, body).map(|()| true);
        };
        let responses = operation.get("responses").cloned().unwrap_or(Value::Null);
        let range = format!("{}XX", status / 100);
        let response = responses
            .get(status.to_string())
            .or_else(|| responses.get(&range))
            .or_else(|| responses.get("default"))
            .ok_or_else(|| format!("{what}: status {status} is not documented"))?;
        let response = self.resolve(response);
        let Some(schema) = response.pointer("/content/application~1json/schema") else {
            return Ok(true); // documented without a body
        };
        self.check_body(&what, schema, body).map(|()| true)
    }

    /// Whether the contract describes the answer `status` of `method
    /// path` as a `text/event-stream`.
    pub fn documents_stream(&self, method: &str, path: &str, status: u16) -> Result<(), String> {
        let what = format!("{method} {path} -> {status}");
        let documented = self
            .path_item(path)
            .and_then(|(_, item)| item.get(method.to_ascii_lowercase()))
            .and_then(|operation| operation.get("responses"))
            .and_then(|responses| responses.get(status.to_string()))
            .and_then(|response| response.pointer("/content/text~1event-stream"))
            .is_some();
        if documented {
            Ok(())
        } else {
            Err(format!(
                "{what}: an event stream the contract does not describe"
            ))
        }
    }

    fn check_body(&self, what: &str, schema: &Value, body: &[u8]) -> Result<(), String> {
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            format!(
                "{what}: the body is not JSON ({e}): {}",
                String::from_utf8_lossy(body)
            )
        })?;
        let mut errors = Vec::new();
        self.validate(schema, &value, "body", &mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(format!("{what}: {} in {value}", errors.join("; ")))
        }
    }

    /// The path template matching a concrete path, and its path item.
    fn path_item(&self, path: &str) -> Option<(&str, &Value)> {
        let path = path.split('?').next().unwrap_or(path);
        let segments: Vec<&str> = path.split('/').collect();
        self.document
            .get("paths")?
            .as_object()?
            .iter()
            .find(|(template, _)| {
                let parts: Vec<&str> = template.split('/').collect();
                parts.len() == segments.len()
                    && parts.iter().zip(&segments).all(|(t, s)| {
                        (t.starts_with('{') && t.ends_with('}') && !s.is_empty()) || t == s
                    })
            })
            .map(|(template, item)| (template.as_str(), item))
    }

    /// Follow `$ref`s within the document.
    fn resolve<'a>(&'a self, mut value: &'a Value) -> &'a Value {
        for _ in 0..32 {
            let Some(reference) = value.get("$ref").and_then(Value::as_str) else {
                return value;
            };
            let pointer = reference.trim_start_matches('#');
            match self.document.pointer(pointer) {
                Some(target) => value = target,
                None => return &Value::Null,
            }
        }
        value
    }

    /// Collect every way `value` breaks `schema` into `errors`.
    pub fn validate(&self, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
        let schema = self.resolve(schema);
        let Some(object) = schema.as_object() else {
            return;
        };
        if value.is_null() && object.get("nullable") == Some(&Value::Bool(true)) {
            return;
        }
        for part in object
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.validate(part, value, at, errors);
        }
        for (keyword, exactly_one) in [("oneOf", true), ("anyOf", false)] {
            if let Some(parts) = object.get(keyword).and_then(Value::as_array) {
                let matching = parts
                    .iter()
                    .filter(|part| {
                        let mut scratch = Vec::new();
                        self.validate(part, value, at, &mut scratch);
                        scratch.is_empty()
                    })
                    .count();
                if matching == 0 || (exactly_one && matching > 1) {
                    errors.push(format!(
                        "{at}: matches {matching} of the {keyword} variants"
                    ));
                }
            }
        }
        if let Some(options) = object.get("enum").and_then(Value::as_array)
            && !options.contains(value)
        {
            errors.push(format!("{at}: {value} is not one of {options:?}"));
        }
        let Some(kind) = object.get("type").and_then(Value::as_str) else {
            return;
        };
        let type_ok = match kind {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            _ => true,
        };
        if !type_ok {
            errors.push(format!("{at}: {value} is not of type {kind}"));
            return;
        }
        let number = |key: &str| object.get(key).and_then(Value::as_f64);
        if let Some(n) = value.as_f64() {
            if number("minimum").is_some_and(|min| n < min) {
                errors.push(format!("{at}: {n} is below the minimum"));
            }
            if number("maximum").is_some_and(|max| n > max) {
                errors.push(format!("{at}: {n} is above the maximum"));
            }
            let format = object.get("format").and_then(Value::as_str).unwrap_or("");
            let range = match format {
                "int32" => Some((f64::from(i32::MIN), f64::from(i32::MAX))),
                "uint32" => Some((0.0, f64::from(u32::MAX))),
                "int64" => Some((i64::MIN as f64, i64::MAX as f64)),
                "uint64" => Some((0.0, u64::MAX as f64)),
                _ => None,
            };
            if range.is_some_and(|(low, high)| n < low || n > high) {
                errors.push(format!("{at}: {n} does not fit {format}"));
            }
        }
        if let Some(text) = value.as_str() {
            let length = text.chars().count() as f64;
            if number("minLength").is_some_and(|min| length < min) {
                errors.push(format!("{at}: {text:?} is shorter than minLength"));
            }
            if number("maxLength").is_some_and(|max| length > max) {
                errors.push(format!("{at}: {text:?} is longer than maxLength"));
            }
            if let Some(pattern) = object.get("pattern").and_then(Value::as_str) {
                match regex::Regex::new(pattern) {
                    Ok(re) if re.is_match(text) => {}
                    Ok(_) => errors.push(format!("{at}: {text:?} does not match {pattern}")),
                    Err(e) => errors.push(format!("{at}: bad pattern {pattern}: {e}")),
                }
            }
            match object.get("format").and_then(Value::as_str) {
                Some("uuid") if uuid::Uuid::parse_str(text).is_err() => {
                    errors.push(format!("{at}: {text:?} is not a uuid"));
                }
                Some("date-time") if chrono::DateTime::parse_from_rfc3339(text).is_err() => {
                    errors.push(format!("{at}: {text:?} is not an RFC 3339 date-time"));
                }
                _ => {}
            }
        }
        if let (Some(items), Some(item_schema)) = (value.as_array(), object.get("items")) {
            for (i, item) in items.iter().enumerate() {
                self.validate(item_schema, item, &format!("{at}[{i}]"), errors);
            }
        }
        if let Some(map) = value.as_object() {
            let properties = object.get("properties").and_then(Value::as_object);
            for name in object
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(name) = name.as_str()
                    && !map.contains_key(name)
                {
                    errors.push(format!("{at}: required property {name} is missing"));
                }
            }
            for (key, item) in map {
                let here = format!("{at}.{key}");
                match (
                    properties.and_then(|p| p.get(key)),
                    object.get("additionalProperties"),
                ) {
                    (Some(sub), _) => self.validate(sub, item, &here, errors),
                    (None, Some(Value::Bool(false))) => {
                        errors.push(format!("{here}: property not allowed"));
                    }
                    (None, Some(sub)) if sub.is_object() => self.validate(sub, item, &here, errors),
                    (None, _) => {}
                }
            }
        }
    }
}

/// What the proxy saw: how many responses it checked, and what was wrong.
#[derive(Default)]
pub struct Findings {
    pub checked: AtomicUsize,
    pub violations: Mutex<Vec<String>>,
}

/// A proxy in front of `upstream` that checks every response it relays.
pub struct Proxy {
    /// `http://127.0.0.1:PORT` of the proxy.
    pub base_url: String,
    pub findings: Arc<Findings>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: String) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the contract proxy");
        let base_url = format!("http://{}", listener.local_addr().expect("a bound address"));
        let findings = Arc::new(Findings::default());
        let client = reqwest::Client::new();
        let shared = (Arc::new(upstream), Arc::clone(&findings), client);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (upstream, findings, client) = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        relay(
                            request,
                            Arc::clone(&upstream),
                            Arc::clone(&findings),
                            client.clone(),
                        )
                    });
                    // A client that hangs up mid-request is not a finding.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Proxy {
            base_url,
            findings,
            task,
        }
    }

    /// Every violation seen so far.
    pub fn violations(&self) -> Vec<String> {
        self.findings
            .violations
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the proxy hands back: a whole body, or a stream relayed as it comes.
type Relayed =
    http_body_util::combinators::BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

fn whole(bytes: Bytes) -> Relayed {
    BodyExt::boxed(Full::new(bytes).map_err(|never| match never {}))
}

/// Headers that belong to one connection, not to the message.
const HOP_BY_HOP: [&str; 5] = [
    "connection",
    "host",
    "content-length",
    "transfer-encoding",
    "keep-alive",
];

async fn relay(
    request: hyper::Request<Incoming>,
    upstream: Arc<String>,
    findings: Arc<Findings>,
    client: reqwest::Client,
) -> Result<hyper::Response<Relayed>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let mut forward = client.request(parts.method.clone(), format!("{upstream}{path}"));
    for (name, value) in &parts.headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            forward = forward.header(name, value);
        }
    }
    let record = |problem: String| {
        if let Ok(mut violations) = findings.violations.lock() {
            violations.push(problem);
        }
    };
    let answer = match forward.body(body).send().await {
        Ok(answer) => answer,
        Err(error) => {
            record(format!(
                "{} {path}: no answer from the server: {error}",
                parts.method
            ));
            let mut failed = hyper::Response::new(whole(Bytes::new()));
            *failed.status_mut() = http::StatusCode::BAD_GATEWAY;
            return Ok(failed);
        }
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let streamed = headers
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
    if streamed {
        // A stream never ends by itself: relay it as it comes, after
        // checking that the contract documents a stream for this answer.
        match Contract::get().documents_stream(parts.method.as_str(), &path, status.as_u16()) {
            Ok(()) => {
                findings.checked.fetch_add(1, Ordering::Relaxed);
            }
            Err(problem) => record(problem),
        }
        let frames = futures_util::StreamExt::map(answer.bytes_stream(), |chunk| {
            chunk
                .map(hyper::body::Frame::data)
                .map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
        });
        let mut response =
            hyper::Response::new(BodyExt::boxed(http_body_util::StreamBody::new(frames)));
        *response.status_mut() = status;
        for (name, value) in &headers {
            if !HOP_BY_HOP.contains(&name.as_str()) {
                response.headers_mut().append(name, value.clone());
            }
        }
        return Ok(response);
    }
    let bytes = answer.bytes().await.unwrap_or_default();
    match Contract::get().check(parts.method.as_str(), &path, status.as_u16(), &bytes) {
        Ok(true) => {
            findings.checked.fetch_add(1, Ordering::Relaxed);
        }
        Ok(false) => {}
        Err(problem) => record(problem),
    }
    let mut response = hyper::Response::new(whole(bytes));
    *response.status_mut() = status;
    for (name, value) in &headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            response.headers_mut().append(name, value.clone());
        }
    }
    Ok(response)
}
