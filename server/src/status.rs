//! Adapter status reports: upsert one adapter's report, recompute every
//! adapter's phase and the resource's phase, all in one transaction.
//!
//! Reports on one resource are serialised by locking the resource's row
//! (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite's write transactions are
//! serial anyway), so concurrent reports never lose an update and the stored
//! phase always agrees with the stored reports.

use chrono::{DateTime, Utc};
use hyperfleet_api::{
    AdapterPhase, AdapterStatus, AdapterStatusList, AdapterStatusReport, Condition, ErrorCode,
    FINALIZED, Phase, validation,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::access::Caller;
use crate::context::ServerContext;
use crate::db::entities::{adapter_status, cluster, nodepool};
use crate::db::write_transaction;
use crate::error::ServiceError;
use crate::phase::{adapter_message, adapter_phase, all_complete, resource_phase};
use crate::resource;

/// The resource a report or a status read is about, as named in the path.
#[derive(Clone, Copy, Debug)]
pub enum Subject<'a> {
    Cluster(&'a str),
    NodePool { cluster: &'a str, nodepool: &'a str },
}

/// What status handling needs to know of a cluster or node pool.
#[derive(Clone, Debug)]
pub struct Target {
    pub kind: Kind,
    pub id: Uuid,
    pub cluster_id: Uuid,
    pub generation: i64,
    /// The phase as stored before this change.
    pub phase: Phase,
    pub phase_changed_at: DateTime<Utc>,
    /// Whether the resource is being deleted (possibly by this change).
    pub terminating: bool,
}

/// Which table a target lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Cluster,
    NodePool,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Cluster => "cluster",
            Kind::NodePool => "nodepool",
        }
    }
}

impl Target {
    fn nodepool_id(&self) -> Option<Uuid> {
        (self.kind == Kind::NodePool).then_some(self.id)
    }

    fn terminating(&self) -> bool {
        self.terminating
    }

    fn required<'c>(&self, ctx: &'c ServerContext) -> &'c [String] {
        match self.kind {
            Kind::Cluster => &ctx.cluster_adapters,
            Kind::NodePool => &ctx.nodepool_adapters,
        }
    }
}

fn parse_phase(text: &str) -> Result<Phase, ServiceError> {
    Phase::parse(text).ok_or_else(|| ServiceError::Corrupt(format!("unknown phase {text:?}")))
}

impl TryFrom<cluster::Model> for Target {
    type Error = ServiceError;
    fn try_from(row: cluster::Model) -> Result<Self, ServiceError> {
        Ok(Target {
            kind: Kind::Cluster,
            id: row.id,
            cluster_id: row.id,
            generation: row.generation,
            terminating: row.phase == Phase::Terminating.as_str(),
            phase: parse_phase(&row.phase)?,
            phase_changed_at: row.phase_changed_at,
        })
    }
}

impl TryFrom<nodepool::Model> for Target {
    type Error = ServiceError;
    fn try_from(row: nodepool::Model) -> Result<Self, ServiceError> {
        Ok(Target {
            kind: Kind::NodePool,
            id: row.id,
            cluster_id: row.cluster_id,
            generation: row.generation,
            terminating: row.phase == Phase::Terminating.as_str(),
            phase: parse_phase(&row.phase)?,
            phase_changed_at: row.phase_changed_at,
        })
    }
}

/// Find the subject, if `caller` may see it; with `lock`, also lock its row
/// until the transaction `db` ends.
async fn locate(
    db: &impl ConnectionTrait,
    caller: &Caller,
    subject: Subject<'_>,
    lock: bool,
) -> Result<Target, ServiceError> {
    match (subject, lock) {
        (Subject::Cluster(segment), false) => {
            crate::cluster::find(db, caller, segment).await?.try_into()
        }
        (Subject::Cluster(segment), true) => crate::cluster::find_locked(db, caller, segment)
            .await?
            .try_into(),
        (Subject::NodePool { cluster, nodepool }, false) => {
            crate::nodepool::find(db, caller, cluster, nodepool)
                .await?
                .try_into()
        }
        (Subject::NodePool { cluster, nodepool }, true) => {
            // Cluster first, as every change does: a pool's last report may
            // remove its cluster, and a cluster delete touches its pools.
            crate::cluster::find_locked(db, caller, cluster).await?;
            crate::nodepool::find_locked(db, caller, cluster, nodepool)
                .await?
                .try_into()
        }
    }
}

