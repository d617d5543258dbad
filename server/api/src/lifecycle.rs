//! Wire types of updates (JSON merge patches) and deletes (docs/lifecycle.md).

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

/// A merge patch may leave a field out (no change) but not set it to null:
/// spec fields cannot be removed. Null is rejected with the field's path.
fn present<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Changes to a cluster's spec; fields left out keep their value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ClusterSpecPatch {
    /// New provider.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(
        with = "String",
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9-]+$")
    )]
    pub provider: Option<String>,
    /// New region.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(
        with = "String",
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9-]+$")
    )]
    pub region: Option<String>,
    /// New node count, 1 to 1000.
    #[serde(
        default,
        deserialize_with = "crate::integral::present_integral",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "i32", range(min = 1, max = 1000))]
    pub node_count: Option<i32>,
}

/// A JSON merge patch of a cluster: `spec` fields given replace the current
/// ones, `labels` given are set, a label set to `null` is removed. The name
/// cannot change. A patch that changes nothing changes nothing; a real
/// change raises `generation` and the cluster is `Not Ready` until the
/// required adapters report at the new generation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = "ClusterPatch::example")]
pub struct ClusterPatch {
    /// Spec fields to change.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "ClusterSpecPatch")]
    pub spec: Option<ClusterSpecPatch>,
    /// Labels to set (a string) or remove (`null`).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "BTreeMap<String, Option<String>>")]
    pub labels: Option<BTreeMap<String, Option<String>>>,
}

impl ClusterPatch {
    /// The seed's J4: scale to five nodes.
    pub fn example() -> Self {
        Self {
            spec: Some(ClusterSpecPatch {
                node_count: Some(5),
                ..Default::default()
            }),
            labels: None,
        }
    }
}

/// Changes to a node pool's spec; fields left out keep their value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NodePoolSpecPatch {
    /// New node count, 1 to 1000.
    #[serde(
        default,
        deserialize_with = "crate::integral::present_integral",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "i32", range(min = 1, max = 1000))]
    pub node_count: Option<i32>,
    /// New machine type.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(
        with = "String",
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9-]+$")
    )]
    pub machine_type: Option<String>,
}

/// A JSON merge patch of a node pool; as for clusters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(example = "NodePoolPatch::example")]
pub struct NodePoolPatch {
    /// Spec fields to change.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "NodePoolSpecPatch")]
    pub spec: Option<NodePoolSpecPatch>,
    /// Labels to set (a string) or remove (`null`).
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "BTreeMap<String, Option<String>>")]
    pub labels: Option<BTreeMap<String, Option<String>>>,
}

impl NodePoolPatch {
    /// Scale the pool to eight nodes.
    pub fn example() -> Self {
        Self {
            spec: Some(NodePoolSpecPatch {
                node_count: Some(8),
                ..Default::default()
            }),
            labels: None,
        }
    }
}

/// Options of a delete.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteParams {
    /// Remove a resource that is already `Terminating` at once, with its
    /// node pools and statuses, without waiting for adapters to finalize.
    /// On any other resource: 409 `ResourceNotTerminating`.
    pub force: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ErrorCode, parse_json};

    #[test]
    fn patches_keep_absent_fields_and_reject_nulls() {
        let patch: ClusterPatch =
            parse_json(br#"{"spec":{"nodeCount":5},"labels":{"a":"b","gone":null}}"#)
                .unwrap_or_default();
        assert_eq!(patch.spec.and_then(|s| s.node_count), Some(5));
        let labels = patch.labels.unwrap_or_default();
        assert_eq!(labels.get("a"), Some(&Some("b".to_string())));
        assert_eq!(labels.get("gone"), Some(&None));

        for (body, field) in [
            (r#"{"spec":{"nodeCount":null}}"#, "spec.nodeCount"),
            (r#"{"spec":null}"#, "spec"),
            (r#"{"name":"renamed"}"#, "name"),
        ] {
            let error = parse_json::<ClusterPatch>(body.as_bytes()).expect_err(body);
            assert_eq!(error.error, ErrorCode::ValidationFailed, "{body}");
            assert_eq!(error.details[0].field, field, "{body}");
        }
    }
}
