//! Pieces shared by clusters and node pools: phase, status, labels, paging.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::status::ConditionStatus;

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
    /// The resource's conditions, beside the phase: `Reconciled`,
    /// `LastKnownReconciled`, `AllAdaptersReady`, `ValidationPassed` (when a
    /// `validation` adapter is required) and `Degraded`, in that order.
    /// Their `reason` carries the granular state the four phases cannot
    /// express (`Provisioning`, `Updating`, `Failed`, `Deleting`, ...).
    /// Filter on them with `?condition=Type:Status`.
    #[serde(default)]
    pub conditions: Vec<ResourceCondition>,
}

/// One condition of a cluster or node pool, computed by the API from its
/// adapters' reports whenever a report, a PATCH or a DELETE changes them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ResourceCondition {
    /// `Reconciled`: every required adapter is Available at the current
    /// generation (False throughout deletion). `LastKnownReconciled`:
    /// sticky, True once the resource was reconciled at some generation and
    /// as long as no required adapter has failed since. `AllAdaptersReady`:
    /// every required adapter is complete at the current generation (while
    /// deleting: finalized). `ValidationPassed`: the `validation` adapter's
    /// verdict at the current generation (`Unknown` until it gives one).
    /// `Degraded`: a resource that was reconciled now has a required adapter
    /// with `Health=False`.
    #[serde(rename = "type")]
    pub condition_type: String,
    /// `True`, `False` or `Unknown`.
    pub status: ConditionStatus,
    /// Why, in one CamelCase word: `Reconciled`, `Provisioning`, `Updating`,
    /// `Failed`, `Deleting`, `NeverReconciled`, `Passed`, `Validating`,
    /// `Pending`, `AdapterFailed`, `Healthy`, `AllAdaptersReady`.
    pub reason: String,
    /// A human-readable explanation.
    pub message: String,
    /// When `status` last changed.
    pub last_transition_time: DateTime<Utc>,
    /// The generation the condition describes: the current one, except for
    /// `LastKnownReconciled`, where it is the generation last reconciled.
    pub observed_generation: i64,
}

impl ResourceCondition {
    /// The conditions of a resource nobody has reported on yet, requiring
    /// `waiting` (a validation adapter among them), for the contract's
    /// examples.
    pub fn examples_new(waiting: &str, at: DateTime<Utc>) -> Vec<ResourceCondition> {
        let condition =
            |kind: ResourceConditionType, status, reason: &str, message: &str| ResourceCondition {
                condition_type: kind.as_str().into(),
                status,
                reason: reason.into(),
                message: message.into(),
                last_transition_time: at,
                observed_generation: 1,
            };
        use ConditionStatus::{False, Unknown};
        use ResourceConditionType::*;
        let waiting = format!("waiting for {waiting}");
        vec![
            condition(Reconciled, False, "Provisioning", &waiting),
            condition(
                LastKnownReconciled,
                False,
                "NeverReconciled",
                "not reconciled at any generation yet",
            ),
            condition(AllAdaptersReady, False, "Provisioning", &waiting),
            condition(
                ValidationPassed,
                Unknown,
                "Pending",
                "validation has not reported on generation 1",
            ),
            condition(Degraded, False, "Healthy", "no required adapter is failing"),
        ]
    }
}

/// The condition types of clusters and node pools.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ResourceConditionType {
    Reconciled,
    LastKnownReconciled,
    AllAdaptersReady,
    ValidationPassed,
    Degraded,
}

impl ResourceConditionType {
    /// Every type, in the order `status.conditions` lists them.
    pub const ALL: [ResourceConditionType; 5] = [
        ResourceConditionType::Reconciled,
        ResourceConditionType::LastKnownReconciled,
        ResourceConditionType::AllAdaptersReady,
        ResourceConditionType::ValidationPassed,
        ResourceConditionType::Degraded,
    ];

    /// The type's name on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceConditionType::Reconciled => "Reconciled",
            ResourceConditionType::LastKnownReconciled => "LastKnownReconciled",
            ResourceConditionType::AllAdaptersReady => "AllAdaptersReady",
            ResourceConditionType::ValidationPassed => "ValidationPassed",
            ResourceConditionType::Degraded => "Degraded",
        }
    }

    /// Parse a type's name.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == value)
    }
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
