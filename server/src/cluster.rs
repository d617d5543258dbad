//! Clusters: create, view, list, update and delete, each as the caller may.
//! A cluster belongs to the team its `team` label names.

use hyperfleet_api::{
    Cluster, ClusterCreateRequest, ClusterList, ClusterListKind, ClusterListParams, ClusterPatch,
    ClusterSpec, IfMatch, Labels, check_cluster_list, check_idempotency_key, validation,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, SqlErr, Value};
use uuid::Uuid;

use crate::auth::Caller;
use crate::context::ServerContext;
use crate::db::entities::{cluster, nodepool};
use crate::db::filter;
use crate::db::tables::{CLUSTER_LABELS, CLUSTERS};
use crate::error::ServiceError;
use crate::resource::feed::{self, Event};
use crate::resource::idempotency::{self, Claim, Created, Keyed};
use crate::resource::reference::{Lookup, lookup};
use crate::resource::row::{self, Kind, Row, labels_to_text, now};
use crate::resource::wire::{self, Wire};
use crate::resource::{deletion, labels, page, settle, update};

/// Create a cluster; with an `Idempotency-Key`, at most once per key (see
/// [`idempotency::once`]).
pub async fn create(
    ctx: &ServerContext,
    caller: &Caller,
    key: Option<String>,
    request: ClusterCreateRequest,
) -> Result<Created<Cluster>, ServiceError> {
    caller.check_write()?;
    // Value rules before the team rules, as a PATCH checks them
    // (`update::apply`), so a malformed team label is 400 on both and only a
    // well-formed team the caller is not in is 403.
    validation::check_cluster_create(&request)?;
    let keyed = match key {
        Some(key) => {
            check_idempotency_key(&key)?;
            let body = serde_json::to_string(&request)
                .map_err(|e| ServiceError::Response(e.to_string()))?;
            Some(Keyed {
                scope: caller.idempotency_scope(),
                hash: idempotency::request_hash(&["cluster_create", &body]),
                key,
            })
        }
        None => None,
    };
    idempotency::once(&ctx.db, keyed, |claim| insert(ctx, caller, request, claim)).await
}

async fn insert(
    ctx: &ServerContext,
    caller: &Caller,
    mut request: ClusterCreateRequest,
    claim: Option<Claim>,
) -> Result<Cluster, ServiceError> {
    caller.assign_team(&mut request.labels)?;
    // Again: a team filled in by default may be one label too many.
    validation::check_cluster_create(&request)?;
    let now = now();
    let (phase, message, conditions) = settle::initial(ctx, Kind::Cluster, now);
    let mut row = cluster::Model {
        id: Uuid::new_v4(),
        name: request.name.clone(),
        generation: 1,
        provider: request.spec.provider.clone(),
        region: request.spec.region.clone(),
        node_count: request.spec.node_count,
        labels: labels_to_text(&request.labels)?,
        phase: phase.as_str().to_string(),
        phase_message: message,
        phase_changed_at: now,
        conditions: row::resource_conditions_to_text(&conditions)?,
        created_at: now,
        updated_at: now,
        resource_version: 0,
    };

    let (_writing, txn) = ctx.begin_write().await?;
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
    labels::insert::<cluster::Model>(&txn, row.id, &request.labels).await?;
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

/// Find a cluster by id or name, if `caller` may see it. A hard-deleted
/// cluster's id is answered with its tombstone's message to callers who
/// could have seen it, and as not found to everyone else.
pub async fn find(
    db: &impl ConnectionTrait,
    caller: &Caller,
    segment: &str,
) -> Result<cluster::Model, ServiceError> {
    let row = match lookup(db, cluster::Entity::find(), segment).await? {
        Lookup::Found(row) => row,
        // Only whoever could have seen the cluster learns that it existed.
        Lookup::Deleted(stone) if caller.could_see_team(stone.team.as_deref()) => {
            return Err(ServiceError::ClusterDeleted(stone.id));
        }
        Lookup::Deleted(_) => return Err(ServiceError::ClusterNotFound(segment.to_string())),
        Lookup::Missing => return Err(ServiceError::ClusterNotFound(segment.to_string())),
    };
    caller.check_cluster(&row)?;
    Ok(row)
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
    find(&ctx.db, caller, segment).await?.to_wire()
}

/// One page of the clusters matching `params` that `caller` may see, and
/// how many there are in all, filtered and counted in SQL.
pub async fn list(
    ctx: &ServerContext,
    caller: &Caller,
    params: ClusterListParams,
) -> Result<ClusterList, ServiceError> {
    let query = check_cluster_list(&params)?;
    let exact: Vec<filter::Exact<'_, cluster::Column>> = [
        (cluster::Column::Provider, "provider", &query.provider),
        (cluster::Column::Region, "region", &query.region),
    ]
    .into_iter()
    .filter_map(|(column, term, value)| {
        let value = value.as_deref()?;
        Some(filter::Exact {
            column,
            term,
            value,
        })
    })
    .collect();
    let team = caller.scope().condition(cluster::Column::Id);
    let scoped = team.is_some();
    let backend = ctx.db.get_database_backend();
    let matching = |how| {
        filter::common(
            backend,
            how,
            &CLUSTERS,
            &CLUSTER_LABELS,
            &query.common,
            &exact,
        )
        .map(|mut condition| {
            if let Some(team) = team.clone() {
                condition = condition.add(team);
            }
            cluster::Entity::find().filter(condition)
        })
    };
    let total = page::Total::of(
        ctx.db.get_database_backend(),
        filter::Search::Indexed,
        &query.common,
        &exact,
        scoped,
    );
    let page::Listed {
        rows,
        total,
        position,
    } = page::fetch::<cluster::Model>(ctx, matching, total, query.page).await?;
    Ok(ClusterList {
        kind: ClusterListKind::ClusterList,
        items: rows.iter().map(Wire::to_wire).collect::<Result<_, _>>()?,
        total,
        page: query.page.page,
        size: query.page.size,
        resource_version: position.to_string(),
    })
}

