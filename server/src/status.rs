//! Adapter status reports on clusters and node pools: store one adapter's
//! report and settle every phase it moves, all in one transaction; list
//! every adapter's latest report.
//!
//! Reports on one resource are serialised by locking the resource's row
//! (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite's write transactions are
//! serial anyway), so concurrent reports never lose an update and the stored
//! phase always agrees with the stored reports.

use chrono::{DateTime, Utc};
use hyperfleet_api::{
    AdapterStatus, AdapterStatusList, AdapterStatusReport, Condition, FINALIZED, validation,
};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::auth::Caller;
use crate::context::ServerContext;
use crate::db::entities::adapter_status;
use crate::error::ServiceError;
use crate::resource::deletion;
use crate::resource::phase::{AdapterState, adapter_message, waiting};
use crate::resource::row::{Target, now};
use crate::resource::settle::{
    self, adapter_phase_from_str, conditions_from_text, conditions_to_text, save_resource_phase,
    settle, statuses_of,
};
use crate::{cluster, nodepool};

/// The resource a report or a status read is about, as named in the path.
#[derive(Clone, Copy, Debug)]
pub enum Subject<'a> {
    Cluster(&'a str),
    NodePool { cluster: &'a str, nodepool: &'a str },
}

/// Find the subject, if `caller` may see it; with `lock`, also lock its row
/// (a node pool's after its cluster's) until the transaction `db` ends.
async fn locate(
    db: &impl ConnectionTrait,
    caller: &Caller,
    subject: Subject<'_>,
    lock: bool,
) -> Result<Target, ServiceError> {
    match (subject, lock) {
        (Subject::Cluster(segment), false) => {
            Target::of(&cluster::find(db, caller, segment).await?)
        }
        (Subject::Cluster(segment), true) => {
            Target::of(&cluster::find_locked(db, caller, segment).await?)
        }
        (Subject::NodePool { cluster, nodepool }, false) => {
            Target::of(&nodepool::find(db, caller, cluster, nodepool).await?)
        }
        (Subject::NodePool { cluster, nodepool }, true) => {
            Target::of(&nodepool::find_locked(db, caller, cluster, nodepool).await?)
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
    let (_writing, txn) = ctx.begin_write().await?;
    let target = locate(&txn, caller, subject, true).await?;
    if report.observed_generation > target.generation {
        return Err(ServiceError::GenerationAhead {
            observed: report.observed_generation,
            generation: target.generation,
        });
    }
    let mut statuses = statuses_of(&txn, target.id).await?;
    let previous = statuses
        .iter()
        .position(|s| s.adapter_name == report.adapter);
    if let Some(previous) = previous.map(|i| &statuses[i])
        && previous.observed_generation > report.observed_generation
    {
        return Err(ServiceError::StaleStatus {
            adapter: report.adapter,
            stored: previous.observed_generation,
            reported: report.observed_generation,
        });
    }
    if previous.is_none() {
        check_room(ctx, &target, &statuses, &report.adapter)?;
    }
    if target.terminating
        && !report
            .conditions
            .iter()
            .any(|c| c.condition_type == FINALIZED)
    {
        return Err(ServiceError::FinalizedRequired);
    }

    let now = now();
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
    if target.terminating && settled.done {
        deletion::remove_when_finalized(ctx, &txn, &target, now).await?;
    }
    txn.commit().await?;
    to_wire(&target, &statuses[reported])
}

/// May a new adapter add its report to `statuses`? Required adapters
/// always may; any other only while the stored reports plus a place for
/// each required adapter still missing stay below the limit, so a crowd of
/// unknown adapters can neither grow `GET .../statuses` without bound nor
/// lock out the adapters the phase waits for.
fn check_room(
    ctx: &ServerContext,
    target: &Target,
    statuses: &[adapter_status::Model],
    adapter: &str,
) -> Result<(), ServiceError> {
    let required = settle::required(ctx, target.kind);
    if required.iter().any(|name| name == adapter) {
        return Ok(());
    }
    let reserved = required
        .iter()
        .filter(|name| !statuses.iter().any(|s| &s.adapter_name == *name))
        .count();
    if statuses.len() + reserved < validation::MAX_ADAPTERS {
        return Ok(());
    }
    Err(ServiceError::TooManyAdapters {
        kind: target.kind.title(),
        id: target.id,
        adapter: adapter.to_string(),
        limit: validation::MAX_ADAPTERS,
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
    let pending_adapters = settle::required(ctx, target.kind)
        .iter()
        .filter(|name| !statuses.iter().any(|s| &s.adapter_name == *name))
        .cloned()
        .collect();
    let states = statuses
        .iter()
        .map(|s| {
            Ok(AdapterState {
                name: &s.adapter_name,
                phase: adapter_phase_from_str(&s.phase)?,
                observed_generation: s.observed_generation,
            })
        })
        .collect::<Result<Vec<_>, ServiceError>>()?;
    let waiting = waiting(
        settle::graph(ctx, target.kind),
        &states,
        target.generation,
        target.terminating,
    );
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
        waiting,
    })
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
        message: adapter_message(&row.message, &conditions, phase, target.terminating),
        observed_generation: row.observed_generation,
        conditions,
        data: json_from_text(&row.data)?,
        metadata: json_from_text(&row.metadata)?,
        last_transition_time: row.last_transition_time,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

fn json_to_text(map: &Map<String, Value>) -> Result<String, ServiceError> {
    serde_json::to_string(map).map_err(|e| ServiceError::Corrupt(e.to_string()))
}

fn json_from_text(text: &str) -> Result<Map<String, Value>, ServiceError> {
    serde_json::from_str(text).map_err(|e| ServiceError::Corrupt(format!("status data: {e}")))
}
