//! Updates and deletes (DESIGN.md section 5): merge patches that bump the
//! generation, deletes that make resources Terminating, and the hard delete
//! that follows once adapters have finalized, leaving a tombstone.
//!
//! Every change locks the resource's row first and recomputes phases in the
//! same transaction, so a report racing a patch or a delete sees either the
//! old generation or the new one, never half of each.

use chrono::{DateTime, Utc};
use hyperfleet_api::{
    Cluster, ClusterPatch, ClusterSpec, ErrorCode, Labels, NodePool, NodePoolPatch, NodePoolSpec,
    Phase, validation,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
    TransactionTrait,
};
use std::collections::BTreeMap;
use uuid::Uuid;

use crate::access::Caller;
use crate::context::ServerContext;
use crate::db::entities::{
    adapter_status, cluster, cluster_label, nodepool, nodepool_label, tombstone,
};
use crate::db::write_transaction;
use crate::error::ServiceError;
use crate::status::{self, Kind, Target};
use crate::{resource, status::Settled};

/// Apply a merge patch of labels: a value sets, `null` removes.
fn patch_labels(current: &Labels, patch: Option<BTreeMap<String, Option<String>>>) -> Labels {
    let mut labels = current.clone();
    for (key, value) in patch.unwrap_or_default() {
        match value {
            Some(value) => labels.insert(key, value),
            None => labels.remove(&key),
        };
    }
    labels
}

fn terminating(name: &str, what: &str) -> ServiceError {
    ServiceError::api(
        ErrorCode::ResourceTerminating,
        format!("{what} {name} is being deleted and can no longer be changed"),
    )
}

pub async fn update_cluster(
    ctx: &ServerContext,
    caller: &Caller,
    segment: &str,
    patch: ClusterPatch,
) -> Result<Cluster, ServiceError> {
    caller.check_write()?;
    let txn = ctx.db.begin_with_options(write_transaction()).await?;
    let mut row = crate::cluster::find_locked(&txn, caller, segment).await?;
    if row.phase == Phase::Terminating.as_str() {
        return Err(terminating(&row.name, "Cluster"));
    }
    let labels = resource::labels_from_text(&row.labels)?;
    let spec_patch = patch.spec.unwrap_or_default();
    let spec = ClusterSpec {
        provider: spec_patch.provider.unwrap_or_else(|| row.provider.clone()),
        region: spec_patch.region.unwrap_or_else(|| row.region.clone()),
        node_count: spec_patch.node_count.unwrap_or(row.node_count),
    };
    let new_labels = patch_labels(&labels, patch.labels);
    validation::check_cluster_fields(&spec, &new_labels)?;
    caller.check_team_change(&labels, &new_labels)?;
    let unchanged = spec.provider == row.provider
        && spec.region == row.region
        && spec.node_count == row.node_count
        && new_labels == labels;
    if unchanged {
        return crate::cluster::to_wire(row);
    }

    let now = resource::now();
    row.generation += 1;
    row.provider = spec.provider;
    row.region = spec.region;
    row.node_count = spec.node_count;
    row.labels = resource::labels_to_text(&new_labels)?;
    cluster::Entity::update_many()
        .col_expr(cluster::Column::Generation, Expr::value(row.generation))
        .col_expr(cluster::Column::Provider, Expr::value(row.provider.clone()))
        .col_expr(cluster::Column::Region, Expr::value(row.region.clone()))
        .col_expr(cluster::Column::NodeCount, Expr::value(row.node_count))
        .col_expr(cluster::Column::Labels, Expr::value(row.labels.clone()))
        .filter(cluster::Column::Id.eq(row.id))
        .exec(&txn)
        .await?;
    if new_labels != labels {
        cluster_label::Entity::delete_many()
            .filter(cluster_label::Column::ClusterId.eq(row.id))
            .exec(&txn)
            .await?;
        let rows: Vec<cluster_label::ActiveModel> = new_labels
            .iter()
            .map(|(key, value)| cluster_label::ActiveModel {
                cluster_id: Set(row.id),
                key: Set(key.clone()),
                value: Set(value.clone()),
            })
            .collect();
        if !rows.is_empty() {
            cluster_label::Entity::insert_many(rows)
                .exec_without_returning(&txn)
                .await?;
        }
    }
    let target = Target::try_from(row.clone())?;
    let settled = status::refresh(ctx, &txn, &target, now).await?;
    txn.commit().await?;
    apply_to_cluster(now)(&mut row, &settled);
    crate::cluster::to_wire(row)
}

