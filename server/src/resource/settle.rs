//! Status settling: recompute every adapter's phase at the resource's
//! current generation and store the resource's phase as those add up, in
//! the caller's transaction (the resource row is already locked).
//!
//! Whatever changes a resource (a report, a patch, a delete) ends here, so
//! the stored phase always agrees with the stored reports.

use chrono::{DateTime, Utc};
use hyperfleet_api::{AdapterPhase, Condition, Phase, ResourceCondition};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use crate::aggregation::AdapterGraph;
use crate::context::ServerContext;
use crate::db::entities::{adapter_status, cluster, nodepool, resource_condition};
use crate::error::ServiceError;
use crate::resource::feed::{self, Event};
use crate::resource::phase::{
    ConditionInputs, adapter_phase, all_complete, resource_conditions, resource_phase,
};
use crate::resource::row::{Kind, Row, Target, now, resource_conditions_to_text};
use crate::resource::wire::Wire;

/// The phase and conditions a change left a resource in.
#[derive(Clone, Debug)]
pub struct Settled {
    pub phase: Phase,
    pub message: String,
    pub changed_at: DateTime<Utc>,
    /// Every required adapter is complete (finalized, when terminating).
    pub done: bool,
    pub conditions: Vec<ResourceCondition>,
    /// The feed position of this change: the resource's new
    /// `resource_version`.
    pub resource_version: i64,
}

impl Settled {
    /// Copy the settled phase and conditions into `row`, as the database
    /// now has them.
    pub fn apply<R: Row>(&self, row: &mut R, now: DateTime<Utc>) -> Result<(), ServiceError> {
        row.set_phase(self.phase, self.message.clone(), self.changed_at);
        row.set_conditions_text(resource_conditions_to_text(&self.conditions)?);
        row.set_updated_at(now);
        row.set_resource_version(self.resource_version);
        Ok(())
    }
}

/// The phase, message and conditions of a new resource of `kind`, which
/// nobody has reported on: Pending, waiting for the required adapters, or
/// Ready at once when none are required.
pub fn initial(
    ctx: &ServerContext,
    kind: Kind,
    now: DateTime<Utc>,
) -> (Phase, String, Vec<ResourceCondition>) {
    let required = required(ctx, kind);
    let (phase, message) = resource_phase(required, &[], false);
    let conditions = resource_conditions(&ConditionInputs {
        required,
        adapters: &[],
        generation: 1,
        terminating: false,
        phase_message: &message,
        previous: &[],
        now,
    });
    (phase, message, conditions)
}

