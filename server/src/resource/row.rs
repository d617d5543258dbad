//! What the shared machinery knows of a stored cluster or node pool: the
//! [`Row`] trait over their entities, the [`Target`] snapshot that status
//! settling works on, and the stored forms of labels, phases and time.

use chrono::{DateTime, SubsecRound, Utc};
use hyperfleet_api::{Labels, Phase, ResourceCondition, ResourceStatus};
use sea_orm::EntityTrait;
use uuid::Uuid;

use crate::db::entities::{cluster, cluster_label, nodepool, nodepool_label};
use crate::db::tables::{
    CLUSTER_LABELS, CLUSTERS, LabelColumns, NODEPOOL_LABELS, NODEPOOLS, ResourceColumns,
};
use crate::error::ServiceError;

/// Which table a resource lives in; also its `resource_kind` in the
/// statuses and tombstones tables.
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

    /// The name users see in messages.
    pub fn title(self) -> &'static str {
        match self {
            Kind::Cluster => "Cluster",
            Kind::NodePool => "NodePool",
        }
    }
}

/// A stored resource row. Every resource table has the same header columns
/// ([`ResourceColumns`]) and a label table, so labels, pagination, updates,
/// settling and deletion are written once over this trait; a new resource
/// kind implements it with [`row!`].
pub trait Row: Clone + Send + Sync + sea_orm::FromQueryResult + 'static {
    type Entity: EntityTrait<Model = Self>;
    type LabelTable: EntityTrait;
    const KIND: Kind;
    const COLUMNS: ResourceColumns<<Self::Entity as EntityTrait>::Column>;
    const LABELS: LabelColumns<Self::LabelTable>;

    fn id(&self) -> Uuid;
    /// The cluster the resource is or belongs to.
    fn cluster_id(&self) -> Uuid;
    fn name(&self) -> &str;
    fn generation(&self) -> i64;
    fn labels_text(&self) -> &str;
    fn phase_text(&self) -> &str;
    fn phase_message(&self) -> &str;
    fn phase_changed_at(&self) -> DateTime<Utc>;
    fn conditions_text(&self) -> &str;
    /// The feed position of the row's last change.
    fn resource_version(&self) -> i64;
    fn set_resource_version(&mut self, position: i64);
    fn bump_generation(&mut self);
    fn set_labels_text(&mut self, text: String);
    fn set_phase(&mut self, phase: Phase, message: String, changed_at: DateTime<Utc>);
    fn set_updated_at(&mut self, at: DateTime<Utc>);
    fn set_conditions_text(&mut self, text: String);

    fn is_terminating(&self) -> bool {
        self.phase_text() == Phase::Terminating.as_str()
    }

    fn labels(&self) -> Result<Labels, ServiceError> {
        labels_from_text(self.labels_text())
    }
}

/// Implements [`Row`] for an entity model whose header columns carry the
/// shared names.
macro_rules! row {
    ($model:ty, $entity:ty, $labels:ty, $kind:expr, $columns:expr, $label_columns:expr,
     cluster_id: |$row:ident| $cluster_id:expr) => {
        impl Row for $model {
            type Entity = $entity;
            type LabelTable = $labels;
            const KIND: Kind = $kind;
            const COLUMNS: ResourceColumns<<$entity as EntityTrait>::Column> = $columns;
            const LABELS: LabelColumns<$labels> = $label_columns;

            fn id(&self) -> Uuid {
                self.id
            }
            fn cluster_id(&self) -> Uuid {
                let $row = self;
                $cluster_id
            }
            fn name(&self) -> &str {
                &self.name
            }
            fn generation(&self) -> i64 {
                self.generation
            }
            fn labels_text(&self) -> &str {
                &self.labels
            }
            fn phase_text(&self) -> &str {
                &self.phase
            }
            fn phase_message(&self) -> &str {
                &self.phase_message
            }
            fn phase_changed_at(&self) -> DateTime<Utc> {
                self.phase_changed_at
            }
            fn conditions_text(&self) -> &str {
                &self.conditions
            }
            fn resource_version(&self) -> i64 {
                self.resource_version
            }
            fn set_resource_version(&mut self, position: i64) {
                self.resource_version = position;
            }
            fn bump_generation(&mut self) {
                self.generation += 1;
            }
            fn set_labels_text(&mut self, text: String) {
                self.labels = text;
            }
            fn set_phase(&mut self, phase: Phase, message: String, changed_at: DateTime<Utc>) {
                self.phase = phase.as_str().to_string();
                self.phase_message = message;
                self.phase_changed_at = changed_at;
            }
            fn set_updated_at(&mut self, at: DateTime<Utc>) {
                self.updated_at = at;
            }
            fn set_conditions_text(&mut self, text: String) {
                self.conditions = text;
            }
        }
    };
}

row!(
    cluster::Model,
    cluster::Entity,
    cluster_label::Entity,
    Kind::Cluster,
    CLUSTERS,
    CLUSTER_LABELS,
    cluster_id: |row| row.id
);
row!(
    nodepool::Model,
    nodepool::Entity,
    nodepool_label::Entity,
    Kind::NodePool,
    NODEPOOLS,
    NODEPOOL_LABELS,
    cluster_id: |row| row.cluster_id
);

/// What status settling needs to know of a cluster or node pool.
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
    /// The resource conditions as stored before this change.
    pub conditions: Vec<ResourceCondition>,
}

impl Target {
    pub fn of<R: Row>(row: &R) -> Result<Self, ServiceError> {
        Ok(Target {
            kind: R::KIND,
            id: row.id(),
            cluster_id: row.cluster_id(),
            generation: row.generation(),
            terminating: row.is_terminating(),
            phase: parse_phase(row.phase_text())?,
            phase_changed_at: row.phase_changed_at(),
            conditions: resource_conditions_from_text(row.conditions_text())?,
        })
    }

    pub fn nodepool_id(&self) -> Option<Uuid> {
        (self.kind == Kind::NodePool).then_some(self.id)
    }
}

/// Now, at the precision both databases keep (microseconds), so what a
/// create returns equals what a later read returns.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub fn labels_to_text(labels: &Labels) -> Result<String, ServiceError> {
    serde_json::to_string(labels).map_err(|e| ServiceError::Corrupt(e.to_string()))
}

pub fn labels_from_text(text: &str) -> Result<Labels, ServiceError> {
    serde_json::from_str(text).map_err(|e| ServiceError::Corrupt(format!("labels: {e}")))
}

pub fn parse_phase(text: &str) -> Result<Phase, ServiceError> {
    Phase::parse(text).ok_or_else(|| ServiceError::Corrupt(format!("unknown phase {text:?}")))
}

/// The `status` of a resource as the wire shows it.
pub fn status<R: Row>(row: &R) -> Result<ResourceStatus, ServiceError> {
    Ok(ResourceStatus {
        phase: parse_phase(row.phase_text())?,
        last_transition_time: row.phase_changed_at(),
        message: row.phase_message().to_string(),
        conditions: resource_conditions_from_text(row.conditions_text())?,
    })
}

pub fn resource_conditions_to_text(
    conditions: &[ResourceCondition],
) -> Result<String, ServiceError> {
    serde_json::to_string(conditions).map_err(|e| ServiceError::Corrupt(e.to_string()))
}

pub fn resource_conditions_from_text(text: &str) -> Result<Vec<ResourceCondition>, ServiceError> {
    serde_json::from_str(text)
        .map_err(|e| ServiceError::Corrupt(format!("resource conditions: {e}")))
}
