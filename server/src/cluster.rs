//! Clusters: create, look up by id or name, list; each as the caller may.

use hyperfleet_api::{
    BASE_PATH, Cluster, ClusterCreateRequest, ClusterKind, ClusterList, ClusterListKind,
    ClusterQuery, ClusterSpec, validation,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, SqlErr, TransactionTrait,
};
use uuid::Uuid;

use crate::access::{Caller, Scope};
use crate::context::ServerContext;
use crate::db::entities::{cluster, cluster_label};
use crate::db::filter::{self, LabelColumns, ResourceColumns};
use crate::db::{count, write_transaction};
use crate::error::ServiceError;
use crate::resource::{self, Reference};

pub async fn create(
    ctx: &ServerContext,
    caller: &Caller,
    mut request: ClusterCreateRequest,
) -> Result<Cluster, ServiceError> {
    caller.check_write()?;
    caller.assign_team(&mut request.labels)?;
    validation::check_cluster_create(&request)?;
    let now = resource::now();
    let (phase, message) = resource::initial_phase(&ctx.cluster_adapters);
    let row = cluster::Model {
        id: Uuid::new_v4(),
        name: request.name.clone(),
        generation: 1,
        provider: request.spec.provider.clone(),
        region: request.spec.region.clone(),
        node_count: request.spec.node_count,
        labels: resource::labels_to_text(&request.labels)?,
        phase: phase.as_str().to_string(),
        phase_message: message,
        phase_changed_at: now,
        created_at: now,
        updated_at: now,
    };
    let labels: Vec<cluster_label::ActiveModel> = request
        .labels
        .iter()
        .map(|(key, value)| cluster_label::ActiveModel {
            cluster_id: Set(row.id),
            key: Set(key.clone()),
            value: Set(value.clone()),
        })
        .collect();

    let txn = ctx.db.begin_with_options(write_transaction()).await?;
    let inserted = cluster::Entity::insert(cluster::ActiveModel::from(row.clone()))
        .exec_without_returning(&txn)
        .await;
    if let Err(error) = inserted {
        return Err(match error.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(_)) => {
                ServiceError::ClusterAlreadyExists(request.name)
            }
            _ => error.into(),
        });
    }
    if !labels.is_empty() {
        cluster_label::Entity::insert_many(labels)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await?;
    to_wire(row)
}

/// Find a cluster by id or name, if `caller` may see it. A hard-deleted
/// cluster's id is answered with its tombstone's message.
pub async fn find(
    db: &impl ConnectionTrait,
    caller: &Caller,
    segment: &str,
) -> Result<cluster::Model, ServiceError> {
    let row = find_any(db, segment).await?;
    caller.check_cluster(&row)?;
    Ok(row)
}

/// Find a cluster by id or name, whoever asks.
async fn find_any(
    db: &impl ConnectionTrait,
    segment: &str,
) -> Result<cluster::Model, ServiceError> {
    let reference = Reference::parse(segment);
    let query = match &reference {
        Reference::Id(id) => cluster::Entity::find_by_id(*id),
        Reference::Name(name) => cluster::Entity::find().filter(cluster::Column::Name.eq(name)),
        Reference::Invalid => return Err(ServiceError::ClusterNotFound(segment.to_string())),
    };
    if let Some(row) = query.one(db).await? {
        return Ok(row);
    }
    match reference {
        Reference::Id(id) if resource::is_tombstoned(db, id).await? => {
            Err(ServiceError::ClusterDeleted(id))
        }
        _ => Err(ServiceError::ClusterNotFound(segment.to_string())),
    }
}

/// Find a cluster and lock its row until the transaction `txn` ends, so
/// changes to it (and to what depends on it) are serialised.
pub async fn find_locked(
    txn: &impl ConnectionTrait,
    caller: &Caller,
    segment: &str,
) -> Result<cluster::Model, ServiceError> {
    let row = find(txn, caller, segment).await?;
    cluster::Entity::find_by_id(row.id)
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or_else(|| ServiceError::ClusterNotFound(segment.to_string()))
}

pub async fn view(
    ctx: &ServerContext,
    caller: &Caller,
    segment: &str,
) -> Result<Cluster, ServiceError> {
    to_wire(find(&ctx.db, caller, segment).await?)
}

const COLUMNS: ResourceColumns<cluster::Column> = ResourceColumns {
    id: cluster::Column::Id,
    phase: cluster::Column::Phase,
    name: cluster::Column::Name,
};

const LABELS: LabelColumns<cluster_label::Entity> = LabelColumns {
    table: cluster_label::Entity,
    owner: cluster_label::Column::ClusterId,
    key: cluster_label::Column::Key,
    value: cluster_label::Column::Value,
};

/// One page of the clusters matching `query` that `caller` may see, and how
/// many there are in all: two statements, a `COUNT(*)` and the page, both
/// filtered in SQL.
pub async fn list(
    ctx: &ServerContext,
    caller: &Caller,
    query: ClusterQuery,
) -> Result<ClusterList, ServiceError> {
    let mut condition = filter::common(&COLUMNS, &LABELS, &query.common);
    if let Scope::Teams(teams) = caller.scope() {
        condition = condition.add(filter::owned_by_teams(cluster::Column::Id, teams));
    }
    if let Some(provider) = &query.provider {
        condition = condition.add(cluster::Column::Provider.eq(provider.as_str()));
    }
    if let Some(region) = &query.region {
        condition = condition.add(cluster::Column::Region.eq(region.as_str()));
    }
    let matching = cluster::Entity::find().filter(condition);
    let page = query.page;
    let total = count(&ctx.db, matching.clone()).await?;
    // Past the last match there is nothing to fetch.
    let rows = if page.offset() < total {
        matching
            .order_by_asc(cluster::Column::CreatedAt)
            .order_by_asc(cluster::Column::Id)
            .offset(page.offset())
            .limit(u64::from(page.size))
            .all(&ctx.db)
            .await?
    } else {
        Vec::new()
    };
    Ok(ClusterList {
        kind: ClusterListKind::ClusterList,
        items: rows.into_iter().map(to_wire).collect::<Result<_, _>>()?,
        total,
        page: page.page,
        size: page.size,
    })
}

pub fn href(id: Uuid) -> String {
    format!("{BASE_PATH}/clusters/{id}")
}

pub(crate) fn to_wire(row: cluster::Model) -> Result<Cluster, ServiceError> {
    Ok(Cluster {
        kind: ClusterKind::Cluster,
        id: row.id,
        href: href(row.id),
        name: row.name,
        generation: row.generation,
        spec: ClusterSpec {
            provider: row.provider,
            region: row.region,
            node_count: row.node_count,
        },
        labels: resource::labels_from_text(&row.labels)?,
        status: resource::status(&row.phase, &row.phase_message, row.phase_changed_at)?,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}
