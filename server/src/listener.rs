//! Our accept loop around dropshot's per-connection service: connection
//! hygiene (idle, header and body timeouts, a connection cap), the 401
//! decided before a body is read, and the API's error shape on the answers
//! that hyper and dropshot make by themselves.
//!
//! Dropshot 0.18 keeps its accept loop private; the vendored patch
//! (`vendor/dropshot/PATCHED.md`) hands out the bound listener and the
//! per-connection service, and everything else here wraps them. Each
//! connection is HTTP/1.1 (hyper's `http1`), and is watched by its own task:
//!
//! - idle (no request in flight, nothing read since the last answer): closed
//!   after `idle_timeout`;
//! - headers begun (a byte read while idle): they must be complete within
//!   `header_timeout`, else 408 and close;
//! - a request in flight: its body must be read within `body_timeout` of
//!   the headers' end, else 408 and close; the handler itself is not timed.
//!
//! At `max_connections`, a new connection closes the oldest connection that
//! has no request in flight (an idle one, or one still sending headers), so
//! a flood of idle connections cannot starve `/healthz` or a real client;
//! only when every connection is busy is the new one answered 503.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use dropshot::{ServerConnectionHandler, ServerParts, ServerRequestHandler};
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::service::Service;
use hyper_util::rt::TokioIo;
use hyperfleet_api::Error;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::{Instant, Sleep};

use crate::auth::{self, Tokens};
use crate::context::ServerContext;
use crate::error::ConnectionError;
use crate::routes;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Connection limits; the defaults need no flag.
#[derive(Clone, Debug)]
pub struct Limits {
    /// A connection with no request in flight is closed after this long.
    pub idle_timeout: Duration,
    /// A request's headers must be complete this long after their first byte.
    pub header_timeout: Duration,
    /// A request's body must be read this long after its headers ended.
    pub body_timeout: Duration,
    /// Open connections at most (lowered to fit the file limit).
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(60),
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            max_connections: 4096,
        }
    }
}

/// File descriptors kept for everything but client connections: the
/// database pool, the log, the listener, files the process opens.
const RESERVED_FILES: u64 = 256;

/// Raise the soft file limit to the hard one, and return the connection
/// cap that fits under it (`wanted` or less).
pub fn fit_file_limit(wanted: usize) -> usize {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    let soft = match setrlimit(Resource::Nofile, raised) {
        Ok(()) => limit.maximum,
        Err(error) => {
            tracing::warn!(%error, "cannot raise the soft file limit");
            limit.current
        }
    };
    // `None` is "unlimited".
    let Some(soft) = soft else { return wanted };
    let room = usize::try_from(soft.saturating_sub(RESERVED_FILES)).unwrap_or(usize::MAX);
    if room < wanted {
        tracing::warn!(
            file_limit = soft,
            wanted,
            cap = room.max(1),
            "the file limit is too low for the connection cap; lowering the cap"
        );
    }
    wanted.min(room).max(1)
}

/// What every connection's task shares.
struct Shared {
    limits: Limits,
    tokens: Option<Tokens>,
    /// Every operation (method, path template, id), for `Allow` headers.
    operations: Vec<(http::Method, String, String)>,
    connections: Mutex<HashMap<u64, Arc<Conn>>>,
    next_id: AtomicU64,
}

impl Shared {
    fn connections(&self) -> MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        // A panic while holding this lock cannot leave the map half-changed
        // (every change is one insert or remove), so a poisoned lock is
        // still good.
        self.connections
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Register a new connection, closing the oldest one without a request
    /// in flight if the cap is reached; `None` if every one is busy.
    fn admit(&self) -> Option<Arc<Conn>> {
        let mut connections = self.connections();
        if connections.len() >= self.limits.max_connections {
            let oldest = connections
                .values()
                .filter_map(|conn| conn.waiting_since().map(|since| (since, conn.id)))
                .min()
                .map(|(_, id)| id);
            let evicted = connections.remove(&oldest?)?;
            evicted.evict.notify_one();
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            id,
            phase: Mutex::new(Phase::Idle(Instant::now())),
            changed: Notify::new(),
            evict: Notify::new(),
        });
        connections.insert(id, conn.clone());
        Some(conn)
    }
}

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug)]
enum Phase {
    /// Nothing read since it opened or since its last answer.
    Idle(Instant),
    /// The first bytes of a request's headers came at this instant.
    Head(Instant),
    /// A request is being served (from its headers' end until its answer
    /// has been handed to hyper).
    Request,
}

