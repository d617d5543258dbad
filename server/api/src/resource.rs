//! Pieces shared by clusters and node pools: phase, status, labels, paging.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Base path of every resource operation.
pub const BASE_PATH: &str = "/api/hyperfleet/v1";

/// Labels: Kubernetes-style `key: value` pairs used to organise and filter
/// resources. Keys are at most 63 characters with an optional DNS prefix
/// (`example.io/tier`); values are at most 63 characters; at most 64 labels.
pub type Labels = BTreeMap<String, String>;

/// The aggregated phase of a resource, computed from its adapters' reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Phase {
    /// No adapter has reported yet.
    Pending,
    /// Some adapter reported, but not every required adapter is complete at
    /// the current generation.
    #[serde(rename = "Not Ready")]
    NotReady,
    /// Every required adapter is complete at the current generation.
    Ready,
    /// The resource is being deleted; adapters are cleaning up.
    Terminating,
}

impl Phase {
    /// Every phase, in lifecycle order.
    pub const ALL: [Phase; 4] = [
        Phase::Pending,
        Phase::NotReady,
        Phase::Ready,
        Phase::Terminating,
    ];

    /// The phase as it appears on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::NotReady => "Not Ready",
            Phase::Ready => "Ready",
            Phase::Terminating => "Terminating",
        }
    }

    /// Parse the wire form of a phase.
    pub fn parse(value: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|phase| phase.as_str() == value)
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a resource stands, as aggregated from adapter reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    /// The aggregated phase.
    pub phase: Phase,
    /// When the phase last changed.
    pub last_transition_time: DateTime<Utc>,
    /// What the phase waits for, in words.
    pub message: String,
}

/// Largest page a list operation returns.
pub const MAX_PAGE_SIZE: u32 = 1000;
/// Page size when the request names none.
pub const DEFAULT_PAGE_SIZE: u32 = 100;

/// A checked page request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    /// Page number, from 1.
    pub page: u32,
    /// Items per page.
    pub size: u32,
}

impl Page {
    /// Rows to skip before this page.
    pub fn offset(self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.size)
    }
}

/// Path of one cluster.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct ClusterPath {
    /// The cluster's id (a hyphenated UUID) or its name.
    pub cluster: String,
}

/// Path of one node pool.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
pub struct NodePoolPath {
    /// The cluster's id (a hyphenated UUID) or its name.
    pub cluster: String,
    /// The node pool's id (a hyphenated UUID) or its name (names are unique
    /// within a cluster).
    pub nodepool: String,
}

/// Answer of the liveness and readiness probes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Health {
    /// `ok` when the probe passes.
    pub status: String,
}
