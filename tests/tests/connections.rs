//! Connection hygiene: idle connections are closed, slow headers and
//! trickled bodies get 408 and a close, a body without a valid token is not
//! waited for, and the server keeps answering at its connection cap and
//! under 2 000 idle connections. The timeouts are cut to a second here so
//! the suite stays fast; the defaults are the same code with other numbers.

use std::net::SocketAddr;
use std::time::Duration;

use hyperfleet_e2e::http::{assert_error_shape, read_answer};
use hyperfleet_e2e::{Backend, TestServer, on_every_backend};
use hyperfleet_server::Limits;
use hyperfleet_server::auth::{Principal, Role, Tokens};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

on_every_backend!(
    start = crate::start;
    idle_connections_are_closed,
    slow_headers_get_408_and_a_close,
    trickled_bodies_get_408,
    a_trickled_body_without_a_token_is_not_waited_for,
);

const TOKEN: &str = "hf_connections-test-token";
const CLUSTERS: &str = "/api/hyperfleet/v1/clusters";

fn tokens() -> Tokens {
    let mut tokens = Tokens::default();
    tokens
        .add(
            TOKEN,
            Principal {
                subject: "alice".into(),
                teams: vec!["alpha".into()],
                role: Role::Member,
            },
        )
        .expect("a token");
    tokens
}

/// Short timeouts, authentication on.
async fn start(backend: Backend) -> Option<TestServer> {
    start_with(backend, |limits| {
        limits.idle_timeout = Duration::from_secs(1);
        limits.header_timeout = Duration::from_secs(1);
        limits.body_timeout = Duration::from_secs(1);
    })
    .await
}

async fn start_with(backend: Backend, edit: impl FnOnce(&mut Limits)) -> Option<TestServer> {
    TestServer::start_configured(backend, |config| {
        config.auth = Some(tokens());
        edit(&mut config.limits);
    })
    .await
}

async fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect(addr).await.expect("the server accepts")
}

/// Whether the server closes `stream` (within 30 s) without sending more.
async fn closed_silently(stream: &mut TcpStream) -> bool {
    let mut rest = Vec::new();
    matches!(
        tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut rest)).await,
        Ok(Ok(0)) | Ok(Err(_))
    )
}

fn get_healthz() -> &'static [u8] {
    b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
}

async fn idle_connections_are_closed(server: TestServer) {
    let addr = server.server_addr();
    // One that never sends a byte.
    let mut silent = connect(addr).await;
    assert!(closed_silently(&mut silent).await);

    // One that is idle after an answer.
    let mut used = connect(addr).await;
    used.write_all(get_healthz()).await.expect("sent");
    let mut answer = [0u8; 12];
    used.read_exact(&mut answer).await.expect("an answer");
    assert_eq!(&answer[9..12], b"200");
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), used.read_to_end(&mut rest)).await;
    assert!(read.is_ok(), "the idle connection is closed");
}

async fn slow_headers_get_408_and_a_close(server: TestServer) {
    let mut stream = connect(server.server_addr()).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .expect("sent");
    let (status, body) = read_answer(&mut stream).await;
    assert_eq!(status, 408, "{body}");
    assert_error_shape(&body, "RequestTimeout");
}

/// A body announced at 100 bytes, of which a few come, one at a time.
fn post_head(token: Option<&str>) -> String {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    format!(
        "POST {CLUSTERS} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{"
    )
}

/// Send `head`, then a byte every 200 ms until the server answers; the
/// answer.
async fn trickle(addr: SocketAddr, head: &str) -> (u16, serde_json::Value) {
    let mut stream = connect(addr).await;
    stream.write_all(head.as_bytes()).await.expect("sent");
    let (mut reader, mut writer) = stream.into_split();
    let trickler = tokio::spawn(async move {
        for _ in 0..90 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if writer.write_all(b" ").await.is_err() {
                break;
            }
        }
    });
    let mut bytes = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), reader.read_to_end(&mut bytes)).await;
    trickler.abort();
    assert!(read.is_ok(), "the server closes the connection");
    let text = String::from_utf8_lossy(&bytes);
    let status = text
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP answer: {text:?}"));
    let body = text.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    (status, serde_json::from_str(body).unwrap_or_default())
}

async fn trickled_bodies_get_408(server: TestServer) {
    let (status, body) = trickle(server.server_addr(), &post_head(Some(TOKEN))).await;
    assert_eq!(status, 408, "{body}");
    assert_error_shape(&body, "RequestTimeout");
}

/// Without a valid token the answer is the 401, not the 408 that waiting
/// for the body would end in.
async fn a_trickled_body_without_a_token_is_not_waited_for(server: TestServer) {
    for token in [None, Some("hf_not-a-known-token")] {
        let (status, body) = trickle(server.server_addr(), &post_head(token)).await;
        assert_eq!(status, 401, "{body}");
        assert_error_shape(&body, "Unauthenticated");
    }
}

/// `/healthz` and an authenticated list through fresh connections.
async fn still_answers(addr: SocketAddr) {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("a client");
    let health = http
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .expect("/healthz is answered");
    assert_eq!(health.status().as_u16(), 200);
    let list = http
        .get(format!("http://{addr}{CLUSTERS}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("the list is answered");
    assert_eq!(list.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_the_cap_healthz_and_authenticated_requests_still_answer() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(server) = start_with(backend, |limits| limits.max_connections = 8).await else {
            continue;
        };
        let addr = server.server_addr();
        let mut held = Vec::new();
        for i in 0..12 {
            let mut stream = connect(addr).await;
            // Some idle, some part-way through their headers.
            if i % 2 == 0 {
                stream
                    .write_all(b"GET /healthz HTTP/1.1\r\n")
                    .await
                    .expect("sent");
            }
            held.push(stream);
        }
        still_answers(addr).await;
        still_answers(addr).await;
        // The cap is real: the oldest connection that never sent a byte
        // made room (its idle timeout is a minute, longer than this waits).
        assert!(closed_silently(&mut held[1]).await, "evicted at the cap");
        drop(held);
    }
}

/// The bound we promise: 2 000 idle connections, and `/healthz` and an
/// authenticated GET are still answered within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_idle_connections_do_not_starve_requests() {
    // The test and the server share this process: 2 000 sockets each side.
    hyperfleet_server::listener::fit_file_limit(usize::MAX);
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(server) = start_with(backend, |_| {}).await else {
            continue;
        };
        let addr = server.server_addr();
        let mut held = Vec::with_capacity(2000);
        for _ in 0..2000 {
            held.push(connect(addr).await);
        }
        let started = std::time::Instant::now();
        still_answers(addr).await;
        let took = started.elapsed();
        assert!(took < Duration::from_secs(1), "answered in {took:?}");
        drop(held);
    }
}
