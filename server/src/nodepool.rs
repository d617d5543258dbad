//! Node pools: create inside a cluster, view, list, update and delete, each
//! as the caller may (a node pool belongs to its cluster's team).

use hyperfleet_api::{
    IfMatch, Labels, NodePool, NodePoolCreateRequest, NodePoolList, NodePoolListAllParams,
    NodePoolListKind, NodePoolListParams, NodePoolPatch, NodePoolQuery, NodePoolSpec,
    check_idempotency_key, check_nodepool_list, check_nodepool_list_all, validation,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, SqlErr, Value};
use uuid::Uuid;

use crate::access::Scope;
use crate::auth::Caller;
use crate::cluster;
use crate::context::ServerContext;
use crate::db::entities::nodepool;
use crate::db::filter;
use crate::db::tables::{NODEPOOL_LABELS, NODEPOOLS};
use crate::error::ServiceError;
use crate::resource::feed::{self, Event};
use crate::resource::idempotency::{self, Claim, Created, Keyed};
use crate::resource::reference::{Lookup, lookup};
use crate::resource::row::{self, Kind, Row, labels_to_text, now};
use crate::resource::wire::Wire;
use crate::resource::{deletion, labels, page, settle, update};

/// Create a node pool; with an `Idempotency-Key`, at most once per key
/// (see [`idempotency::once`]).
pub async fn create(
    ctx: &ServerContext,
    caller: &Caller,
    cluster_segment: &str,
    key: Option<String>,
    request: NodePoolCreateRequest,
) -> Result<Created<NodePool>, ServiceError> {
    caller.check_write()?;
    validation::check_nodepool_create(&request)?;
    let keyed = match key {
        Some(key) => {
            check_idempotency_key(&key)?;
            let body = serde_json::to_string(&request)
                .map_err(|e| ServiceError::Response(e.to_string()))?;
            Some(Keyed {
                scope: caller.idempotency_scope(),
                hash: idempotency::request_hash(&["nodepool_create", cluster_segment, &body]),
                key,
            })
        }
        None => None,
    };
    idempotency::once(&ctx.db, keyed, |claim| {
        insert(ctx, caller, cluster_segment, request, claim)
    })
    .await
}

async fn insert(
    ctx: &ServerContext,
    caller: &Caller,
    cluster_segment: &str,
    request: NodePoolCreateRequest,
    claim: Option<Claim>,
) -> Result<NodePool, ServiceError> {
    let (_writing, txn) = ctx.begin_write().await?;
    // Locked, so a concurrent delete cannot slip a pool under a cluster
    // that is already terminating.
    let parent = cluster::find_locked(&txn, caller, cluster_segment).await?;
    if parent.is_terminating() {
        return Err(ServiceError::ParentTerminating {
            cluster: parent.name,
        });
    }
    let now = now();
    let (phase, message, conditions) = settle::initial(ctx, Kind::NodePool, now);
    let mut row = nodepool::Model {
        id: Uuid::new_v4(),
        cluster_id: parent.id,
        name: request.name.clone(),
        generation: 1,
        node_count: request.spec.node_count,
        machine_type: request.spec.machine_type.clone(),
        labels: labels_to_text(&request.labels)?,
        phase: phase.as_str().to_string(),
        phase_message: message,
        phase_changed_at: now,
        conditions: row::resource_conditions_to_text(&conditions)?,
        created_at: now,
        updated_at: now,
        resource_version: 0,
    };

    let inserted = nodepool::Entity::insert(nodepool::ActiveModel::from(row.clone()))
        .exec_without_returning(&txn)
        .await;
    if let Err(error) = inserted {
        return Err(match error.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => ServiceError::NodePoolAlreadyExists {
                cluster: parent.name,
                nodepool: request.name,
            },
            _ => error.into(),
        });
    }
    labels::insert::<nodepool::Model>(&txn, row.id, &request.labels).await?;
    settle::index_conditions(&txn, row.id, &conditions).await?;
    feed::record(&txn, &mut row, Event::Added, now).await?;
    let wire = row.to_wire()?;
    if let Some(claim) = &claim {
        let body =
            serde_json::to_string(&wire).map_err(|e| ServiceError::Response(e.to_string()))?;
        idempotency::complete(&txn, claim, 201, &body).await?;
    }
    txn.commit().await?;
    Ok(wire)
}

