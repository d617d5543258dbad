//! The write side of the change feed (docs/watch.md): every change to a
//! cluster or node pool takes the next feed position in the writing
//! transaction, stores it as the row's `resource_version`, and logs the
//! resource as GET now returns it.
//!
//! The position comes from `UPDATE feed_position SET position = position +
//! 1 ... RETURNING position` (migration 000009): the row lock it takes on
//! PostgreSQL holds every other writer at that statement until this
//! transaction ends, so positions commit in order and a reader that sees a
//! position has already seen all below it; a rollback gives its position
//! back, so positions are dense. SQLite runs one write transaction at a
//! time anyway. Every write path locks its resource rows before it gets
//! here, so the order of locks is always resource rows, then this row.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Statement,
};
use uuid::Uuid;

use crate::access::TEAM_LABEL;
use crate::db::entities::{change, cluster};
use crate::error::ServiceError;
use crate::resource::row::{Kind, Row};
use crate::resource::wire::Wire;

/// What happened to the resource, as the feed's `event:` field says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Added,
    Modified,
    Deleted,
}

impl Event {
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Added => "ADDED",
            Event::Modified => "MODIFIED",
            Event::Deleted => "DELETED",
        }
    }
}

/// Take the next feed position, in `txn`.
async fn advance(txn: &impl ConnectionTrait) -> Result<i64, ServiceError> {
    let row = txn
        .query_one_raw(Statement::from_string(
            txn.get_database_backend(),
            "UPDATE feed_position SET position = position + 1 WHERE id = 1 RETURNING position",
        ))
        .await?
        .ok_or_else(|| ServiceError::Corrupt("the feed_position row is missing".into()))?;
    Ok(row.try_get("", "position")?)
}

/// The statement that reads the newest committed feed position.
pub const HEAD: &str = "SELECT position FROM feed_position WHERE id = 1";

/// The newest committed feed position.
pub async fn head(db: &impl ConnectionTrait) -> Result<i64, ServiceError> {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), HEAD))
        .await?
        .ok_or_else(|| ServiceError::Corrupt("the feed_position row is missing".into()))?;
    Ok(row.try_get("", "position")?)
}

/// Record a change of `row` (already written, or for `Deleted` about to
/// be removed, in `txn`): a new position, stored as the row's
/// `resource_version` (in `row` and, unless it is being deleted, in its
/// table), and the change logged with the row's wire form.
pub async fn record<R: Wire>(
    txn: &impl ConnectionTrait,
    row: &mut R,
    event: Event,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let position = advance(txn).await?;
    row.set_resource_version(position);
    if event != Event::Deleted {
        R::Entity::update_many()
            .col_expr(R::COLUMNS.resource_version, Expr::value(position))
            .filter(R::COLUMNS.id.eq(row.id()))
            .exec(txn)
            .await?;
    }
    let team = match R::KIND {
        Kind::Cluster => row.labels()?.remove(TEAM_LABEL),
        Kind::NodePool => cluster_team(txn, row.cluster_id()).await?,
    };
    let object = serde_json::to_string(&row.to_wire()?)
        .map_err(|e| ServiceError::Response(e.to_string()))?;
    change::Entity::insert(change::ActiveModel {
        position: Set(position),
        kind: Set(R::KIND.title().to_string()),
        event_type: Set(event.as_str().to_string()),
        resource_id: Set(row.id()),
        cluster_id: Set(row.cluster_id()),
        name: Set(row.name().to_string()),
        phase: Set(row.phase_text().to_string()),
        labels: Set(row.labels_text().to_string()),
        team: Set(team),
        object: Set(object),
        created_at: Set(now),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Record a change of the stored row `id` of kind `R`, read back from
/// `txn`; its new `resource_version`.
pub async fn record_stored<R: Wire>(
    txn: &impl ConnectionTrait,
    id: Uuid,
    event: Event,
    now: DateTime<Utc>,
) -> Result<i64, ServiceError> {
    let mut row = R::Entity::find()
        .filter(R::COLUMNS.id.eq(id))
        .one(txn)
        .await?
        .ok_or_else(|| ServiceError::Corrupt(format!("{} {id} vanished", R::KIND.title())))?;
    record(txn, &mut row, event, now).await?;
    Ok(row.resource_version())
}

/// The `team` label of a cluster: who owns it and everything in it.
pub async fn cluster_team(
    txn: &impl ConnectionTrait,
    cluster_id: Uuid,
) -> Result<Option<String>, ServiceError> {
    let Some(row) = cluster::Entity::find_by_id(cluster_id).one(txn).await? else {
        return Ok(None);
    };
    Ok(row.labels()?.remove(TEAM_LABEL))
}

/// Check `If-Match` against `row` (locked by the caller, so nobody can
/// change it between this check and the write).
pub fn check_if_match<R: Row>(
    row: &R,
    if_match: Option<&hyperfleet_api::IfMatch>,
) -> Result<(), ServiceError> {
    match if_match {
        Some(wanted) if !wanted.matches(&row.resource_version().to_string()) => {
            Err(ServiceError::PreconditionFailed {
                kind: R::KIND.title(),
                name: row.name().to_string(),
                current: row.resource_version(),
            })
        }
        _ => Ok(()),
    }
}
