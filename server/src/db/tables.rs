//! The columns of each resource table that shared code reads and writes,
//! as data: one value per table, so settling, labels, pagination and
//! filters are written once for every resource kind.

use sea_orm::EntityTrait;

use crate::db::entities::{cluster, cluster_label, nodepool, nodepool_label};

/// The columns every resource table has, under the same meaning.
pub struct ResourceColumns<C> {
    pub id: C,
    pub name: C,
    pub generation: C,
    /// The labels as one JSON object (the label table is for filtering).
    pub labels: C,
    pub phase: C,
    pub phase_message: C,
    pub phase_changed_at: C,
    /// The resource conditions as one JSON array (`resource_conditions` is
    /// for filtering).
    pub conditions: C,
    pub created_at: C,
    pub updated_at: C,
    /// The feed position of the row's last change.
    pub resource_version: C,
}

/// The label table of one resource kind: one row per label, so a label
/// selector is an indexed lookup.
pub struct LabelColumns<L: EntityTrait> {
    pub table: L,
    /// The column holding the labelled resource's id.
    pub owner: L::Column,
    pub key: L::Column,
    pub value: L::Column,
}

pub const CLUSTERS: ResourceColumns<cluster::Column> = ResourceColumns {
    id: cluster::Column::Id,
    name: cluster::Column::Name,
    generation: cluster::Column::Generation,
    labels: cluster::Column::Labels,
    phase: cluster::Column::Phase,
    phase_message: cluster::Column::PhaseMessage,
    phase_changed_at: cluster::Column::PhaseChangedAt,
    conditions: cluster::Column::Conditions,
    created_at: cluster::Column::CreatedAt,
    updated_at: cluster::Column::UpdatedAt,
    resource_version: cluster::Column::ResourceVersion,
};

pub const CLUSTER_LABELS: LabelColumns<cluster_label::Entity> = LabelColumns {
    table: cluster_label::Entity,
    owner: cluster_label::Column::ClusterId,
    key: cluster_label::Column::Key,
    value: cluster_label::Column::Value,
};

pub const NODEPOOLS: ResourceColumns<nodepool::Column> = ResourceColumns {
    id: nodepool::Column::Id,
    name: nodepool::Column::Name,
    generation: nodepool::Column::Generation,
    labels: nodepool::Column::Labels,
    phase: nodepool::Column::Phase,
    phase_message: nodepool::Column::PhaseMessage,
    phase_changed_at: nodepool::Column::PhaseChangedAt,
    conditions: nodepool::Column::Conditions,
    created_at: nodepool::Column::CreatedAt,
    updated_at: nodepool::Column::UpdatedAt,
    resource_version: nodepool::Column::ResourceVersion,
};

pub const NODEPOOL_LABELS: LabelColumns<nodepool_label::Entity> = LabelColumns {
    table: nodepool_label::Entity,
    owner: nodepool_label::Column::NodepoolId,
    key: nodepool_label::Column::Key,
    value: nodepool_label::Column::Value,
};
