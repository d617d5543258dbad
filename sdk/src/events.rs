//! Reconcile events: what the sentinel publishes and adapters consume, as
//! CloudEvents 1.0 in structured JSON mode.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The topic exchange reconcile events are published to.
pub const EXCHANGE: &str = "hyperfleet";

/// The kind of resource an event is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ResourceKind {
    Cluster,
    NodePool,
}

impl ResourceKind {
    /// The routing key of this kind's events on the exchange.
    pub fn routing_key(self) -> &'static str {
        match self {
            ResourceKind::Cluster => "cluster.reconcile",
            ResourceKind::NodePool => "nodepool.reconcile",
        }
    }

    /// The CloudEvents `type` of this kind's events.
    pub fn event_type(self) -> &'static str {
        match self {
            ResourceKind::Cluster => "hyperfleet.cluster.reconcile",
            ResourceKind::NodePool => "hyperfleet.nodepool.reconcile",
        }
    }
}

/// What needs reconciling.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileData {
    /// The resource's id.
    pub id: Uuid,
    /// Cluster or node pool.
    pub kind: ResourceKind,
    /// The resource's path in the API.
    pub href: String,
    /// The generation the sentinel saw.
    pub generation: i64,
    /// The cluster the resource is or belongs to (the API needs it to find
    /// a node pool).
    pub cluster_id: Uuid,
}

/// A CloudEvents 1.0 event in structured JSON mode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CloudEvent {
    /// Always `1.0`.
    pub specversion: String,
    /// Unique per event.
    pub id: String,
    /// Who published it.
    pub source: String,
    /// `hyperfleet.cluster.reconcile` or `hyperfleet.nodepool.reconcile`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// When it was published.
    pub time: DateTime<Utc>,
    /// Always `application/json`.
    pub datacontenttype: String,
    /// The resource to reconcile.
    pub data: ReconcileData,
}

impl CloudEvent {
    /// A new reconcile event from `source` about `data`.
    pub fn reconcile(source: &str, data: ReconcileData) -> Self {
        CloudEvent {
            specversion: "1.0".into(),
            id: Uuid::new_v4().to_string(),
            source: source.into(),
            event_type: data.kind.event_type().into(),
            time: Utc::now(),
            datacontenttype: "application/json".into(),
            data,
        }
    }
}
