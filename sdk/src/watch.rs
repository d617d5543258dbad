//! The change feed from a client: [`watch`] streams typed events and
//! reconnects by itself; [`wait_for_cluster`] and [`wait_for_nodepool`]
//! wait for a condition with list-then-watch, not polling.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use futures_util::StreamExt;
//! use hyperfleet_sdk::watch::{WatchOptions, WatchObject, watch};
//! use hyperfleet_sdk::Client;
//!
//! let client = Client::new("http://127.0.0.1:8000");
//! let list = client.cluster_list().send().await?.into_inner();
//! let options = WatchOptions {
//!     since: Some(list.resource_version),
//!     kinds: Some("Cluster".into()),
//!     ..WatchOptions::default()
//! };
//! let mut events = Box::pin(watch(&client, options));
//! while let Some(event) = events.next().await {
//!     let event = event?;
//!     if let WatchObject::Cluster(cluster) = &event.object {
//!         println!("{:?} {} {}", event.event_type, cluster.name, cluster.status.phase);
//!     }
//! }
//! # Ok(())
//! # }
//! ```

use std::collections::VecDeque;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::StreamExt;
use serde::Deserialize;

use crate::generated::ClientInfo;
use crate::{Client, types};

/// What to watch; every field is optional (see `GET /events` in the API
/// reference).
#[derive(Clone, Debug, Default)]
pub struct WatchOptions {
    /// Start right after this position (a list's or a resource's
    /// `resource_version`); `None`: from the present.
    pub since: Option<String>,
    /// `Cluster`, `NodePool`, or both comma-separated.
    pub kinds: Option<String>,
    /// A label selector, as for lists.
    pub labels: Option<String>,
    /// A phase or a comma-separated set.
    pub phase: Option<String>,
    /// An exact name or a glob.
    pub name: Option<String>,
    /// How long each connection lasts before the server closes it (and
    /// the stream reconnects); default 300 s.
    pub timeout_seconds: Option<u32>,
}

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    /// Removed for good (hard delete); going `Terminating` is `Modified`.
    Deleted,
}

/// The resource an event is about, as GET returned it after the change.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "kind", content = "object")]
pub enum WatchObject {
    Cluster(types::Cluster),
    NodePool(types::NodePool),
}

/// One change.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchEvent {
    /// The change's position: the resource's new `resource_version`, and
    /// where a watch resumes after it.
    pub resource_version: String,
    pub event_type: EventType,
    pub object: WatchObject,
}

/// Why a watch stopped.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The feed no longer holds the position asked for (410
    /// `ResourceVersionTooOld`): list again and watch from the list's
    /// `resource_version`.
    #[error("the change feed no longer holds position {since}: list again")]
    Expired { since: String },
    /// The API refused the watch (a bad parameter, 401, 403, ...).
    #[error("the API answered {status}: {body}")]
    Api { status: u16, body: String },
    /// The API could not be reached.
    #[error("cannot reach the API: {0}")]
    Transport(#[from] reqwest::Error),
    /// An event the SDK cannot read.
    #[error("cannot read an event: {0}")]
    Decode(String),
}

/// Stream the changes `options` asks for, in order, each exactly once.
///
/// When the server closes a connection (at `timeout_seconds`, or on a
/// network error mid-stream) the stream reconnects from the last event it
/// yielded, so nothing is missed and nothing repeats. It ends only with an
/// error: [`WatchError::Expired`] when the feed has moved past the position
/// (list again), or the first connection's failure. Drop it to stop.
pub fn watch(
    client: &Client,
    options: WatchOptions,
) -> impl Stream<Item = Result<WatchEvent, WatchError>> + Send + 'static {
    let state = State {
        http: client.client().clone(),
        url: format!("{}/api/hyperfleet/v1/events", client.baseurl()),
        last: options.since.clone(),
        options,
        body: None,
        buffer: Vec::new(),
        ready: VecDeque::new(),
        done: false,
    };
    futures_util::stream::unfold(state, |mut state| async move {
        let item = state.next().await?;
        Some((item, state))
    })
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<Bytes>> + Send + Sync>>;

struct State {
    http: reqwest::Client,
    url: String,
    options: WatchOptions,
    /// Where the next connection resumes.
    last: Option<String>,
    body: Option<ByteStream>,
    buffer: Vec<u8>,
    ready: VecDeque<WatchEvent>,
    done: bool,
}

