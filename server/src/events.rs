//! The read side of the change feed (docs/watch.md): `GET /events` as a
//! stream of Server-Sent Events, the feed's head as this server knows it,
//! and the trimming of old changes and idempotency keys.
//!
//! Every change is a row of `changes` at a dense position that commits in
//! order (`resource::feed`). A stream keeps a cursor: whenever the head
//! moves past it, it reads the rows after it in order and sends those that
//! pass its filters and the caller's scope. Dense positions make trimming
//! visible: if the row after the cursor is gone, the stream has fallen
//! behind the retained log and ends, and its reconnection gets the 410.
//!
//! The head is one row, read by one task per server every
//! [`HEAD_POLL`]: on either backend a change written through another
//! replica reaches this server's streams within that, and a server with no
//! watcher costs one tiny query per tick. Streams wait on a
//! `tokio::sync::watch` of it rather than polling the database each.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use hyper::body::{Body, Frame, SizeHint};
use hyperfleet_api::{LabelSelector, Labels, WatchQuery, glob_matches};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use tokio::sync::{mpsc, watch};

use crate::access::Scope;
use crate::auth::Caller;
use crate::context::ServerContext;
use crate::db::entities::change;
use crate::error::ServiceError;
use crate::resource::{feed, idempotency, row::labels_from_text};

/// How often each server reads the feed's head.
pub const HEAD_POLL: Duration = Duration::from_millis(100);
/// The comment that keeps an idle stream (and the proxies on its way) open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Changes read per query.
const BATCH: u64 = 256;

/// How much of the feed is kept, and how often it is trimmed.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    /// A change is kept while it is among the newest this many...
    pub changes: u64,
    /// ...or younger than this.
    pub age: Duration,
    /// How often old changes (and expired idempotency keys) are removed.
    pub every: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            changes: 100_000,
            age: Duration::from_secs(3600),
            every: Duration::from_secs(30),
        }
    }
}

/// The head when the server starts.
pub async fn follow_start(db: &DatabaseConnection) -> Result<i64, crate::StartError> {
    feed::head(db)
        .await
        .map_err(|e| crate::StartError::Database(sea_orm::DbErr::Custom(e.to_string())))
}

/// Read the head every [`HEAD_POLL`] into `head`, until every receiver is
/// gone.
pub async fn follow_head(db: DatabaseConnection, head: watch::Sender<i64>) {
    let mut tick = tokio::time::interval(HEAD_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if head.is_closed() {
            return;
        }
        match feed::head(&db).await {
            Ok(position) => {
                head.send_if_modified(|known| {
                    let moved = position != *known;
                    *known = position;
                    moved
                });
            }
            Err(error) => tracing::debug!(%error, "cannot read the feed's head"),
        }
    }
}

/// Remove what `retention` no longer keeps, every `retention.every`.
pub async fn trim(db: DatabaseConnection, retention: Retention) {
    let mut tick = tokio::time::interval(retention.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(error) = trim_once(&db, retention).await {
            tracing::warn!(%error, "cannot trim the change feed");
        }
    }
}

async fn trim_once(db: &DatabaseConnection, retention: Retention) -> Result<(), ServiceError> {
    let head = feed::head(db).await?;
    let keep_from = head.saturating_sub(i64::try_from(retention.changes).unwrap_or(i64::MAX));
    let cutoff = Utc::now() - chrono::Duration::from_std(retention.age).unwrap_or_default();
    // Only a prefix may go: the newest change old enough and outside the
    // count bounds what is removed, so positions stay dense above it.
    let newest_old: Option<i64> = change::Entity::find()
        .select_only()
        .column(change::Column::Position)
        .filter(change::Column::CreatedAt.lt(cutoff))
        .filter(change::Column::Position.lte(keep_from))
        .order_by_desc(change::Column::Position)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    if let Some(through) = newest_old {
        change::Entity::delete_many()
            .filter(change::Column::Position.lte(through))
            .exec(db)
            .await?;
    }
    idempotency::trim(db).await?;
    Ok(())
}

/// Open a watch: check where it starts, and return the body that streams
/// the events.
pub async fn watch(
    ctx: &ServerContext,
    caller: &Caller,
    query: WatchQuery,
) -> Result<EventStream, ServiceError> {
    let head = feed::head(&ctx.db).await?;
    let start = match query.since {
        None => head,
        Some(since) if since > head => return Err(ServiceError::ResourceVersionTooOld { since }),
        Some(since) if since == head => since,
        Some(since) => {
            let next = change::Entity::find_by_id(since + 1)
                .select_only()
                .column(change::Column::Position)
                .into_tuple::<i64>()
                .one(&ctx.db)
                .await?;
            if next.is_none() {
                return Err(ServiceError::ResourceVersionTooOld { since });
            }
            since
        }
    };
    let teams = match caller.scope() {
        Scope::All => None,
        Scope::Teams(teams) => Some(teams.to_vec()),
    };
    let (sender, receiver) = mpsc::channel(16);
    let stream = Stream {
        db: ctx.db.clone(),
        head: ctx.feed_head.clone(),
        cursor: start,
        query: Arc::new(query),
        teams,
        sender,
    };
    tokio::spawn(stream.run());
    Ok(EventStream { receiver })
}