/// Write the filter rows of a resource's conditions (`resource_conditions`),
/// replacing the previous ones.
pub async fn index_conditions(
    txn: &impl ConnectionTrait,
    resource_id: Uuid,
    conditions: &[ResourceCondition],
) -> Result<(), ServiceError> {
    resource_condition::Entity::delete_many()
        .filter(resource_condition::Column::ResourceId.eq(resource_id))
        .exec(txn)
        .await?;
    if conditions.is_empty() {
        return Ok(());
    }
    let rows = conditions.iter().map(|c| resource_condition::ActiveModel {
        resource_id: Set(resource_id),
        condition_type: Set(c.condition_type.clone()),
        status: Set(c.status.as_str().to_string()),
    });
    resource_condition::Entity::insert_many(rows)
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// The adapters a resource of `kind` requires, and their order.
pub fn graph(ctx: &ServerContext, kind: Kind) -> &AdapterGraph {
    match kind {
        Kind::Cluster => &ctx.aggregation.cluster,
        Kind::NodePool => &ctx.aggregation.nodepool,
    }
}

/// The adapters that must be complete for a resource of `kind` to be Ready.
pub fn required(ctx: &ServerContext, kind: Kind) -> &[String] {
    graph(ctx, kind).names()
}

/// Recompute and store the phases of `target`'s adapters and of `target`
/// itself, after a change to its generation or deletion state.
pub async fn refresh(
    ctx: &ServerContext,
    txn: &impl ConnectionTrait,
    target: &Target,
    now: DateTime<Utc>,
) -> Result<Settled, ServiceError> {
    let mut statuses = statuses_of(txn, target.id).await?;
    for i in settle(target, &mut statuses, now)? {
        let row = &statuses[i];
        adapter_status::Entity::update_many()
            .col_expr(
                adapter_status::Column::Phase,
                Expr::value(row.phase.clone()),
            )
            .col_expr(
                adapter_status::Column::LastTransitionTime,
                Expr::value(row.last_transition_time),
            )
            .filter(adapter_status::Column::Id.eq(row.id))
            .exec(txn)
            .await?;
    }
    save_resource_phase(ctx, txn, target, &statuses, now).await
}

/// Whether every required adapter of `target` is complete (finalized, when
/// terminating), as its stored reports say now.
pub async fn is_done(
    ctx: &ServerContext,
    txn: &impl ConnectionTrait,
    target: &Target,
) -> Result<bool, ServiceError> {
    let mut statuses = statuses_of(txn, target.id).await?;
    settle(target, &mut statuses, now())?;
    let phases = adapter_phases(&statuses)?;
    Ok(all_complete(required(ctx, target.kind), &phases))
}

/// Recompute every adapter's phase at the target's generation; returns the
/// indices of the statuses whose phase changed (their transition time is
/// set to `now`).
pub fn settle(
    target: &Target,
    statuses: &mut [adapter_status::Model],
    now: DateTime<Utc>,
) -> Result<Vec<usize>, ServiceError> {
    let mut changed = Vec::new();
    for (i, status) in statuses.iter_mut().enumerate() {
        let conditions = conditions_from_text(&status.conditions)?;
        let phase = adapter_phase(
            &conditions,
            status.observed_generation,
            target.generation,
            target.terminating,
        );
        let phase = adapter_phase_str(phase);
        if status.phase != phase {
            status.phase = phase.to_string();
            status.last_transition_time = now;
            changed.push(i);
        }
    }
    Ok(changed)
}

fn adapter_phases(
    statuses: &[adapter_status::Model],
) -> Result<Vec<(&str, AdapterPhase)>, ServiceError> {
    statuses
        .iter()
        .map(|s| Ok((s.adapter_name.as_str(), adapter_phase_from_str(&s.phase)?)))
        .collect()
}

/// Store the resource's phase as its statuses now add up, and move its
/// `updated_at`.
pub async fn save_resource_phase(
    ctx: &ServerContext,
    txn: &impl ConnectionTrait,
    target: &Target,
    statuses: &[adapter_status::Model],
    now: DateTime<Utc>,
) -> Result<Settled, ServiceError> {
    let phases = adapter_phases(statuses)?;
    let required = required(ctx, target.kind);
    let done = all_complete(required, &phases);
    let (phase, message) = resource_phase(required, &phases, target.terminating);
    let changed_at = if phase == target.phase {
        target.phase_changed_at
    } else {
        now
    };
    let conditions = resource_conditions(&ConditionInputs {
        required,
        adapters: &phases,
        generation: target.generation,
        terminating: target.terminating,
        phase_message: &message,
        previous: &target.conditions,
        now,
    });
    // The filter rows change only with a status, which most reports leave.
    let statuses_moved = conditions.len() != target.conditions.len()
        || conditions
            .iter()
            .zip(&target.conditions)
            .any(|(new, old)| new.condition_type != old.condition_type || new.status != old.status);
    if statuses_moved {
        index_conditions(txn, target.id, &conditions).await?;
    }
    let mut settled = Settled {
        phase,
        message,
        changed_at,
        done,
        conditions,
        resource_version: 0,
    };
    // Every change to a resource passes here after its other columns are
    // written: the one place it gets its feed position.
    settled.resource_version = match target.kind {
        Kind::Cluster => write_phase::<cluster::Model>(txn, target.id, &settled, now).await?,
        Kind::NodePool => write_phase::<nodepool::Model>(txn, target.id, &settled, now).await?,
    };
    Ok(settled)
}

/// Write the settled phase and conditions, and record the change in the
/// feed; the resource's new `resource_version`.
async fn write_phase<R: Wire>(
    txn: &impl ConnectionTrait,
    id: Uuid,
    settled: &Settled,
    now: DateTime<Utc>,
) -> Result<i64, ServiceError> {
    let columns = &R::COLUMNS;
    R::Entity::update_many()
        .col_expr(columns.phase, Expr::value(settled.phase.as_str()))
        .col_expr(columns.phase_message, Expr::value(settled.message.clone()))
        .col_expr(columns.phase_changed_at, Expr::value(settled.changed_at))
        .col_expr(
            columns.conditions,
            Expr::value(resource_conditions_to_text(&settled.conditions)?),
        )
        .col_expr(columns.updated_at, Expr::value(now))
        .filter(columns.id.eq(id))
        .exec(txn)
        .await?;
    feed::record_stored::<R>(txn, id, Event::Modified, now).await
}

/// Every adapter's latest report on the resource `resource_id`, by name.
pub async fn statuses_of(
    db: &impl ConnectionTrait,
    resource_id: Uuid,
) -> Result<Vec<adapter_status::Model>, ServiceError> {
    Ok(adapter_status::Entity::find()
        .filter(adapter_status::Column::ResourceId.eq(resource_id))
        .order_by_asc(adapter_status::Column::AdapterName)
        .all(db)
        .await?)
}

pub fn adapter_phase_str(phase: AdapterPhase) -> &'static str {
    match phase {
        AdapterPhase::Pending => "Pending",
        AdapterPhase::Running => "Running",
        AdapterPhase::Complete => "Complete",
        AdapterPhase::Failed => "Failed",
    }
}

pub fn adapter_phase_from_str(text: &str) -> Result<AdapterPhase, ServiceError> {
    [
        AdapterPhase::Pending,
        AdapterPhase::Running,
        AdapterPhase::Complete,
        AdapterPhase::Failed,
    ]
    .into_iter()
    .find(|p| adapter_phase_str(*p) == text)
    .ok_or_else(|| ServiceError::Corrupt(format!("unknown adapter phase {text:?}")))
}

pub fn conditions_to_text(conditions: &[Condition]) -> Result<String, ServiceError> {
    serde_json::to_string(conditions).map_err(|e| ServiceError::Corrupt(e.to_string()))
}

pub fn conditions_from_text(text: &str) -> Result<Vec<Condition>, ServiceError> {
    serde_json::from_str(text).map_err(|e| ServiceError::Corrupt(format!("conditions: {e}")))
}