impl State {
    async fn next(&mut self) -> Option<Result<WatchEvent, WatchError>> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                self.last = Some(event.resource_version.clone());
                return Some(Ok(event));
            }
            if self.done {
                return None;
            }
            let Some(body) = self.body.as_mut() else {
                match self.connect().await {
                    Ok(body) => {
                        self.buffer.clear();
                        self.body = Some(body);
                        continue;
                    }
                    Err(error) => {
                        self.done = true;
                        return Some(Err(error));
                    }
                }
            };
            match body.next().await {
                Some(Ok(chunk)) => {
                    self.buffer.extend_from_slice(&chunk);
                    if let Err(error) = self.parse() {
                        self.done = true;
                        return Some(Err(error));
                    }
                }
                // The server closed the stream, or the network failed:
                // resume after the last event.
                Some(Err(_)) | None => self.body = None,
            }
        }
    }

    async fn connect(&self) -> Result<ByteStream, WatchError> {
        let options = &self.options;
        let mut query: Vec<(&str, String)> = Vec::new();
        for (name, value) in [
            ("since", &self.last),
            ("kinds", &options.kinds),
            ("labels", &options.labels),
            ("phase", &options.phase),
            ("name", &options.name),
        ] {
            if let Some(value) = value {
                query.push((name, value.clone()));
            }
        }
        let seconds = options.timeout_seconds.unwrap_or(300);
        query.push(("timeout_seconds", seconds.to_string()));
        let response = self
            .http
            .get(&self.url)
            .query(&query)
            // The client's own timeout is for single answers; a stream
            // lasts until the server closes it.
            .timeout(Duration::from_secs(u64::from(seconds) + 30))
            .send()
            .await?;
        let status = response.status().as_u16();
        if status == 410 {
            return Err(WatchError::Expired {
                since: self.last.clone().unwrap_or_default(),
            });
        }
        if !response.status().is_success() {
            let body = response.text().await.unwrap_or_default();
            return Err(WatchError::Api { status, body });
        }
        Ok(Box::pin(response.bytes_stream()))
    }

    /// Move every complete event of the buffer to `ready`.
    fn parse(&mut self) -> Result<(), WatchError> {
        while let Some(end) = find_blank_line(&self.buffer) {
            let block: Vec<u8> = self.buffer.drain(..end.1).collect();
            let text = String::from_utf8_lossy(&block[..end.0]);
            let (mut id, mut kind, mut data) = (None, None, String::new());
            for line in text.lines() {
                if let Some(value) = line.strip_prefix("id:") {
                    id = Some(value.trim().to_string());
                } else if let Some(value) = line.strip_prefix("event:") {
                    kind = Some(value.trim().to_string());
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push_str(value.trim_start());
                }
            }
            let (Some(id), Some(kind)) = (id, kind) else {
                continue; // a comment (keep-alive)
            };
            let event_type = match kind.as_str() {
                "ADDED" => EventType::Added,
                "MODIFIED" => EventType::Modified,
                "DELETED" => EventType::Deleted,
                other => return Err(WatchError::Decode(format!("unknown event {other:?}"))),
            };
            let object: WatchObject = serde_json::from_str(&data)
                .map_err(|e| WatchError::Decode(format!("event {id}: {e}")))?;
            self.ready.push_back(WatchEvent {
                resource_version: id,
                event_type,
                object,
            });
        }
        Ok(())
    }
}

/// The end of the first event in `buffer`: where its text ends and where
/// the next begins.
fn find_blank_line(buffer: &[u8]) -> Option<(usize, usize)> {
    buffer
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|at| (at, at + 2))
}

