//! Wire types of adapter status reports (docs/statuses.md).

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::resource::Phase;

/// Condition types every report must carry.
pub const REQUIRED_CONDITIONS: [&str; 3] = ["Applied", "Available", "Health"];
/// The condition adapters report while a resource is being deleted.
pub const FINALIZED: &str = "Finalized";

/// The truth value of a condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

impl ConditionStatus {
    /// The status as the wire, the database and filters spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        }
    }
}

/// One condition, as an adapter reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionReport {
    /// Condition type: `Applied`, `Available` and `Health` are required in
    /// every report, `Finalized` is used during deletion, others are kept as
    /// given. 1-63 letters and digits, starting with a letter.
    #[serde(rename = "type")]
    #[schemars(length(min = 1, max = 63), regex(pattern = r"^[A-Za-z][A-Za-z0-9]*$"))]
    pub condition_type: String,
    /// Whether the condition holds.
    pub status: ConditionStatus,
    /// A short machine-readable reason, in CamelCase (at most 256 characters,
    /// no NUL).
    #[serde(default)]
    #[schemars(length(max = 256))]
    pub reason: String,
    /// A human-readable explanation (at most 4096 characters, no NUL).
    #[serde(default)]
    #[schemars(length(max = 4096))]
    pub message: String,
}

/// One condition, as stored: the report's, plus when its status last changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Condition {
    /// Condition type.
    #[serde(rename = "type")]
    pub condition_type: String,
    /// Whether the condition holds.
    pub status: ConditionStatus,
    /// Machine-readable reason.
    pub reason: String,
    /// Human-readable explanation.
    pub message: String,
    /// When `status` last changed, set by the API: kept while an adapter
    /// keeps reporting the same status.
    pub last_transition_time: DateTime<Utc>,
}

/// A status report from one adapter about one resource. Reports are upserted
/// per adapter: the latest report of each adapter is what counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = "AdapterStatusReport::example")]
pub struct AdapterStatusReport {
    /// The reporting adapter's name: 1-63 lowercase letters, digits or `-`.
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    pub adapter: String,
    /// The resource generation this report describes. Above the resource's
    /// generation: 409 `GenerationConflict`; below what this adapter already
    /// reported: 409 `StaleStatus`, and nothing is stored.
    #[schemars(range(min = 1))]
    #[serde(deserialize_with = "crate::integral::integral")]
    pub observed_generation: i64,
    /// The conditions; `Applied`, `Available` and `Health` are required,
    /// each type may appear once, and a report has at most 32 (more is 400
    /// `ValidationFailed` on `conditions`).
    // The limit is not a `maxItems`: v1.0.0 declared none, and tightening a
    // request constraint in the schema breaks that release's contract.
    pub conditions: Vec<ConditionReport>,
    /// Adapter-specific results, kept as given: at most 64 KiB of JSON,
    /// nested at most 10 levels deep, with no NUL (U+0000) in any key or
    /// string, which not every backend can store.
    #[serde(default)]
    pub data: Map<String, Value>,
    /// Adapter-specific bookkeeping, kept as given: at most 16 KiB of JSON,
    /// nested at most 10 levels deep, with no NUL (U+0000) in any key or
    /// string.
    #[serde(default)]
    pub metadata: Map<String, Value>,
    /// A one-line summary (at most 4096 characters, no NUL); when absent,
    /// the message of the condition that decided the adapter's phase is
    /// shown.
    #[serde(default)]
    #[schemars(length(max = 4096))]
    pub message: Option<String>,
}

impl AdapterStatusReport {
    /// The seed's DNS report.
    pub fn example() -> Self {
        let condition = |t: &str, status, reason: &str, message: &str| ConditionReport {
            condition_type: t.into(),
            status,
            reason: reason.into(),
            message: message.into(),
        };
        let object = |value: Value| match value {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        Self {
            adapter: "dns".into(),
            observed_generation: 1,
            conditions: vec![
                condition(
                    "Applied",
                    ConditionStatus::True,
                    "JobLaunched",
                    "DNS job created",
                ),
                condition(
                    "Available",
                    ConditionStatus::False,
                    "InProgress",
                    "Creating records",
                ),
                condition("Health", ConditionStatus::True, "NoErrors", ""),
            ],
            data: object(serde_json::json!({ "recordsCreated": [] })),
            metadata: object(serde_json::json!({ "jobName": "dns-1" })),
            message: Some("optional summary".into()),
        }
    }
}

/// Where one adapter stands on a resource, derived from its latest report at
/// the resource's current generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum AdapterPhase {
    /// No report at the current generation says anything was applied.
    Pending,
    /// `Applied=True` at the current generation, not yet available.
    Running,
    /// `Available=True` at the current generation (`Finalized=True` while the
    /// resource is terminating).
    Complete,
    /// The latest report, of any generation, says `Health=False`.
    Failed,
}

/// One adapter's latest report on a resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AdapterStatus {
    /// Id of this status entry.
    pub id: Uuid,
    /// The cluster the resource is or belongs to.
    pub cluster_id: Uuid,
    /// The node pool, for node-pool statuses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodepool_id: Option<Uuid>,
    /// The reporting adapter.
    pub adapter_name: String,
    /// The adapter's phase at the resource's current generation.
    pub phase: AdapterPhase,
    /// The report's message, else that of the condition that decided the phase.
    pub message: String,
    /// The generation the latest report describes.
    pub observed_generation: i64,
    /// The latest report's conditions.
    pub conditions: Vec<Condition>,
    /// Adapter-specific results.
    pub data: Map<String, Value>,
    /// Adapter-specific bookkeeping.
    pub metadata: Map<String, Value>,
    /// When this adapter's phase last changed.
    pub last_transition_time: DateTime<Utc>,
    /// When this adapter first reported.
    pub created_at: DateTime<Utc>,
    /// When this adapter last reported.
    pub updated_at: DateTime<Utc>,
}

/// Every adapter's latest report on one resource, and what they add up to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AdapterStatusList {
    /// The cluster the resource is or belongs to.
    pub cluster_id: Uuid,
    /// The node pool, for node-pool statuses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodepool_id: Option<Uuid>,
    /// The resource's current generation.
    pub generation: i64,
    /// The resource's phase.
    pub phase: Phase,
    /// One entry per adapter that has reported, by adapter name.
    pub statuses: Vec<AdapterStatus>,
    /// Required adapters that have never reported.
    pub pending_adapters: Vec<String>,
    /// Required adapters held back by the configured order: each has not
    /// reported at the current generation and comes `after` adapters that
    /// are not yet complete (while the resource is being deleted: each has
    /// not finalized and adapters that come after it have not finalized
    /// yet, as deletion runs the order in reverse). Adapters built on the
    /// SDK's adapter kit wait until they are no longer listed here.
    #[serde(default)]
    pub waiting: Vec<AdapterWaiting>,
}

/// A required adapter that waits for others, as the aggregation config
/// orders them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AdapterWaiting {
    /// The waiting adapter.
    pub adapter: String,
    /// The adapters it waits for, in the configured order.
    pub waiting_for: Vec<String>,
    /// The same in words: `Waiting for validation and dns to complete`, or
    /// `Waiting for infrastructure to finalize` during deletion.
    pub message: String,
}