/// Store an adapter's report and recompute the phases it moves. Every role
/// may report on what it may see: adapters on anything, members on their
/// teams' resources (as with `serve`, where people report by hand).
pub async fn report(
    ctx: &ServerContext,
    caller: &Caller,
    subject: Subject<'_>,
    report: AdapterStatusReport,
) -> Result<AdapterStatus, ServiceError> {
    validation::check_status_report(&report)?;
    let txn = ctx.db.begin_with_options(write_transaction()).await?;
    let target = locate(&txn, caller, subject, true).await?;
    if report.observed_generation > target.generation {
        return Err(ServiceError::api(
            ErrorCode::GenerationConflict,
            format!(
                "observed_generation {} is above the resource's generation {}",
                report.observed_generation, target.generation
            ),
        ));
    }
    let mut statuses = statuses_of(&txn, target.id).await?;
    let previous = statuses
        .iter()
        .position(|s| s.adapter_name == report.adapter);
    if let Some(previous) = previous.map(|i| &statuses[i])
        && previous.observed_generation > report.observed_generation
    {
        return Err(ServiceError::api(
            ErrorCode::StaleStatus,
            format!(
                "adapter {} already reported generation {}; this report is for {}",
                report.adapter, previous.observed_generation, report.observed_generation
            ),
        ));
    }
    if target.terminating()
        && !report
            .conditions
            .iter()
            .any(|c| c.condition_type == FINALIZED)
    {
        return Err(ServiceError::api(
            ErrorCode::ResourceTerminating,
            "the resource is being deleted: reports must carry a Finalized condition".to_string(),
        ));
    }

    let now = resource::now();
    let row = match previous {
        Some(i) => {
            let old = &statuses[i];
            let old_conditions = conditions_from_text(&old.conditions)?;
            adapter_status::Model {
                observed_generation: report.observed_generation,
                message: report.message.clone().unwrap_or_default(),
                conditions: conditions_to_text(&merge_conditions(&report, &old_conditions, now))?,
                data: json_to_text(&report.data)?,
                metadata: json_to_text(&report.metadata)?,
                updated_at: now,
                ..old.clone()
            }
        }
        None => adapter_status::Model {
            id: Uuid::new_v4(),
            resource_id: target.id,
            resource_kind: target.kind.as_str().to_string(),
            cluster_id: target.cluster_id,
            adapter_name: report.adapter.clone(),
            observed_generation: report.observed_generation,
            // Settled below, with the transition time.
            phase: String::new(),
            message: report.message.clone().unwrap_or_default(),
            conditions: conditions_to_text(&merge_conditions(&report, &[], now))?,
            data: json_to_text(&report.data)?,
            metadata: json_to_text(&report.metadata)?,
            last_transition_time: now,
            created_at: now,
            updated_at: now,
        },
    };
    let reported = match previous {
        Some(i) => {
            statuses[i] = row;
            i
        }
        None => {
            statuses.push(row);
            statuses.len() - 1
        }
    };
    let mut changed = settle(&target, &mut statuses, now)?;
    if !changed.contains(&reported) {
        changed.push(reported);
    }
    for i in changed {
        let row = &statuses[i];
        let active = adapter_status::ActiveModel::from(row.clone()).reset_all();
        if previous.is_none() && i == reported {
            adapter_status::Entity::insert(active)
                .exec_without_returning(&txn)
                .await?;
        } else {
            adapter_status::Entity::update_many()
                .set(active)
                .filter(adapter_status::Column::Id.eq(row.id))
                .exec(&txn)
                .await?;
        }
    }
    let settled = save_resource_phase(ctx, &txn, &target, &statuses, now).await?;
    if target.terminating() && settled.done {
        crate::lifecycle::remove_when_finalized(ctx, &txn, &target, now).await?;
    }
    txn.commit().await?;
    to_wire(&target, &statuses[reported])
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
    settle(target, &mut statuses, resource::now())?;
    let phases = adapter_phases(&statuses)?;
    Ok(all_complete(target.required(ctx), &phases))
}

/// The phase a change left a resource in.
#[derive(Clone, Debug)]
pub struct Settled {
    pub phase: Phase,
    pub message: String,
    pub changed_at: DateTime<Utc>,
    /// Every required adapter is complete (finalized, when terminating).
    pub done: bool,
}

