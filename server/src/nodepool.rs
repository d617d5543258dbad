//! Node pools: create inside a cluster, look up by id or name, list; each as
//! the caller may (a node pool belongs to its cluster's team).

use hyperfleet_api::{
    ErrorCode, NodePool, NodePoolCreateRequest, NodePoolKind, NodePoolList, NodePoolListKind,
    NodePoolQuery, NodePoolSpec, Phase, validation,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, SqlErr, TransactionTrait,
};
use uuid::Uuid;

use crate::access::{Caller, Scope};
use crate::cluster;
use crate::context::ServerContext;
use crate::db::entities::{nodepool, nodepool_label};
use crate::db::filter::{self, LabelColumns, ResourceColumns};
use crate::db::{count, write_transaction};
use crate::error::ServiceError;
use crate::resource::{self, Reference};

pub async fn create(
    ctx: &ServerContext,
    caller: &Caller,
    cluster_segment: &str,
    request: NodePoolCreateRequest,
) -> Result<NodePool, ServiceError> {
    caller.check_write()?;
    validation::check_nodepool_create(&request)?;
    let txn = ctx.db.begin_with_options(write_transaction()).await?;
    // Locked, so a concurrent delete cannot slip a pool under a cluster
    // that is already terminating.
    let parent = cluster::find_locked(&txn, caller, cluster_segment).await?;
    if parent.phase == Phase::Terminating.as_str() {
        return Err(ServiceError::api(
            ErrorCode::ResourceTerminating,
            format!(
                "Cluster {} is being deleted: no new node pools",
                parent.name
            ),
        ));
    }
    let now = resource::now();
    let (phase, message) = resource::initial_phase(&ctx.nodepool_adapters);
    let row = nodepool::Model {
        id: Uuid::new_v4(),
        cluster_id: parent.id,
        name: request.name.clone(),
        generation: 1,
        node_count: request.spec.node_count,
        machine_type: request.spec.machine_type.clone(),
        labels: resource::labels_to_text(&request.labels)?,
        phase: phase.as_str().to_string(),
        phase_message: message,
        phase_changed_at: now,
        created_at: now,
        updated_at: now,
    };
    let labels: Vec<nodepool_label::ActiveModel> = request
        .labels
        .iter()
        .map(|(key, value)| nodepool_label::ActiveModel {
            nodepool_id: Set(row.id),
            key: Set(key.clone()),
            value: Set(value.clone()),
        })
        .collect();

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
    if !labels.is_empty() {
        nodepool_label::Entity::insert_many(labels)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    to_wire(row)
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
    let not_found = || ServiceError::NodePoolNotFound {
        cluster: cluster_segment.to_string(),
        nodepool: segment.to_string(),
    };
    let in_cluster = nodepool::Entity::find().filter(nodepool::Column::ClusterId.eq(parent.id));
    let reference = Reference::parse(segment);
    let query = match &reference {
        Reference::Id(id) => in_cluster.filter(nodepool::Column::Id.eq(*id)),
        Reference::Name(name) => in_cluster.filter(nodepool::Column::Name.eq(name)),
        Reference::Invalid => return Err(not_found()),
    };
    if let Some(row) = query.one(db).await? {
        return Ok(row);
    }
    match reference {
        Reference::Id(id) if resource::is_tombstoned(db, id).await? => {
            Err(ServiceError::NodePoolDeleted(id))
        }
        _ => Err(not_found()),
    }
}

/// Find a node pool and lock its row until the transaction `txn` ends.
pub async fn find_locked(
    txn: &impl ConnectionTrait,
    caller: &Caller,
    cluster_segment: &str,
    segment: &str,
) -> Result<nodepool::Model, ServiceError> {
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
    to_wire(find(&ctx.db, caller, cluster_segment, segment).await?)
}

const COLUMNS: ResourceColumns<nodepool::Column> = ResourceColumns {
    id: nodepool::Column::Id,
    phase: nodepool::Column::Phase,
    name: nodepool::Column::Name,
};

const LABELS: LabelColumns<nodepool_label::Entity> = LabelColumns {
    table: nodepool_label::Entity,
    owner: nodepool_label::Column::NodepoolId,
    key: nodepool_label::Column::Key,
    value: nodepool_label::Column::Value,
};

/// One page of the node pools of one cluster that match `query`.
pub async fn list(
    ctx: &ServerContext,
    caller: &Caller,
    cluster_segment: &str,
    mut query: NodePoolQuery,
) -> Result<NodePoolList, ServiceError> {
    let parent = cluster::find(&ctx.db, caller, cluster_segment).await?;
    query.cluster_id = Some(parent.id);
    // The cluster is the caller's: no team condition needed.
    list_matching(ctx, Scope::All, query).await
}

/// One page of the node pools, of every cluster `caller` may see or of
/// `query.cluster_id`'s, that match `query`, and how many match in all.
pub async fn list_all(
    ctx: &ServerContext,
    caller: &Caller,
    query: NodePoolQuery,
) -> Result<NodePoolList, ServiceError> {
    list_matching(ctx, caller.scope(), query).await
}

async fn list_matching(
    ctx: &ServerContext,
    scope: Scope<'_>,
    query: NodePoolQuery,
) -> Result<NodePoolList, ServiceError> {
    let mut condition = filter::common(&COLUMNS, &LABELS, &query.common);
    if let Some(cluster_id) = query.cluster_id {
        condition = condition.add(nodepool::Column::ClusterId.eq(cluster_id));
    }
    if let Scope::Teams(teams) = scope {
        condition = condition.add(filter::owned_by_teams(nodepool::Column::ClusterId, teams));
    }
    let matching = nodepool::Entity::find().filter(condition);
    let page = query.page;
    let total = count(&ctx.db, matching.clone()).await?;
    // Past the last match there is nothing to fetch.
    let rows = if page.offset() < total {
        matching
            .order_by_asc(nodepool::Column::CreatedAt)
            .order_by_asc(nodepool::Column::Id)
            .offset(page.offset())
            .limit(u64::from(page.size))
            .all(&ctx.db)
            .await?
    } else {
        Vec::new()
    };
    Ok(NodePoolList {
        kind: NodePoolListKind::NodePoolList,
        items: rows.into_iter().map(to_wire).collect::<Result<_, _>>()?,
        total,
        page: page.page,
        size: page.size,
    })
}

pub(crate) fn to_wire(row: nodepool::Model) -> Result<NodePool, ServiceError> {
    Ok(NodePool {
        kind: NodePoolKind::NodePool,
        id: row.id,
        href: format!("{}/nodepools/{}", cluster::href(row.cluster_id), row.id),
        cluster_id: row.cluster_id,
        name: row.name,
        generation: row.generation,
        spec: NodePoolSpec {
            node_count: row.node_count,
            machine_type: row.machine_type,
        },
        labels: resource::labels_from_text(&row.labels)?,
        status: resource::status(&row.phase, &row.phase_message, row.phase_changed_at)?,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}