/// Find a node pool of a cluster by id or name, if `caller` may see the
/// cluster (checked first, so another team's cluster is a 403 whether or not
/// the node pool exists).
pub async fn find(
    db: &impl ConnectionTrait,
    caller: &Caller,
    cluster_segment: &str,
    segment: &str,
) -> Result<nodepool::Model, ServiceError> {
    let parent = cluster::find(db, caller, cluster_segment).await?;
    let in_cluster = nodepool::Entity::find().filter(nodepool::Column::ClusterId.eq(parent.id));
    match lookup(db, in_cluster, segment).await? {
        Lookup::Found(row) => Ok(row),
        // A node pool of this cluster (which the caller may see); the
        // tombstone of another cluster's node pool says nothing here.
        // Tombstones older than their cluster id go to full-scope callers.
        Lookup::Deleted(stone)
            if stone.cluster_id == Some(parent.id)
                || (stone.cluster_id.is_none() && caller.could_see_team(None)) =>
        {
            Err(ServiceError::NodePoolDeleted(stone.id))
        }
        Lookup::Deleted(_) | Lookup::Missing => Err(ServiceError::NodePoolNotFound {
            cluster: cluster_segment.to_string(),
            nodepool: segment.to_string(),
        }),
    }
}

/// Find a node pool and lock its row until the transaction `txn` ends,
/// after its cluster's: every change locks cluster first, then node pool,
/// so changes to a cluster and to its pools cannot deadlock.
pub async fn find_locked(
    txn: &impl ConnectionTrait,
    caller: &Caller,
    cluster_segment: &str,
    segment: &str,
) -> Result<nodepool::Model, ServiceError> {
    cluster::find_locked(txn, caller, cluster_segment).await?;
    let row = find(txn, caller, cluster_segment, segment).await?;
    nodepool::Entity::find_by_id(row.id)
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(|| ServiceError::NodePoolNotFound {
            cluster: cluster_segment.to_string(),
            nodepool: segment.to_string(),
        })
}

pub async fn view(
    ctx: &ServerContext,
    caller: &Caller,
    cluster_segment: &str,
    segment: &str,
) -> Result<NodePool, ServiceError> {
    find(&ctx.db, caller, cluster_segment, segment)
        .await?
        .to_wire()
}

/// One page of the node pools of one cluster that match `params`.
pub async fn list(
    ctx: &ServerContext,
    caller: &Caller,
    cluster_segment: &str,
    params: NodePoolListParams,
) -> Result<NodePoolList, ServiceError> {
    let mut query = check_nodepool_list(&params)?;
    let parent = cluster::find(&ctx.db, caller, cluster_segment).await?;
    query.cluster_id = Some(parent.id);
    // The cluster is the caller's: no team condition needed.
    list_matching(ctx, Scope::All, query).await
}

/// One page of the node pools, of every cluster `caller` may see or of
/// `params.cluster_id`'s, that match `params`, and how many match in all.
pub async fn list_all(
    ctx: &ServerContext,
    caller: &Caller,
    params: NodePoolListAllParams,
) -> Result<NodePoolList, ServiceError> {
    let query = check_nodepool_list_all(&params)?;
    list_matching(ctx, caller.scope(), query).await
}

