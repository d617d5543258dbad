//! What clusters and node pools share: labels storage, timestamps, the
//! phase of a new resource, and id-or-name references.

use chrono::{DateTime, SubsecRound, Utc};
use hyperfleet_api::{Labels, Phase, ResourceStatus, validation};
use uuid::Uuid;

use sea_orm::{ConnectionTrait, EntityTrait};

use crate::db::entities::tombstone;
use crate::error::ServiceError;

/// Now, at the precision both databases keep (microseconds), so what a
/// create returns equals what a later read returns.
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

pub fn labels_to_text(labels: &Labels) -> Result<String, ServiceError> {
    serde_json::to_string(labels).map_err(|e| ServiceError::Corrupt(e.to_string()))
}

pub fn labels_from_text(text: &str) -> Result<Labels, ServiceError> {
    serde_json::from_str(text).map_err(|e| ServiceError::Corrupt(format!("labels: {e}")))
}

pub fn status(
    phase: &str,
    message: &str,
    at: DateTime<Utc>,
) -> Result<ResourceStatus, ServiceError> {
    let phase = Phase::parse(phase)
        .ok_or_else(|| ServiceError::Corrupt(format!("unknown phase {phase:?}")))?;
    Ok(ResourceStatus {
        phase,
        last_transition_time: at,
        message: message.to_string(),
    })
}

/// The phase of a resource nobody has reported on yet: Pending, waiting for
/// the required adapters; Ready at once when none are required.
pub fn initial_phase(required_adapters: &[String]) -> (Phase, String) {
    if required_adapters.is_empty() {
        (Phase::Ready, "no adapters are required".to_string())
    } else {
        (
            Phase::Pending,
            format!("waiting for {}", required_adapters.join(", ")),
        )
    }
}

/// A path segment naming a resource by id or by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reference {
    Id(Uuid),
    Name(String),
    /// Neither: no resource can have it, so the lookup is a plain 404.
    Invalid,
}

impl Reference {
    pub fn parse(segment: &str) -> Self {
        if let Ok(id) = Uuid::parse_str(segment) {
            Self::Id(id)
        } else if validation::is_valid_name(segment) {
            Self::Name(segment.to_string())
        } else {
            Self::Invalid
        }
    }
}

/// Was a resource with this id hard-deleted?
pub async fn is_tombstoned(db: &impl ConnectionTrait, id: Uuid) -> Result<bool, ServiceError> {
    Ok(tombstone::Entity::find_by_id(id).one(db).await?.is_some())
}