pub async fn update_nodepool(
    ctx: &ServerContext,
    caller: &Caller,
    cluster_segment: &str,
    segment: &str,
    patch: NodePoolPatch,
) -> Result<NodePool, ServiceError> {
    caller.check_write()?;
    let txn = ctx.db.begin_with_options(write_transaction()).await?;
    let mut row = crate::nodepool::find_locked(&txn, caller, cluster_segment, segment).await?;
    if row.phase == Phase::Terminating.as_str() {
        return Err(terminating(&row.name, "NodePool"));
    }
    let labels = resource::labels_from_text(&row.labels)?;
    let spec_patch = patch.spec.unwrap_or_default();
    let spec = NodePoolSpec {
        node_count: spec_patch.node_count.unwrap_or(row.node_count),
        machine_type: spec_patch
            .machine_type
            .unwrap_or_else(|| row.machine_type.clone()),
    };
    let new_labels = patch_labels(&labels, patch.labels);
    validation::check_nodepool_fields(&spec, &new_labels)?;
    let unchanged = spec.node_count == row.node_count
        && spec.machine_type == row.machine_type
        && new_labels == labels;
    if unchanged {
        return crate::nodepool::to_wire(row);
    }

    let now = resource::now();
    row.generation += 1;
    row.node_count = spec.node_count;
    row.machine_type = spec.machine_type;
    row.labels = resource::labels_to_text(&new_labels)?;
    nodepool::Entity::update_many()
        .col_expr(nodepool::Column::Generation, Expr::value(row.generation))
        .col_expr(nodepool::Column::NodeCount, Expr::value(row.node_count))
        .col_expr(
            nodepool::Column::MachineType,
            Expr::value(row.machine_type.clone()),
        )
        .col_expr(nodepool::Column::Labels, Expr::value(row.labels.clone()))
        .filter(nodepool::Column::Id.eq(row.id))
        .exec(&txn)
        .await?;
    if new_labels != labels {
        nodepool_label::Entity::delete_many()
            .filter(nodepool_label::Column::NodepoolId.eq(row.id))
            .exec(&txn)
            .await?;
        let rows: Vec<nodepool_label::ActiveModel> = new_labels
            .iter()
            .map(|(key, value)| nodepool_label::ActiveModel {
                nodepool_id: Set(row.id),
                key: Set(key.clone()),
                value: Set(value.clone()),
            })
            .collect();
        if !rows.is_empty() {
            nodepool_label::Entity::insert_many(rows)
                .exec_without_returning(&txn)
                .await?;
        }
    }
    let target = Target::try_from(row.clone())?;
    let settled = status::refresh(ctx, &txn, &target, now).await?;
    txn.commit().await?;
    apply_to_nodepool(now)(&mut row, &settled);
    crate::nodepool::to_wire(row)
}

fn apply_to_cluster(now: DateTime<Utc>) -> impl FnOnce(&mut cluster::Model, &Settled) {
    move |row, settled| {
        row.phase = settled.phase.as_str().to_string();
        row.phase_message = settled.message.clone();
        row.phase_changed_at = settled.changed_at;
        row.updated_at = now;
    }
}

fn apply_to_nodepool(now: DateTime<Utc>) -> impl FnOnce(&mut nodepool::Model, &Settled) {
    move |row, settled| {
        row.phase = settled.phase.as_str().to_string();
        row.phase_message = settled.message.clone();
        row.phase_changed_at = settled.changed_at;
        row.updated_at = now;
    }
}

fn not_terminating(name: &str, what: &str) -> ServiceError {
    ServiceError::api(
        ErrorCode::ResourceNotTerminating,
        format!("{what} {name} is not being deleted: delete it first, then force"),
    )
}

/// Start deleting a cluster (or, with `force`, finish at once).
pub async fn delete_cluster(
    ctx: &ServerContext,
    caller: &Caller,
    segment: &str,
    force: bool,
) -> Result<Cluster, ServiceError> {
    caller.check_write()?;
    let txn = ctx.db.begin_with_options(write_transaction()).await?;
    let mut row = crate::cluster::find_locked(&txn, caller, segment).await?;
    let already = row.phase == Phase::Terminating.as_str();
    if force {
        if !already {
            return Err(not_terminating(&row.name, "Cluster"));
        }
        hard_delete_cluster(&txn, row.id, resource::now()).await?;
        txn.commit().await?;
        return crate::cluster::to_wire(row);
    }
    if already {
        return crate::cluster::to_wire(row);
    }

    let now = resource::now();
    row.generation += 1;
    cluster::Entity::update_many()
        .col_expr(cluster::Column::Generation, Expr::value(row.generation))
        .filter(cluster::Column::Id.eq(row.id))
        .exec(&txn)
        .await?;
    // Node pools first: with nothing to wait for they go at once, and the
    // cluster can only go once they have.
    let pools = nodepool::Entity::find()
        .filter(nodepool::Column::ClusterId.eq(row.id))
        .lock_exclusive()
        .all(&txn)
        .await?;
    for pool in pools {
        if pool.phase != Phase::Terminating.as_str() {
            start_terminating_nodepool(ctx, &txn, pool, now).await?;
        }
    }
    let mut target = Target::try_from(row.clone())?;
    target.terminating = true;
    let settled = status::refresh(ctx, &txn, &target, now).await?;
    if settled.done {
        remove_when_finalized(ctx, &txn, &target, now).await?;
    }
    txn.commit().await?;
    apply_to_cluster(now)(&mut row, &settled);
    crate::cluster::to_wire(row)
}