/// Recompute every adapter's phase at the target's generation; returns the
/// indices of the statuses whose phase changed (their transition time is
/// set to `now`).
fn settle(
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
            target.terminating(),
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
async fn save_resource_phase(
    ctx: &ServerContext,
    txn: &impl ConnectionTrait,
    target: &Target,
    statuses: &[adapter_status::Model],
    now: DateTime<Utc>,
) -> Result<Settled, ServiceError> {
    let phases = adapter_phases(statuses)?;
    let required = target.required(ctx);
    let done = all_complete(required, &phases);
    let (phase, message) = resource_phase(required, &phases, target.terminating());
    let changed_at = if phase == target.phase {
        target.phase_changed_at
    } else {
        now
    };
    match target.kind {
        Kind::Cluster => {
            cluster::Entity::update_many()
                .col_expr(cluster::Column::Phase, Expr::value(phase.as_str()))
                .col_expr(cluster::Column::PhaseMessage, Expr::value(message.clone()))
                .col_expr(cluster::Column::PhaseChangedAt, Expr::value(changed_at))
                .col_expr(cluster::Column::UpdatedAt, Expr::value(now))
                .filter(cluster::Column::Id.eq(target.id))
                .exec(txn)
                .await?;
        }
        Kind::NodePool => {
            nodepool::Entity::update_many()
                .col_expr(nodepool::Column::Phase, Expr::value(phase.as_str()))
                .col_expr(nodepool::Column::PhaseMessage, Expr::value(message.clone()))
                .col_expr(nodepool::Column::PhaseChangedAt, Expr::value(changed_at))
                .col_expr(nodepool::Column::UpdatedAt, Expr::value(now))
                .filter(nodepool::Column::Id.eq(target.id))
                .exec(txn)
                .await?;
        }
    }
    Ok(Settled {
        phase,
        message,
        changed_at,
        done,
    })
}

/// Every adapter's latest report on the subject.
pub async fn list(
    ctx: &ServerContext,
    caller: &Caller,
    subject: Subject<'_>,
) -> Result<AdapterStatusList, ServiceError> {
    let target = locate(&ctx.db, caller, subject, false).await?;
    let statuses = statuses_of(&ctx.db, target.id).await?;
    let pending_adapters = target
        .required(ctx)
        .iter()
        .filter(|name| !statuses.iter().any(|s| &s.adapter_name == *name))
        .cloned()
        .collect();
    Ok(AdapterStatusList {
        cluster_id: target.cluster_id,
        nodepool_id: target.nodepool_id(),
        generation: target.generation,
        phase: target.phase,
        statuses: statuses
            .iter()
            .map(|s| to_wire(&target, s))
            .collect::<Result<_, _>>()?,
        pending_adapters,
    })
}

async fn statuses_of(
    db: &impl ConnectionTrait,
    resource_id: Uuid,
) -> Result<Vec<adapter_status::Model>, ServiceError> {
    Ok(adapter_status::Entity::find()
        .filter(adapter_status::Column::ResourceId.eq(resource_id))
        .order_by_asc(adapter_status::Column::AdapterName)
        .all(db)
        .await?)
}

/// The report's conditions, each keeping its previous transition time while
/// its status is unchanged.
fn merge_conditions(
    report: &AdapterStatusReport,
    previous: &[Condition],
    now: DateTime<Utc>,
) -> Vec<Condition> {
    report
        .conditions
        .iter()
        .map(|c| {
            let kept = previous
                .iter()
                .find(|p| p.condition_type == c.condition_type && p.status == c.status)
                .map(|p| p.last_transition_time);
            Condition {
                condition_type: c.condition_type.clone(),
                status: c.status,
                reason: c.reason.clone(),
                message: c.message.clone(),
                last_transition_time: kept.unwrap_or(now),
            }
        })
        .collect()
}

fn to_wire(target: &Target, row: &adapter_status::Model) -> Result<AdapterStatus, ServiceError> {
    let conditions = conditions_from_text(&row.conditions)?;
    let phase = adapter_phase_from_str(&row.phase)?;
    Ok(AdapterStatus {
        id: row.id,
        cluster_id: row.cluster_id,
        nodepool_id: target.nodepool_id(),
        adapter_name: row.adapter_name.clone(),
        phase,
        message: adapter_message(&row.message, &conditions, phase, target.terminating()),
        observed_generation: row.observed_generation,
        conditions,
        data: json_from_text(&row.data)?,
        metadata: json_from_text(&row.metadata)?,
        last_transition_time: row.last_transition_time,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn adapter_phase_str(phase: AdapterPhase) -> &'static str {
    match phase {
        AdapterPhase::Pending => "Pending",
        AdapterPhase::Running => "Running",
        AdapterPhase::Complete => "Complete",
        AdapterPhase::Failed => "Failed",
    }
}

fn adapter_phase_from_str(text: &str) -> Result<AdapterPhase, ServiceError> {
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

fn conditions_to_text(conditions: &[Condition]) -> Result<String, ServiceError> {
    serde_json::to_string(conditions).map_err(|e| ServiceError::Corrupt(e.to_string()))
}

fn conditions_from_text(text: &str) -> Result<Vec<Condition>, ServiceError> {
    serde_json::from_str(text).map_err(|e| ServiceError::Corrupt(format!("conditions: {e}")))
}

fn json_to_text(map: &Map<String, Value>) -> Result<String, ServiceError> {
    serde_json::to_string(map).map_err(|e| ServiceError::Corrupt(e.to_string()))
}

fn json_from_text(text: &str) -> Result<Map<String, Value>, ServiceError> {
    serde_json::from_str(text).map_err(|e| ServiceError::Corrupt(format!("status data: {e}")))
}
