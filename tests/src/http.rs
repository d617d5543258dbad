//! Plain HTTP for what the SDK refuses to send (invalid bodies, wrong
//! content types, queries typed by hand), and the reading of the answers
//! in the one error shape.

use hyperfleet_sdk::types;
use serde_json::Value;

use crate::TestServer;

/// The status and error of a response in the error shape; panics on any
/// other body, or when the body does not quote the request id of the
/// `x-request-id` header.
pub async fn error_of(response: reqwest::Response) -> (u16, types::Error) {
    let status = response.status().as_u16();
    let header_id = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(String::from)
        .expect("every response carries x-request-id");
    let text = response.text().await.expect("a body");
    let error: types::Error =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not the error shape ({e}): {text}"));
    assert_eq!(
        error.request_id, header_id,
        "the body quotes the request id of the header"
    );
    (status, error)
}

/// Send `body` as `content_type` with `method` to `path`, and read the
/// error it is answered with.
pub async fn send_raw(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, types::Error) {
    let response = server
        .http()
        .request(method, server.url(path))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("the server answers");
    error_of(response).await
}

/// GET `path` (with its query as a user would type it), whatever the
/// answer.
pub async fn get(server: &TestServer, path: &str) -> reqwest::Response {
    server
        .http()
        .get(server.url(path))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path} is answered: {e}"))
}

/// GET `path`, and read the error it is answered with.
pub async fn get_error(server: &TestServer, path: &str) -> (u16, types::Error) {
    error_of(get(server, path).await).await
}

/// GET `path`, which must be refused with 400 `BadRequest` naming exactly
/// `field`: the answer to one bad query parameter.
pub async fn expect_bad_query(server: &TestServer, path: &str, field: &str) {
    let (status, error) = get_error(server, path).await;
    assert_eq!(
        (status, error.error),
        (400, types::ErrorCode::BadRequest),
        "{path}: {error:?}"
    );
    assert_eq!(crate::calls::fields(&error), [field], "{path}: {error:?}");
    assert!(!error.request_id.is_empty());
}

/// GET `path`; it must be answered 200 with a `T`.
pub async fn get_json<T: serde::de::DeserializeOwned>(server: &TestServer, path: &str) -> T {
    let response = get(server, path).await;
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    assert_eq!(status, 200, "{path}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"))
}

/// Send the JSON `body` with `method` to `path`: it must be refused with
/// 400 `ValidationFailed` naming `field` among the details.
pub async fn expect_invalid(
    server: &TestServer,
    method: reqwest::Method,
    path: &str,
    body: &Value,
    field: &str,
) {
    let (status, error) =
        send_raw(server, method, path, "application/json", body.to_string()).await;
    assert_eq!(
        (status, error.error),
        (400, types::ErrorCode::ValidationFailed),
        "{body}"
    );
    assert!(
        error.details.iter().any(|d| d.field == field),
        "{body}: {:?}",
        error.details
    );
}

/// Send `request` as raw bytes on a new connection to `addr`, and read
/// until the server closes it (at most 30 s): the status and the body as
/// JSON (`Value::Null` if it is not JSON).
pub async fn raw_exchange(addr: std::net::SocketAddr, request: &[u8]) -> (u16, Value) {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("the server accepts");
    stream
        .write_all(request)
        .await
        .expect("the request is sent");
    read_answer(&mut stream).await
}

/// Read one answer up to the connection's close (at most 30 s): its status
/// and its body as JSON (`Value::Null` if it is not JSON).
pub async fn read_answer(stream: &mut tokio::net::TcpStream) -> (u16, Value) {
    use tokio::io::AsyncReadExt;
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        stream.read_to_end(&mut bytes),
    )
    .await;
    assert!(
        read.is_ok(),
        "the server closes the connection after answering"
    );
    let text = String::from_utf8_lossy(&bytes);
    let status = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP answer: {text:?}"));
    let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// Check `body` is the error shape with `code`, quoting a request id.
pub fn assert_error_shape(body: &Value, code: &str) {
    assert_eq!(body["error"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(
        body["request_id"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(body["details"], serde_json::json!([]), "{body}");
}