/// Start deleting a node pool (or, with `force`, finish at once).
pub async fn delete_nodepool(
    ctx: &ServerContext,
    caller: &Caller,
    cluster_segment: &str,
    segment: &str,
    force: bool,
) -> Result<NodePool, ServiceError> {
    caller.check_write()?;
    let txn = ctx.db.begin_with_options(write_transaction()).await?;
    // The cluster is locked first, as everywhere, so deletes of a cluster
    // and of its pools cannot deadlock.
    crate::cluster::find_locked(&txn, caller, cluster_segment).await?;
    let row = crate::nodepool::find_locked(&txn, caller, cluster_segment, segment).await?;
    let already = row.phase == Phase::Terminating.as_str();
    if force {
        if !already {
            return Err(not_terminating(&row.name, "NodePool"));
        }
        let now = resource::now();
        hard_delete_nodepool(&txn, row.id, now).await?;
        remove_cluster_if_finalized(ctx, &txn, row.cluster_id, now).await?;
        txn.commit().await?;
        return crate::nodepool::to_wire(row);
    }
    if already {
        return crate::nodepool::to_wire(row);
    }
    let now = resource::now();
    let row = start_terminating_nodepool(ctx, &txn, row, now).await?;
    txn.commit().await?;
    crate::nodepool::to_wire(row)
}

/// Bump a node pool's generation and make it Terminating; remove it at once
/// when no adapter has to finalize it.
async fn start_terminating_nodepool(
    ctx: &ServerContext,
    txn: &impl ConnectionTrait,
    mut row: nodepool::Model,
    now: DateTime<Utc>,
) -> Result<nodepool::Model, ServiceError> {
    row.generation += 1;
    nodepool::Entity::update_many()
        .col_expr(nodepool::Column::Generation, Expr::value(row.generation))
        .filter(nodepool::Column::Id.eq(row.id))
        .exec(txn)
        .await?;
    let mut target = Target::try_from(row.clone())?;
    target.terminating = true;
    let settled = status::refresh(ctx, txn, &target, now).await?;
    if settled.done {
        remove_when_finalized(ctx, txn, &target, now).await?;
    }
    apply_to_nodepool(now)(&mut row, &settled);
    Ok(row)
}

/// Called once every required adapter of a Terminating `target` has
/// finalized: remove it, and a Terminating cluster whose last pool it was.
pub async fn remove_when_finalized(
    ctx: &ServerContext,
    txn: &impl ConnectionTrait,
    target: &Target,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    match target.kind {
        Kind::Cluster => {
            if !has_nodepools(txn, target.id).await? {
                hard_delete_cluster(txn, target.id, now).await?;
            }
        }
        Kind::NodePool => {
            hard_delete_nodepool(txn, target.id, now).await?;
            remove_cluster_if_finalized(ctx, txn, target.cluster_id, now).await?;
        }
    }
    Ok(())
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
    let target = Target::try_from(row)?;
    if target.terminating
        && !has_nodepools(txn, cluster_id).await?
        && status::is_done(ctx, txn, &target).await?
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
    adapter_status::Entity::delete_many()
        .filter(adapter_status::Column::ClusterId.eq(cluster_id))
        .exec(txn)
        .await?;
    // Labels and node pools go with the cluster (ON DELETE CASCADE).
    cluster::Entity::delete_by_id(cluster_id).exec(txn).await?;
    let stones = std::iter::once((cluster_id, Kind::Cluster))
        .chain(pools.into_iter().map(|id| (id, Kind::NodePool)))
        .map(|(id, kind)| tombstone::ActiveModel {
            id: Set(id),
            resource_kind: Set(kind.as_str().to_string()),
            deleted_at: Set(now),
        });
    tombstone::Entity::insert_many(stones)
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

async fn hard_delete_nodepool(
    txn: &impl ConnectionTrait,
    nodepool_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    adapter_status::Entity::delete_many()
        .filter(adapter_status::Column::ResourceId.eq(nodepool_id))
        .exec(txn)
        .await?;
    nodepool::Entity::delete_by_id(nodepool_id)
        .exec(txn)
        .await?;
    tombstone::Entity::insert(tombstone::ActiveModel {
        id: Set(nodepool_id),
        resource_kind: Set(Kind::NodePool.as_str().to_string()),
        deleted_at: Set(now),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}