/// One connection's state, shared by its IO, its service and its watcher.
struct Conn {
    id: u64,
    phase: Mutex<Phase>,
    /// Woken when the phase changes, so the watcher picks its next deadline.
    changed: Notify,
    /// Woken when the cap needs this connection's slot.
    evict: Notify,
}

impl Conn {
    fn phase(&self) -> MutexGuard<'_, Phase> {
        // A phase is one plain value: a poisoned lock still holds a valid one.
        self.phase
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn set(&self, phase: Phase) {
        *self.phase() = phase;
        self.changed.notify_one();
    }

    /// Since when this connection has waited for a request, if it has no
    /// request in flight.
    fn waiting_since(&self) -> Option<Instant> {
        match *self.phase() {
            Phase::Idle(since) | Phase::Head(since) => Some(since),
            Phase::Request => None,
        }
    }

    fn on_read(&self) {
        let mut phase = self.phase();
        if let Phase::Idle(_) = *phase {
            *phase = Phase::Head(Instant::now());
            drop(phase);
            self.changed.notify_one();
        }
    }

    /// The request phase, until the guard (carried by the answer's body)
    /// is dropped.
    fn begin_request(self: &Arc<Self>) -> InFlight {
        self.set(Phase::Request);
        InFlight(self.clone())
    }
}

/// A request in flight; dropping it makes the connection idle again.
struct InFlight(Arc<Conn>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.set(Phase::Idle(Instant::now()));
    }
}

/// The running accept loop.
pub struct Listener {
    shutdown: watch::Sender<bool>,
    done: watch::Receiver<bool>,
}

impl Listener {
    /// Start accepting on `parts.listener`.
    pub fn spawn(
        parts: ServerParts<ServerContext>,
        limits: Limits,
        tokens: Option<Tokens>,
        operations: Vec<(http::Method, String, String)>,
    ) -> Self {
        let shared = Arc::new(Shared {
            limits,
            tokens,
            operations,
            connections: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        });
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (done_tx, done) = watch::channel(false);
        tokio::spawn(async move {
            accept_loop(parts, shared, shutdown_rx).await;
            let _ = done_tx.send(true);
        });
        Self { shutdown, done }
    }

    /// Stop accepting, let requests in flight finish (idle connections are
    /// closed at once), and wait for every handler.
    pub async fn stop(&self) {
        let _ = self.shutdown.send(true);
        self.stopped().await;
    }

    /// Resolves when the loop has ended.
    pub async fn stopped(&self) {
        let mut done = self.done.clone();
        let _ = done.wait_for(|done| *done).await;
    }
}

async fn accept_loop(
    parts: ServerParts<ServerContext>,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let ServerParts {
        listener,
        connections,
        handlers_done,
        ..
    } = parts;
    // Each connection task holds a sender; `recv` answers `None` once all
    // are gone.
    let (alive, mut all_closed) = mpsc::channel::<()>(1);
    loop {
        tokio::select! {
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
            accepted = accept(&listener) => {
                let (stream, remote) = accepted;
                start_connection(stream, remote, &connections, &shared, &shutdown, &alive);
            }
        }
    }
    drop(listener);
    drop(connections);
    drop(alive);
    tracing::info!("no longer accepting connections; finishing requests in flight");
    let _ = all_closed.recv().await;
    handlers_done.await;
}

