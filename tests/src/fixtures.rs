//! What the tests send: request bodies like the seed's, patches, and adapter
//! status reports with named condition sets.

use std::collections::BTreeMap;

use hyperfleet_sdk::types;

/// Shorthand for condition statuses in reports.
pub use hyperfleet_sdk::types::ConditionStatus::{False, True, Unknown};

/// The adapters a server started without a choice requires of a cluster,
/// in the order it names them.
pub const CLUSTER_ADAPTERS: [&str; 3] = ["validation", "dns", "infrastructure"];
/// The adapters such a server requires of a node pool.
pub const NODEPOOL_ADAPTERS: [&str; 2] = ["validation", "infrastructure"];

/// The labels of the seed's J1 cluster.
pub const SEED_LABELS: &[(&str, &str)] = &[("environment", "production"), ("team", "platform")];

/// Labels written as `(key, value)` pairs, as the SDK takes them.
pub fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A cluster request of three nodes at `provider` in `region`, unlabelled.
pub fn cluster_request_at(
    name: &str,
    provider: &str,
    region: &str,
) -> types::builder::ClusterCreateRequest {
    types::ClusterCreateRequest::builder().name(name).spec(
        types::ClusterSpec::builder()
            .provider(provider)
            .region(region)
            .node_count(3),
    )
}

/// The seed's J1 cluster request, with another name.
pub fn cluster_request(name: &str) -> types::builder::ClusterCreateRequest {
    cluster_request_at(name, "gcp", "us-east1").labels(labels(SEED_LABELS))
}

/// A node-pool request like the seed's.
pub fn nodepool_request(name: &str) -> types::builder::NodePoolCreateRequest {
    types::NodePoolCreateRequest::builder().name(name).spec(
        types::NodePoolSpec::builder()
            .node_count(5)
            .machine_type("n1-standard-4"),
    )
}

/// A cluster patch that changes only the node count.
pub fn scale(nodes: u32) -> types::builder::ClusterPatch {
    types::ClusterPatch::builder().spec(Some(
        types::ClusterSpecPatch::builder()
            .node_count(Some(nodes.try_into().expect("nonzero")))
            .try_into()
            .expect("valid"),
    ))
}

/// A node-pool patch that changes only the node count.
pub fn scale_pool(nodes: u32) -> types::builder::NodePoolPatch {
    types::NodePoolPatch::builder().spec(Some(
        types::NodePoolSpecPatch::builder()
            .node_count(Some(nodes.try_into().expect("nonzero")))
            .try_into()
            .expect("valid"),
    ))
}

/// Conditions of an adapter that is done: Applied, Available and Health true.
pub const COMPLETE: &[(&str, types::ConditionStatus)] =
    &[("Applied", True), ("Available", True), ("Health", True)];
/// Conditions of an adapter at work: applied, not yet available.
pub const RUNNING: &[(&str, types::ConditionStatus)] =
    &[("Applied", True), ("Available", False), ("Health", True)];
/// Conditions of an adapter that has not started.
pub const PENDING: &[(&str, types::ConditionStatus)] =
    &[("Applied", False), ("Available", False), ("Health", True)];
/// Conditions of an adapter that failed.
pub const FAILED: &[(&str, types::ConditionStatus)] =
    &[("Applied", True), ("Available", False), ("Health", False)];

/// Conditions of a complete adapter on a resource being deleted: `done`
/// says whether it has finished its cleanup (`Finalized`).
pub fn finalized(done: bool) -> Vec<(&'static str, types::ConditionStatus)> {
    let mut conditions = COMPLETE.to_vec();
    conditions.push(("Finalized", if done { True } else { False }));
    conditions
}

/// A report of `adapter` at `generation` with the given conditions; each
/// condition's message says what it is, so tests can recognise it.
pub fn report(
    adapter: &str,
    generation: u64,
    conditions: &[(&str, types::ConditionStatus)],
) -> types::builder::AdapterStatusReport {
    let conditions: Vec<types::ConditionReport> = conditions
        .iter()
        .map(|(kind, status)| {
            types::ConditionReport::builder()
                .type_(*kind)
                .status(*status)
                .reason("Test")
                .message(format!("{kind} is {status:?}"))
                .try_into()
                .expect("a valid condition")
        })
        .collect();
    types::AdapterStatusReport::builder()
        .adapter(adapter)
        .observed_generation(std::num::NonZeroU64::new(generation).expect("generation >= 1"))
        .conditions(conditions)
}