/// Why a wait ended without its condition.
#[derive(Debug, thiserror::Error)]
pub enum WaitError<T: std::fmt::Debug> {
    /// The timeout passed; `last` is what was last seen (`None`: gone).
    #[error("timed out; last seen: {last:?}")]
    Timeout { last: Option<T> },
    /// Reading the resource failed.
    #[error("cannot read the resource: {0}")]
    Api(#[from] crate::Error<types::Error>),
    /// Watching failed.
    #[error(transparent)]
    Watch(#[from] WatchError),
}

/// Wait until `done` holds for a cluster (named by id or name), for at
/// most `timeout`. `done` sees the cluster after each change, and `None`
/// once it is gone (deleted for good, or never there), so waiting for a
/// deletion is `|c| c.is_none()`. Returns what satisfied it.
///
/// It reads the cluster once, then watches from that read's
/// `resource_version`, so it returns as soon as the change arrives and
/// misses none in between; if the feed has moved on meanwhile it reads
/// again.
///
/// ```no_run
/// # async fn demo(client: &hyperfleet_sdk::Client) -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use hyperfleet_sdk::{types, watch::wait_for_cluster};
///
/// let ready = wait_for_cluster(client, "my-test-cluster", Duration::from_secs(300), |c| {
///     c.is_some_and(|c| c.status.phase == types::Phase::Ready)
/// })
/// .await?;
/// println!("ready at generation {:?}", ready.map(|c| c.generation));
/// # Ok(())
/// # }
/// ```
pub async fn wait_for_cluster(
    client: &Client,
    cluster: &str,
    timeout: Duration,
    done: impl Fn(Option<&types::Cluster>) -> bool,
) -> Result<Option<types::Cluster>, WaitError<types::Cluster>> {
    let read = || async move {
        match client.cluster_view().cluster(cluster).send().await {
            Ok(found) => Ok(Some(found.into_inner())),
            Err(crate::Error::ErrorResponse(answer)) if answer.status().as_u16() == 404 => Ok(None),
            Err(error) => Err(error),
        }
    };
    wait_for(
        client,
        "Cluster",
        timeout,
        read,
        |c: &types::Cluster| (c.id, c.name.clone(), c.resource_version.clone()),
        |object| match object {
            WatchObject::Cluster(c) => Some(c),
            WatchObject::NodePool(_) => None,
        },
        done,
    )
    .await
}

/// [`wait_for_cluster`] for a node pool of `cluster` (each named by id or
/// name).
pub async fn wait_for_nodepool(
    client: &Client,
    cluster: &str,
    nodepool: &str,
    timeout: Duration,
    done: impl Fn(Option<&types::NodePool>) -> bool,
) -> Result<Option<types::NodePool>, WaitError<types::NodePool>> {
    let read = || async move {
        match client
            .nodepool_view()
            .cluster(cluster)
            .nodepool(nodepool)
            .send()
            .await
        {
            Ok(found) => Ok(Some(found.into_inner())),
            Err(crate::Error::ErrorResponse(answer)) if answer.status().as_u16() == 404 => Ok(None),
            Err(error) => Err(error),
        }
    };
    wait_for(
        client,
        "NodePool",
        timeout,
        read,
        |p: &types::NodePool| (p.id, p.name.clone(), p.resource_version.clone()),
        |object| match object {
            WatchObject::NodePool(p) => Some(p),
            WatchObject::Cluster(_) => None,
        },
        done,
    )
    .await
}

/// List-then-watch for one resource of `kind`.
async fn wait_for<T, R, RF>(
    client: &Client,
    kind: &str,
    timeout: Duration,
    read: R,
    identity: impl Fn(&T) -> (uuid::Uuid, String, String),
    pick: impl Fn(WatchObject) -> Option<T>,
    done: impl Fn(Option<&T>) -> bool,
) -> Result<Option<T>, WaitError<T>>
where
    T: Clone + std::fmt::Debug,
    R: Fn() -> RF,
    RF: std::future::Future<Output = Result<Option<T>, crate::Error<types::Error>>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last: Option<T> = None;
    let outcome = tokio::time::timeout_at(deadline, async {
        loop {
            let current = read().await?;
            if done(current.as_ref()) {
                return Ok(current);
            }
            let Some(current) = current else {
                // Gone, and that is not what we wait for: nothing to watch.
                return Err(WaitError::Timeout { last: None });
            };
            let (id, name, since) = identity(&current);
            last = Some(current);
            let options = WatchOptions {
                since: Some(since),
                kinds: Some(kind.to_string()),
                name: Some(name),
                ..WatchOptions::default()
            };
            let mut events = Box::pin(watch(client, options));
            while let Some(event) = events.next().await {
                let event = match event {
                    Ok(event) => event,
                    // Fell behind the feed: read again.
                    Err(WatchError::Expired { .. }) => break,
                    Err(error) => return Err(error.into()),
                };
                let event_type = event.event_type;
                let Some(object) = pick(event.object) else {
                    continue;
                };
                if identity(&object).0 != id {
                    continue;
                }
                let seen = (event_type != EventType::Deleted).then_some(object);
                if done(seen.as_ref()) {
                    return Ok(seen);
                }
                if seen.is_none() {
                    return Err(WaitError::Timeout { last: None });
                }
                last = seen;
            }
        }
    })
    .await;
    match outcome {
        Ok(result) => result,
        Err(_) => Err(WaitError::Timeout { last }),
    }
}