/// The next connection; errors on one connection are skipped, and running
/// out of files (which the cap should prevent) is retried after a pause.
async fn accept(listener: &TcpListener) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(accepted) => return accepted,
            Err(error) => match error.kind() {
                io::ErrorKind::ConnectionRefused
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::ConnectionReset => {}
                _ => {
                    tracing::warn!(%error, "accept error");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
}

fn start_connection(
    stream: TcpStream,
    remote: SocketAddr,
    connections: &ServerConnectionHandler<ServerContext>,
    shared: &Arc<Shared>,
    shutdown: &watch::Receiver<bool>,
    alive: &mpsc::Sender<()>,
) {
    let alive = alive.clone();
    let Some(conn) = shared.admit() else {
        tracing::warn!(%remote, "connection cap reached with every connection busy: 503");
        tokio::spawn(async move {
            let error = ConnectionError::AtCapacity.into_api(&new_request_id());
            let _ = answer_and_close(&stream, &error).await;
            drop(alive);
        });
        return;
    };
    let handler = connections.make_http_request_handler(remote);
    let shared = shared.clone();
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        serve(stream, handler, conn.clone(), &shared, shutdown).await;
        shared.connections().remove(&conn.id);
        drop(alive);
    });
}

/// Why the watcher ends a connection.
enum Expiry {
    Idle,
    Headers,
}

