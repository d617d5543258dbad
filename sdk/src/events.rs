//! Reconcile events: what the sentinel publishes and adapters consume, as
//! CloudEvents 1.0 in structured JSON mode.
//!
//! The sentinel's events have deterministic ids ([`event_id`]): the same
//! need, seen by two sentinels (say, one taking over from another that
//! died after publishing), gives the same id, so the adapter kit can tell a
//! duplicate from a new event and drop the duplicate of one it completed.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
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

/// Why the sentinel publishes an event, as it goes into the event's id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The resource is not Ready (new, changed, or waiting for adapters).
    Reconcile,
    /// The resource is being deleted.
    Finalize,
    /// The resource is Ready and due for its periodic re-check.
    Resync,
}

impl Reason {
    /// The word that goes into the id.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Reconcile => "reconcile",
            Reason::Finalize => "finalize",
            Reason::Resync => "resync",
        }
    }
}

/// The id of the event about `data` for `reason` in back-off window
/// `window`, where `changed_at` is when the resource last changed (its
/// `updated_at`: any update or status report moves it) and `window` counts
/// the back-off periods (resync periods for [`Reason::Resync`]) since then.
///
/// It is a UUID (version 8, the RFC 9562 layout for custom hashes) made of
/// the first 122 bits of the SHA-256 of `kind/id/generation/reason/
/// changed_at/window`. Everything in it comes from the API's view of the
/// resource and the clock, so two sentinels that see the same resource in
/// the same window name the same event, and a resource that moved (new
/// generation, a report, the next window) gets a new one.
pub fn event_id(
    data: &ReconcileData,
    reason: Reason,
    changed_at: DateTime<Utc>,
    window: u64,
) -> Uuid {
    let name = format!(
        "{:?}/{}/{}/{}/{}/{window}",
        data.kind,
        data.id,
        data.generation,
        reason.as_str(),
        changed_at.to_rfc3339_opts(SecondsFormat::Micros, true),
    );
    let digest = Sha256::digest(name.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

impl CloudEvent {
    /// A new reconcile event from `source` about `data`, with a random id
    /// (every call is a different event; the sentinel uses
    /// [`CloudEvent::with_id`] and [`event_id`] instead).
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

    /// The same event under the id `id`.
    pub fn with_id(mut self, id: Uuid) -> Self {
        self.id = id.to_string();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(generation: i64) -> ReconcileData {
        let id = Uuid::from_u128(7);
        ReconcileData {
            id,
            kind: ResourceKind::Cluster,
            href: format!("/api/hyperfleet/v1/clusters/{id}"),
            generation,
            cluster_id: id,
        }
    }

    #[test]
    fn the_same_need_has_the_same_id_and_any_change_a_new_one() {
        let at = DateTime::<Utc>::from_timestamp(1_800_000_000, 123_456_000).expect("a time");
        let id = event_id(&data(2), Reason::Reconcile, at, 1);
        assert_eq!(id, event_id(&data(2), Reason::Reconcile, at, 1));
        assert_eq!(id.get_version_num(), 8);
        let later = at + chrono::Duration::microseconds(1);
        let others = [
            event_id(&data(3), Reason::Reconcile, at, 1),
            event_id(&data(2), Reason::Finalize, at, 1),
            event_id(&data(2), Reason::Reconcile, later, 1),
            event_id(&data(2), Reason::Reconcile, at, 2),
        ];
        for other in others {
            assert_ne!(id, other);
        }
    }
}
