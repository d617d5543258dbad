//! Deletion of any resource kind: a delete makes a resource Terminating at
//! a new generation; once every required adapter has finalized it, the
//! hard delete removes it (a cluster only after its last node pool) and
//! leaves a tombstone, so its id answers "deleted" rather than "not found".
//!
//! Every step runs in the caller's transaction with the resource row
//! locked, cluster before node pool, like every other change.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};
use uuid::Uuid;

use crate::context::ServerContext;
use crate::db::entities::{adapter_status, cluster, nodepool, resource_condition, tombstone};
use crate::error::ServiceError;
use crate::resource::feed::{self, Event};
use crate::resource::row::{Kind, Row, Target, now};
use crate::resource::settle;

/// Delete `row` (locked by the caller): start deleting it, or with `force`
/// remove a resource that is already Terminating at once. A repeated delete
/// changes nothing.
pub async fn delete<R: Row>(
    ctx: &ServerContext,
    txn: &impl ConnectionTrait,
    row: &mut R,
    force: bool,
) -> Result<(), ServiceError> {
    let already = row.is_terminating();
    if force {
        if !already {
            return Err(ServiceError::NotTerminating {
                kind: R::KIND.title(),
                name: row.name().to_string(),
            });
        }
        return remove(ctx, txn, &Target::of(row)?, now()).await;
    }
    if already {
        return Ok(());
    }
    start(ctx, txn, row, now()).await
}

/// Bump `row`'s generation and make it Terminating; remove it at once when
/// no adapter has to finalize it.
pub async fn start<R: Row>(
    ctx: &ServerContext,
    txn: &impl ConnectionTrait,
    row: &mut R,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    row.bump_generation();
    R::Entity::update_many()
        .col_expr(R::COLUMNS.generation, Expr::value(row.generation()))
        .filter(R::COLUMNS.id.eq(row.id()))
        .exec(txn)
        .await?;
    let mut target = Target::of(row)?;
    target.terminating = true;
    let settled = settle::refresh(ctx, txn, &target, now).await?;
    if settled.done {
        remove_when_finalized(ctx, txn, &target, now).await?;
    }
    settled.apply(row, now)?;
    Ok(())
}

/// Called once every required adapter of a Terminating `target` has
/// finalized: remove it, and a Terminating cluster whose last pool it was.
/// A cluster still waits for its last node pool to go.
pub async fn remove_when_finalized(
    ctx: &ServerContext,
    txn: &impl ConnectionTrait,
    target: &Target,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    if target.kind == Kind::Cluster && has_nodepools(txn, target.id).await? {
        return Ok(());
    }
    remove(ctx, txn, target, now).await
}

/// Remove `target` whatever its adapters say (a forced delete): a cluster
/// with its node pools, a node pool and then its cluster if that was
/// waiting only for it.
async fn remove(
    ctx: &ServerContext,
    txn: &impl ConnectionTrait,
    target: &Target,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    match target.kind {
        Kind::Cluster => hard_delete_cluster(txn, target.id, now).await,
        Kind::NodePool => {
            hard_delete_nodepool(txn, target.cluster_id, target.id, now).await?;
            remove_cluster_if_finalized(ctx, txn, target.cluster_id, now).await
        }
    }
}

async fn remove_cluster_if_finalized(
    ctx: &ServerContext,
    txn: &impl ConnectionTrait,
    cluster_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let Some(row) = cluster::Entity::find_by_id(cluster_id)
        .lock_exclusive()
        .one(txn)
        .await?
    else {
        return Ok(());
    };
    let target = Target::of(&row)?;
    if target.terminating
        && !has_nodepools(txn, cluster_id).await?
        && settle::is_done(ctx, txn, &target).await?
    {
        hard_delete_cluster(txn, cluster_id, now).await?;
    }
    Ok(())
}

async fn has_nodepools(txn: &impl ConnectionTrait, cluster_id: Uuid) -> Result<bool, ServiceError> {
    let any = nodepool::Entity::find()
        .select_only()
        .column(nodepool::Column::Id)
        .filter(nodepool::Column::ClusterId.eq(cluster_id))
        .limit(1)
        .into_tuple::<Uuid>()
        .one(txn)
        .await?;
    Ok(any.is_some())
}

/// Remove a cluster, its node pools, their labels and statuses, leaving
/// tombstones.
async fn hard_delete_cluster(
    txn: &impl ConnectionTrait,
    cluster_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let pools: Vec<Uuid> = nodepool::Entity::find()
        .select_only()
        .column(nodepool::Column::Id)
        .filter(nodepool::Column::ClusterId.eq(cluster_id))
        .into_tuple()
        .all(txn)
        .await?;
    let team = feed::cluster_team(txn, cluster_id).await?;
    // The feed says goodbye with each one's last state: pools, then cluster.
    let mut rows = nodepool::Entity::find()
        .filter(nodepool::Column::ClusterId.eq(cluster_id))
        .all(txn)
        .await?;
    rows.sort_by_key(|row| (row.created_at, row.id));
    for row in &mut rows {
        feed::record(txn, row, Event::Deleted, now).await?;
    }
    if let Some(mut row) = cluster::Entity::find_by_id(cluster_id).one(txn).await? {
        feed::record(txn, &mut row, Event::Deleted, now).await?;
    }
    adapter_status::Entity::delete_many()
        .filter(adapter_status::Column::ClusterId.eq(cluster_id))
        .exec(txn)
        .await?;
    // Labels and node pools go with the cluster (ON DELETE CASCADE).
    resource_condition::Entity::delete_many()
        .filter(
            resource_condition::Column::ResourceId
                .is_in(pools.iter().copied().chain(std::iter::once(cluster_id))),
        )
        .exec(txn)
        .await?;
    cluster::Entity::delete_by_id(cluster_id).exec(txn).await?;
    let stones = std::iter::once((cluster_id, Kind::Cluster))
        .chain(pools.into_iter().map(|id| (id, Kind::NodePool)))
        .map(|(id, kind)| tombstone::ActiveModel {
            id: Set(id),
            resource_kind: Set(kind.as_str().to_string()),
            deleted_at: Set(now),
            cluster_id: Set(Some(cluster_id)),
            team: Set(team.clone()),
        });
    tombstone::Entity::insert_many(stones)
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

async fn hard_delete_nodepool(
    txn: &impl ConnectionTrait,
    cluster_id: Uuid,
    nodepool_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    // Before the node pool goes: its cluster outlives it, but read it here
    // so the tombstone is complete whatever happens next.
    let team = feed::cluster_team(txn, cluster_id).await?;
    if let Some(mut row) = nodepool::Entity::find_by_id(nodepool_id).one(txn).await? {
        feed::record(txn, &mut row, Event::Deleted, now).await?;
    }
    adapter_status::Entity::delete_many()
        .filter(adapter_status::Column::ResourceId.eq(nodepool_id))
        .exec(txn)
        .await?;
    resource_condition::Entity::delete_many()
        .filter(resource_condition::Column::ResourceId.eq(nodepool_id))
        .exec(txn)
        .await?;
    nodepool::Entity::delete_by_id(nodepool_id)
        .exec(txn)
        .await?;
    tombstone::Entity::insert(tombstone::ActiveModel {
        id: Set(nodepool_id),
        resource_kind: Set(Kind::NodePool.as_str().to_string()),
        deleted_at: Set(now),
        cluster_id: Set(Some(cluster_id)),
        team: Set(team),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}