/// Apply a merge patch (see [`update::apply`]), if the cluster is still at
/// a version `if_match` names.
pub async fn update(
    ctx: &ServerContext,
    caller: &Caller,
    segment: &str,
    if_match: Option<IfMatch>,
    patch: ClusterPatch,
) -> Result<Cluster, ServiceError> {
    caller.check_write()?;
    let (_writing, txn) = ctx.begin_write().await?;
    let mut row = find_locked(&txn, caller, segment).await?;
    feed::check_if_match(&row, if_match.as_ref())?;
    let spec_patch = patch.spec.unwrap_or_default();
    let spec = ClusterSpec {
        provider: spec_patch.provider.unwrap_or_else(|| row.provider.clone()),
        region: spec_patch.region.unwrap_or_else(|| row.region.clone()),
        node_count: spec_patch.node_count.unwrap_or(row.node_count),
    };
    update::apply(ctx, &txn, &mut row, spec, patch.labels, |old, new| {
        caller.check_team_change(old, new)
    })
    .await?;
    txn.commit().await?;
    row.to_wire()
}

/// Start deleting a cluster and its node pools (or, with `force`, remove a
/// Terminating cluster at once), if it is still at a version `if_match`
/// names.
pub async fn delete(
    ctx: &ServerContext,
    caller: &Caller,
    segment: &str,
    force: bool,
    if_match: Option<IfMatch>,
) -> Result<Cluster, ServiceError> {
    caller.check_write()?;
    let (_writing, txn) = ctx.begin_write().await?;
    let mut row = find_locked(&txn, caller, segment).await?;
    feed::check_if_match(&row, if_match.as_ref())?;
    if !force && !row.is_terminating() {
        // Node pools first: with nothing to wait for they go at once, and
        // the cluster can only go once they have.
        let pools = nodepool::Entity::find()
            .filter(nodepool::Column::ClusterId.eq(row.id))
            .lock_exclusive()
            .all(&txn)
            .await?;
        let now = now();
        for mut pool in pools {
            if !pool.is_terminating() {
                deletion::start(ctx, &txn, &mut pool, now).await?;
            }
        }
    }
    deletion::delete(ctx, &txn, &mut row, force).await?;
    txn.commit().await?;
    row.to_wire()
}

pub fn href(id: Uuid) -> String {
    wire::cluster_href(id)
}

impl update::Spec<cluster::Model> for ClusterSpec {
    fn of(row: &cluster::Model) -> Self {
        ClusterSpec {
            provider: row.provider.clone(),
            region: row.region.clone(),
            node_count: row.node_count,
        }
    }

    fn check(&self, labels: &Labels) -> Result<(), ServiceError> {
        Ok(validation::check_cluster_fields(self, labels)?)
    }

    fn store(self, row: &mut cluster::Model) -> Vec<(cluster::Column, Value)> {
        let columns = vec![
            (cluster::Column::Provider, self.provider.clone().into()),
            (cluster::Column::Region, self.region.clone().into()),
            (cluster::Column::NodeCount, self.node_count.into()),
        ];
        row.provider = self.provider;
        row.region = self.region;
        row.node_count = self.node_count;
        columns
    }
}
