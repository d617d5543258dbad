//! Wire types of node pools.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::cluster::{EXAMPLE_CLUSTER_ID, example_time};
use crate::resource::{Labels, ResourceStatus};

/// The `kind` of a node pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum NodePoolKind {
    #[default]
    NodePool,
}

/// The `kind` of a node-pool list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum NodePoolListKind {
    #[default]
    NodePoolList,
}

/// What the user wants the node pool to be.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodePoolSpec {
    /// Number of nodes, 1 to 1000.
    #[schemars(range(min = 1, max = 1000))]
    #[serde(deserialize_with = "crate::integral::integral")]
    pub node_count: i32,
    /// Machine type: 1-63 lowercase letters, digits and `-`.
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z0-9-]+$"))]
    pub machine_type: String,
}

/// A request to create a node pool in a cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = "NodePoolCreateRequest::example")]
pub struct NodePoolCreateRequest {
    /// Node-pool name, unique within its cluster: an RFC 1123 label that does
    /// not parse as a UUID.
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub name: String,
    /// The desired node pool.
    pub spec: NodePoolSpec,
    /// Labels for organising and filtering.
    #[serde(default)]
    pub labels: Labels,
}

impl NodePoolCreateRequest {
    /// The seed's node-pool request.
    pub fn example() -> Self {
        Self {
            name: "my-nodepool".into(),
            spec: NodePoolSpec {
                node_count: 5,
                machine_type: "n1-standard-4".into(),
            },
            labels: [("workload", "general")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }
}

/// A node pool: a group of identical nodes in a cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(example = "NodePool::example")]
pub struct NodePool {
    /// Always `NodePool`.
    pub kind: NodePoolKind,
    /// Server-assigned id.
    pub id: Uuid,
    /// Path of this node pool in the API.
    pub href: String,
    /// The id of the cluster the node pool belongs to.
    pub cluster_id: Uuid,
    /// Name, unique within the cluster.
    pub name: String,
    /// Starts at 1; rises on every change of spec or labels and on delete.
    pub generation: i64,
    /// The desired node pool.
    pub spec: NodePoolSpec,
    /// Labels.
    pub labels: Labels,
    /// Aggregated status from the adapters.
    pub status: ResourceStatus,
    /// When the node pool was created.
    pub created_at: DateTime<Utc>,
    /// When anything about the node pool last changed, status included.
    pub updated_at: DateTime<Utc>,
    /// Changes on every change to the node pool (spec, labels, status, deletion):
    /// an opaque string, the position of that change in the change feed
    /// (`GET /api/hyperfleet/v1/events`). Also sent as the `ETag` header
    /// (quoted), and what `If-Match` compares against.
    pub resource_version: String,
}

impl NodePool {
    fn example() -> Self {
        let request = NodePoolCreateRequest::example();
        let cluster_id = EXAMPLE_CLUSTER_ID;
        let id = Uuid::from_u128(0x7d2c_41b0_93e5_4f6a_8b1c_2d3e_4f5a_6b7c);
        let at = example_time();
        Self {
            kind: NodePoolKind::NodePool,
            id,
            href: format!("{}/clusters/{cluster_id}/nodepools/{id}", crate::BASE_PATH),
            cluster_id,
            name: request.name,
            generation: 1,
            spec: request.spec,
            labels: request.labels,
            status: crate::ResourceStatus {
                phase: crate::Phase::Pending,
                last_transition_time: at,
                message: "waiting for validation, infrastructure".into(),
                conditions: crate::ResourceCondition::examples_new(
                    "validation, infrastructure",
                    at,
                ),
            },
            created_at: at,
            updated_at: at,
            resource_version: "1".into(),
        }
    }
}

/// One page of node pools.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NodePoolList {
    /// Always `NodePoolList`.
    pub kind: NodePoolListKind,
    /// The node pools of this page.
    pub items: Vec<NodePool>,
    /// How many node pools match, over all pages.
    pub total: u64,
    /// This page's number, from 1.
    pub page: u32,
    /// The page size asked for.
    pub size: u32,
    /// The change-feed position this list reflects: every change up to it
    /// is in the list. Watch from it (`GET /api/hyperfleet/v1/events?since=`)
    /// to follow what changes next without missing anything.
    pub resource_version: String,
}
