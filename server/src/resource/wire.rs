//! The wire form of each kind's row: what GET answers, and the object each
//! change-feed event carries, built once so the two cannot differ.

use hyperfleet_api::{Cluster, ClusterKind, ClusterSpec, NodePool, NodePoolKind, NodePoolSpec};
use serde::Serialize;

use crate::db::entities::{cluster, nodepool};
use crate::error::ServiceError;
use crate::resource::row::{self, Row};
use crate::resource::update::Spec;

/// A row that has a wire form.
pub trait Wire: Row {
    type Wire: Serialize;
    fn to_wire(&self) -> Result<Self::Wire, ServiceError>;
}

/// The path of a cluster in the API.
pub fn cluster_href(id: uuid::Uuid) -> String {
    format!("{}/clusters/{id}", hyperfleet_api::BASE_PATH)
}

impl Wire for cluster::Model {
    type Wire = Cluster;

    fn to_wire(&self) -> Result<Cluster, ServiceError> {
        Ok(Cluster {
            kind: ClusterKind::Cluster,
            id: self.id,
            href: cluster_href(self.id),
            labels: self.labels()?,
            status: row::status(self)?,
            spec: <ClusterSpec as Spec<cluster::Model>>::of(self),
            name: self.name.clone(),
            generation: self.generation,
            created_at: self.created_at,
            updated_at: self.updated_at,
            resource_version: self.resource_version.to_string(),
        })
    }
}

impl Wire for nodepool::Model {
    type Wire = NodePool;

    fn to_wire(&self) -> Result<NodePool, ServiceError> {
        Ok(NodePool {
            kind: NodePoolKind::NodePool,
            id: self.id,
            href: format!("{}/nodepools/{}", cluster_href(self.cluster_id), self.id),
            labels: self.labels()?,
            status: row::status(self)?,
            spec: <NodePoolSpec as Spec<nodepool::Model>>::of(self),
            cluster_id: self.cluster_id,
            name: self.name.clone(),
            generation: self.generation,
            created_at: self.created_at,
            updated_at: self.updated_at,
            resource_version: self.resource_version.to_string(),
        })
    }
}