/// The body of a watch: what the stream's task sends, until it ends or the
/// client goes (dropping this, which ends the task).
pub struct EventStream {
    receiver: mpsc::Receiver<Bytes>,
}

impl Body for EventStream {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        self.receiver
            .poll_recv(cx)
            .map(|chunk| chunk.map(|bytes| Ok(Frame::data(bytes))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

struct Stream {
    db: DatabaseConnection,
    head: watch::Receiver<i64>,
    cursor: i64,
    query: Arc<WatchQuery>,
    /// The caller's teams; `None`: every team.
    teams: Option<Vec<String>>,
    sender: mpsc::Sender<Bytes>,
}

impl Stream {
    async fn run(mut self) {
        let deadline = tokio::time::Instant::now()
            + Duration::from_secs(u64::from(self.query.timeout_seconds));
        // Something at once, so the client knows the stream is open and
        // from where.
        let hello = format!(": watching after {}\n\n", self.cursor);
        if self.sender.send(Bytes::from(hello)).await.is_err() {
            return;
        }
        // The head may have moved since the start was read.
        self.head.mark_changed();
        loop {
            let waited = tokio::select! {
                changed = self.head.changed() => changed.map(|()| true),
                () = tokio::time::sleep(KEEP_ALIVE) => Ok(false),
                () = tokio::time::sleep_until(deadline) => return,
                () = self.sender.closed() => return,
            };
            let Ok(moved) = waited else {
                return; // the server is stopping
            };
            if !moved {
                if self
                    .sender
                    .send(Bytes::from_static(b": keep-alive\n\n"))
                    .await
                    .is_err()
                {
                    return;
                }
                continue;
            }
            match self.catch_up().await {
                Ok(true) => {}
                Ok(false) => return,
                Err(error) => {
                    tracing::warn!(%error, "a watch stream stops: cannot read the feed");
                    return;
                }
            }
        }
    }

    /// Send every change between the cursor and the head. `Ok(false)`: the
    /// stream is over (the client went, or the feed was trimmed past the
    /// cursor).
    async fn catch_up(&mut self) -> Result<bool, ServiceError> {
        let head = *self.head.borrow_and_update();
        while self.cursor < head {
            let rows = change::Entity::find()
                .filter(change::Column::Position.gt(self.cursor))
                .order_by_asc(change::Column::Position)
                .limit(BATCH)
                .all(&self.db)
                .await?;
            // Every change up to the head committed before the head moved
            // there, so no row is missing unless it was trimmed.
            if rows.is_empty() {
                return Ok(false);
            }
            let mut events = VecDeque::new();
            for row in rows {
                if row.position != self.cursor + 1 {
                    return Ok(false);
                }
                self.cursor = row.position;
                if self.wants(&row)? {
                    events.push_back(format!(
                        "id: {}\nevent: {}\ndata: {{\"kind\":\"{}\",\"object\":{}}}\n\n",
                        row.position, row.event_type, row.kind, row.object
                    ));
                }
            }
            for event in events {
                if self.sender.send(Bytes::from(event)).await.is_err() {
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    fn wants(&self, row: &change::Model) -> Result<bool, ServiceError> {
        let query = &self.query;
        let kind_ok = match row.kind.as_str() {
            "Cluster" => query.kinds.clusters,
            "NodePool" => query.kinds.nodepools,
            _ => false,
        };
        if !kind_ok {
            return Ok(false);
        }
        if let Some(teams) = &self.teams
            && !row.team.as_ref().is_some_and(|team| teams.contains(team))
        {
            return Ok(false);
        }
        if !query.phases.is_empty() && !query.phases.iter().any(|p| p.as_str() == row.phase) {
            return Ok(false);
        }
        if let Some(name) = &query.name
            && !glob_matches(name, &row.name)
        {
            return Ok(false);
        }
        if !query.labels.is_empty() {
            let labels = labels_from_text(&row.labels)?;
            if !query
                .labels
                .iter()
                .all(|selector| selects(selector, &labels))
            {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

fn selects(selector: &LabelSelector, labels: &Labels) -> bool {
    match selector {
        LabelSelector::Exists { key } => labels.contains_key(key),
        LabelSelector::Equals { key, value } => labels.get(key) == Some(value),
    }
}