async fn list_matching(
    ctx: &ServerContext,
    scope: Scope<'_>,
    query: NodePoolQuery,
) -> Result<NodePoolList, ServiceError> {
    // One cluster's node pools are found by `cluster_id`; the terms are
    // checked on those alone.
    let how = match query.cluster_id {
        Some(_) => filter::Search::OnRows,
        None => filter::Search::Indexed,
    };
    let team = scope.condition(nodepool::Column::ClusterId);
    let scoped = team.is_some();
    let backend = ctx.db.get_database_backend();
    let matching = |asked| {
        let how = if how == filter::Search::OnRows {
            how
        } else {
            asked
        };
        filter::common(
            backend,
            how,
            &NODEPOOLS,
            &NODEPOOL_LABELS,
            &query.common,
            &[],
        )
        .map(|mut condition| {
            if let Some(cluster_id) = query.cluster_id {
                condition = condition.add(nodepool::Column::ClusterId.eq(cluster_id));
            }
            if let Some(team) = team.clone() {
                condition = condition.add(team);
            }
            nodepool::Entity::find().filter(condition)
        })
    };
    let total = page::Total::of::<nodepool::Column>(
        ctx.db.get_database_backend(),
        how,
        &query.common,
        &[],
        scoped,
    );
    let page::Listed {
        rows,
        total,
        position,
    } = page::fetch::<nodepool::Model>(ctx, matching, total, query.page).await?;
    Ok(NodePoolList {
        kind: NodePoolListKind::NodePoolList,
        items: rows.iter().map(Wire::to_wire).collect::<Result<_, _>>()?,
        total,
        page: query.page.page,
        size: query.page.size,
        resource_version: position.to_string(),
    })
}

/// Apply a merge patch (see [`update::apply`]).
pub async fn update(
    ctx: &ServerContext,
    caller: &Caller,
    cluster_segment: &str,
    segment: &str,
    if_match: Option<IfMatch>,
    patch: NodePoolPatch,
) -> Result<NodePool, ServiceError> {
    caller.check_write()?;
    let (_writing, txn) = ctx.begin_write().await?;
    let mut row = find_locked(&txn, caller, cluster_segment, segment).await?;
    feed::check_if_match(&row, if_match.as_ref())?;
    let spec_patch = patch.spec.unwrap_or_default();
    let spec = NodePoolSpec {
        node_count: spec_patch.node_count.unwrap_or(row.node_count),
        machine_type: spec_patch
            .machine_type
            .unwrap_or_else(|| row.machine_type.clone()),
    };
    // A node pool's labels say nothing about ownership: any change is fine.
    update::apply(ctx, &txn, &mut row, spec, patch.labels, |_, _| Ok(())).await?;
    txn.commit().await?;
    row.to_wire()
}

/// Start deleting a node pool (or, with `force`, remove a Terminating one
/// at once).
pub async fn delete(
    ctx: &ServerContext,
    caller: &Caller,
    cluster_segment: &str,
    segment: &str,
    force: bool,
    if_match: Option<IfMatch>,
) -> Result<NodePool, ServiceError> {
    caller.check_write()?;
    let (_writing, txn) = ctx.begin_write().await?;
    let mut row = find_locked(&txn, caller, cluster_segment, segment).await?;
    feed::check_if_match(&row, if_match.as_ref())?;
    deletion::delete(ctx, &txn, &mut row, force).await?;
    txn.commit().await?;
    row.to_wire()
}

impl update::Spec<nodepool::Model> for NodePoolSpec {
    fn of(row: &nodepool::Model) -> Self {
        NodePoolSpec {
            node_count: row.node_count,
            machine_type: row.machine_type.clone(),
        }
    }

    fn check(&self, labels: &Labels) -> Result<(), ServiceError> {
        Ok(validation::check_nodepool_fields(self, labels)?)
    }

    fn store(self, row: &mut nodepool::Model) -> Vec<(nodepool::Column, Value)> {
        let columns = vec![
            (nodepool::Column::NodeCount, self.node_count.into()),
            (
                nodepool::Column::MachineType,
                self.machine_type.clone().into(),
            ),
        ];
        row.node_count = self.node_count;
        row.machine_type = self.machine_type;
        columns
    }
}