async fn serve(
    stream: TcpStream,
    handler: ServerRequestHandler<ServerContext>,
    conn: Arc<Conn>,
    shared: &Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Small JSON answers: waiting to fill a segment only adds latency.
    let _ = stream.set_nodelay(true);
    let stream = Arc::new(stream);
    let io = TokioIo::new(Io {
        stream: stream.clone(),
        conn: conn.clone(),
        replacement: None,
    });
    let service = ConnService {
        inner: handler,
        conn: conn.clone(),
        shared: shared.clone(),
    };
    let mut http1 = hyper::server::conn::http1::Builder::new();
    // The watcher times headers itself, so it can answer 408.
    http1.header_read_timeout(None);
    let mut connection = Box::pin(http1.serve_connection(io, service));
    let mut closing = false;
    let limits = &shared.limits;
    loop {
        let (at, why) = match *conn.phase() {
            Phase::Idle(since) => (Some(since + limits.idle_timeout), Expiry::Idle),
            Phase::Head(since) => (Some(since + limits.header_timeout), Expiry::Headers),
            Phase::Request => (None, Expiry::Idle),
        };
        let deadline = async move {
            match at {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = connection.as_mut() => return,
            () = conn.changed.notified() => {}
            () = conn.evict.notified() => {
                tracing::debug!("connection closed to make room under the cap");
                return;
            }
            changed = shutdown.changed(), if !closing => {
                if changed.is_err() || *shutdown.borrow() {
                    // Finishes a request in flight, closes an idle connection.
                    connection.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
            () = deadline => {
                // A phase change may have raced the timer.
                let current = *conn.phase();
                match (why, current) {
                    (Expiry::Idle, Phase::Idle(_)) => return,
                    (Expiry::Headers, Phase::Head(_)) => {
                        drop(connection);
                        let secs = limits.header_timeout.as_secs();
                        let error = ConnectionError::HeaderTimeout(secs).into_api(&new_request_id());
                        tracing::info!(request_id = %error.request_id, "request headers timed out: 408");
                        let _ = answer_and_close(&stream, &error).await;
                        return;
                    }
                    _ => {}
                }
            }
        }
    }
}

fn new_request_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The bytes of a whole HTTP/1.1 answer carrying `error`, closing.
fn raw_answer(error: &Error) -> Vec<u8> {
    let status = error.error.status().as_status();
    let body = serde_json::to_vec(error).unwrap_or_default();
    let mut bytes = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\n{}: {}\r\n\
         connection: close\r\n\r\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        dropshot::CONTENT_TYPE_JSON,
        body.len(),
        dropshot::HEADER_REQUEST_ID,
        error.request_id,
    )
    .into_bytes();
    bytes.extend_from_slice(&body);
    bytes
}

/// Write `error` as the connection's last answer; a client that does not
/// read it within a second is not waited for.
async fn answer_and_close(stream: &TcpStream, error: &Error) -> io::Result<()> {
    let bytes = raw_answer(error);
    let write = async {
        let mut written = 0;
        while written < bytes.len() {
            stream.writable().await?;
            match stream.try_write(&bytes[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    };
    tokio::time::timeout(Duration::from_secs(1), write)
        .await
        .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
}

/// The connection's socket as hyper sees it. It tells the connection when
/// a request's first bytes come, and replaces hyper's own answers to
/// requests it cannot parse (400, 414, 431 with an empty body) with the
/// API's error shape. The socket is shared (`Arc`) so the watcher can
/// still answer 408 after dropping hyper's connection.
struct Io {
    stream: Arc<TcpStream>,
    conn: Arc<Conn>,
    /// Our answer in place of hyper's, and how much of it is written.
    replacement: Option<(Vec<u8>, usize)>,
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            ready!(self.stream.poll_read_ready(cx))?;
            match self.stream.try_read(buf.initialize_unfilled()) {
                Ok(n) => {
                    buf.advance(n);
                    if n > 0 {
                        self.conn.on_read();
                    }
                    return Poll::Ready(Ok(()));
                }
                // Readiness was stale; polling again registers the waker.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.replacement.is_none()
            && matches!(*this.conn.phase(), Phase::Head(_))
            && let Some(status) = hyper_answer(buf)
        {
            let message = match status {
                414 => "the request URI is too long",
                431 => "the request's headers are too large",
                _ => "the request is not valid HTTP/1.1",
            };
            let error = ConnectionError::Framework {
                status,
                message: message.into(),
            }
            .into_api(&new_request_id());
            tracing::info!(request_id = %error.request_id, status, "{message}");
            this.replacement = Some((raw_answer(&error), 0));
        }
        if let Some((bytes, written)) = &mut this.replacement {
            while *written < bytes.len() {
                ready!(this.stream.poll_write_ready(cx))?;
                match this.stream.try_write(&bytes[*written..]) {
                    Ok(n) => *written += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Poll::Ready(Err(e)),
                }
            }
            // Hyper's answer counts as written: ours went in its place.
            return Poll::Ready(Ok(buf.len()));
        }
        loop {
            ready!(this.stream.poll_write_ready(cx))?;
            match this.stream.try_write(buf) {
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Writes go straight to the socket.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The socket closes when its last owner drops it.
        Poll::Ready(Ok(()))
    }
}

/// The status of `buf` if it is an answer hyper wrote by itself: an error
/// status line whose head lacks the request id that dropshot puts on every
/// answer it makes. (Hyper writes only such answers before a request
/// reaches the service; the request-id test keeps a pipelined answer that
/// is still being flushed from being taken for one.)
fn hyper_answer(buf: &[u8]) -> Option<u16> {
    let line = buf.strip_prefix(b"HTTP/1.")?;
    let status = std::str::from_utf8(line.get(2..5)?).ok()?.parse().ok()?;
    if !(400..600).contains(&status) {
        return None;
    }
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(buf.len());
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let marker = format!("\r\n{}:", dropshot::HEADER_REQUEST_ID);
    (!head.contains(&marker)).then_some(status)
}

/// Dropshot's service for one connection, wrapped.
struct ConnService {
    inner: ServerRequestHandler<ServerContext>,
    conn: Arc<Conn>,
    shared: Arc<Shared>,
}

type RequestBody = http_body_util::combinators::BoxBody<Bytes, BoxError>;

impl Service<Request<Incoming>> for ConnService {
    type Response = Response<Tracked>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        let in_flight = self.conn.begin_request();
        let shared = self.shared.clone();
        let timed_out = Arc::new(AtomicBool::new(false));
        // Authentication comes before the body: a request under the API
        // without a valid token goes on with an empty body (every handler
        // authenticates before it reads the body, so the answer is the 401)
        // and its own body is never waited for.
        let refuse_body = has_body(&request)
            && shared.tokens.is_some()
            && request.uri().path().starts_with(hyperfleet_api::BASE_PATH)
            && auth::authenticate(shared.tokens.as_ref(), request.headers()).is_err();
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let request: Request<RequestBody> = if refuse_body {
            request.map(|_| {
                http_body_util::Empty::new()
                    .map_err(|never| match never {})
                    .boxed()
            })
        } else {
            let deadline = Box::pin(tokio::time::sleep(shared.limits.body_timeout));
            let timed_out = timed_out.clone();
            request.map(|body| {
                Deadline {
                    body,
                    deadline,
                    timed_out,
                }
                .boxed()
            })
        };
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await?;
            let mut response = if timed_out.load(Ordering::Acquire) {
                let secs = shared.limits.body_timeout.as_secs();
                let error = ConnectionError::BodyTimeout(secs).into_api(&request_id(&response));
                close(error_response(&error, None))
            } else {
                conform(response, &method, &path, &shared).await
            };
            if refuse_body {
                response = close(response);
            }
            Ok(response.map(|body| Tracked {
                body,
                _in_flight: in_flight,
            }))
        })
    }
}

fn has_body(request: &Request<Incoming>) -> bool {
    !request.body().is_end_stream()
}

fn request_id(response: &Response<dropshot::Body>) -> String {
    response
        .headers()
        .get(dropshot::HEADER_REQUEST_ID)
        .and_then(|id| id.to_str().ok())
        .map_or_else(new_request_id, str::to_string)
}

fn close(mut response: Response<dropshot::Body>) -> Response<dropshot::Body> {
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn error_response(error: &Error, allow: Option<String>) -> Response<dropshot::Body> {
    let body = serde_json::to_vec(error).unwrap_or_default();
    let mut response = Response::new(dropshot::Body::from(body));
    *response.status_mut() = error.error.status().as_status();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(dropshot::CONTENT_TYPE_JSON),
    );
    if let Ok(id) = HeaderValue::from_str(&error.request_id) {
        headers.insert(dropshot::HEADER_REQUEST_ID, id);
    }
    if let Some(allow) = allow.and_then(|allow| HeaderValue::from_str(&allow).ok()) {
        headers.insert(header::ALLOW, allow);
    }
    response
}

/// Error bodies bigger than this are ours (dropshot's are a line of JSON).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// `response` in the API's error shape: an error answer that dropshot made
/// itself (an unknown path, bad percent-encoding, an unknown method) is
/// rewritten; ours pass as they are.
async fn conform(
    response: Response<dropshot::Body>,
    method: &http::Method,
    path: &str,
    shared: &Shared,
) -> Response<dropshot::Body> {
    let status = response.status();
    if !status.is_client_error() && !status.is_server_error() {
        return response;
    }
    let id = request_id(&response);
    let (parts, body) = response.into_parts();
    let bytes = match http_body_util::Limited::new(body, MAX_ERROR_BODY)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let value: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
    if value
        .as_ref()
        .is_some_and(|v| v.get("error").is_some_and(serde_json::Value::is_string))
    {
        return Response::from_parts(parts, dropshot::Body::from(bytes));
    }
    let allow = (status == StatusCode::METHOD_NOT_ALLOWED)
        .then(|| routes::allow(&shared.operations, path))
        .flatten();
    let message = match (&allow, status.as_u16()) {
        (Some(allow), _) => format!("{method} is not allowed here; allowed: {allow}"),
        (None, 405) => format!("{method} is not allowed here"),
        (None, 404) => "no such path".to_string(),
        _ => value
            .as_ref()
            .and_then(|v| v.get("message"))
            .and_then(serde_json::Value::as_str)
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error"))
            .to_string(),
    };
    let error = ConnectionError::Framework {
        status: status.as_u16(),
        message,
    }
    .into_api(&id);
    error_response(&error, allow)
}

/// A request body that fails once its deadline passes.
struct Deadline {
    body: Incoming,
    deadline: Pin<Box<Sleep>>,
    timed_out: Arc<AtomicBool>,
}

impl Body for Deadline {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.body).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        ready!(self.deadline.as_mut().poll(cx));
        self.timed_out.store(true, Ordering::Release);
        Poll::Ready(Some(Err("the request body timed out".into())))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// An answer's body, carrying the request's in-flight guard until hyper
/// has taken all of it.
pub struct Tracked {
    body: dropshot::Body,
    _in_flight: InFlight,
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
