//! Wire types of clusters.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::resource::{Labels, ResourceStatus};

/// The `kind` of a cluster.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ClusterKind {
    #[default]
    Cluster,
}

/// The `kind` of a cluster list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum ClusterListKind {
    #[default]
    ClusterList,
}

/// What the user wants the cluster to be.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterSpec {
    /// Cloud provider: 1-63 lowercase letters, digits and `-`.
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z0-9-]+$"))]
    pub provider: String,
    /// Region within the provider: 1-63 lowercase letters, digits and `-`.
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[a-z0-9-]+$"))]
    pub region: String,
    /// Number of nodes, 1 to 1000.
    #[schemars(range(min = 1, max = 1000))]
    #[serde(deserialize_with = "crate::integral::integral")]
    pub node_count: i32,
}

/// A request to create a cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = "ClusterCreateRequest::example")]
pub struct ClusterCreateRequest {
    /// Unique cluster name: an RFC 1123 label (1-63 lowercase letters, digits
    /// and `-`, starting and ending with a letter or digit) that does not
    /// parse as a UUID.
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub name: String,
    /// The desired cluster.
    pub spec: ClusterSpec,
    /// Labels for organising and filtering.
    #[serde(default)]
    pub labels: Labels,
}

impl ClusterCreateRequest {
    /// The seed's J1 request.
    pub fn example() -> Self {
        Self {
            name: "my-test-cluster".into(),
            spec: ClusterSpec {
                provider: "gcp".into(),
                region: "us-east1".into(),
                node_count: 3,
            },
            labels: [("environment", "production"), ("team", "platform")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }
}

/// A cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[schemars(example = "Cluster::example")]
pub struct Cluster {
    /// Always `Cluster`.
    pub kind: ClusterKind,
    /// Server-assigned id.
    pub id: Uuid,
    /// Path of this cluster in the API.
    pub href: String,
    /// Unique name.
    pub name: String,
    /// Starts at 1; rises on every change of spec or labels and on delete.
    pub generation: i64,
    /// The desired cluster.
    pub spec: ClusterSpec,
    /// Labels.
    pub labels: Labels,
    /// Aggregated status from the adapters.
    pub status: ResourceStatus,
    /// When the cluster was created.
    pub created_at: DateTime<Utc>,
    /// When anything about the cluster last changed, status included.
    pub updated_at: DateTime<Utc>,
    /// Changes on every change to the cluster (spec, labels, status, deletion):
    /// an opaque string, the position of that change in the change feed
    /// (`GET /api/hyperfleet/v1/events`). Also sent as the `ETag` header
    /// (quoted), and what `If-Match` compares against.
    pub resource_version: String,
}

impl Cluster {
    fn example() -> Self {
        let request = ClusterCreateRequest::example();
        let id = EXAMPLE_CLUSTER_ID;
        let at = example_time();
        Self {
            kind: ClusterKind::Cluster,
            id,
            href: format!("{}/clusters/{id}", crate::BASE_PATH),
            name: request.name,
            generation: 1,
            spec: request.spec,
            labels: request.labels,
            status: ResourceStatus {
                phase: crate::Phase::Pending,
                last_transition_time: at,
                message: "waiting for validation, dns, infrastructure".into(),
                conditions: crate::ResourceCondition::examples_new(
                    "validation, dns, infrastructure",
                    at,
                ),
            },
            created_at: at,
            updated_at: at,
            resource_version: "1".into(),
        }
    }
}

/// One page of clusters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ClusterList {
    /// Always `ClusterList`.
    pub kind: ClusterListKind,
    /// The clusters of this page.
    pub items: Vec<Cluster>,
    /// How many clusters match, over all pages.
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

/// The id the examples of the contract use for their cluster.
pub(crate) const EXAMPLE_CLUSTER_ID: Uuid =
    Uuid::from_u128(0x1f0e_8c1a_6b3d_4e8f_9a2b_3c4d_5e6f_7a8b);

pub(crate) fn example_time() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_000_000, 0).unwrap_or_default()
}
