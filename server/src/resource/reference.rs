//! Resources named in a path: by id or by name, and what a lookup found
//! (the row, the tombstone of a hard-deleted id, or nothing).

use hyperfleet_api::validation;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Select};
use uuid::Uuid;

use crate::db::entities::tombstone;
use crate::error::ServiceError;
use crate::resource::row::Row;

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

/// What looking a resource up by its path segment found.
pub enum Lookup<R> {
    Found(R),
    /// The id of a hard-deleted resource: its tombstone remains.
    Deleted(Uuid),
    Missing,
}

/// Find the row of `among` (a query already narrowed to where the resource
/// may be, e.g. one cluster's node pools) that `segment` names.
pub async fn lookup<R: Row>(
    db: &impl ConnectionTrait,
    among: Select<R::Entity>,
    segment: &str,
) -> Result<Lookup<R>, ServiceError> {
    let reference = Reference::parse(segment);
    let query = match &reference {
        Reference::Id(id) => among.filter(R::COLUMNS.id.eq(*id)),
        Reference::Name(name) => among.filter(R::COLUMNS.name.eq(name.as_str())),
        Reference::Invalid => return Ok(Lookup::Missing),
    };
    if let Some(row) = query.one(db).await? {
        return Ok(Lookup::Found(row));
    }
    match reference {
        Reference::Id(id) if tombstone::Entity::find_by_id(id).one(db).await?.is_some() => {
            Ok(Lookup::Deleted(id))
        }
        _ => Ok(Lookup::Missing),
    }
}
