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

/// Length of an id in its hyphenated form, the only form the API writes.
const HYPHENATED_LEN: usize = 36;

impl Reference {
    /// An id only in the hyphenated form (either case): `Uuid::parse_str`
    /// also takes the simple, braced and `urn:uuid:` forms, which would give
    /// one resource many paths. Anything else is a name, and follows the
    /// name rules (a UUID in another form is no valid name, so a 404).
    pub fn parse(segment: &str) -> Self {
        let id = (segment.len() == HYPHENATED_LEN)
            .then(|| Uuid::try_parse(segment).ok())
            .flatten();
        if let Some(id) = id {
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
    /// The id of a hard-deleted resource: its tombstone remains, saying
    /// whose it was, so the caller's module decides who may be told.
    Deleted(tombstone::Model),
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
    let Reference::Id(id) = reference else {
        return Ok(Lookup::Missing);
    };
    Ok(match tombstone::Entity::find_by_id(id).one(db).await? {
        Some(stone) => Lookup::Deleted(stone),
        None => Lookup::Missing,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_only_in_the_hyphenated_form() {
        let id = Uuid::new_v4();
        let hyphenated = id.hyphenated().to_string();
        assert_eq!(Reference::parse(&hyphenated), Reference::Id(id));
        assert_eq!(
            Reference::parse(&hyphenated.to_uppercase()),
            Reference::Id(id)
        );
        for other in [
            id.simple().to_string(),
            id.braced().to_string(),
            id.urn().to_string(),
            format!("urn:uuid:{}", id.simple()),
        ] {
            assert_eq!(Reference::parse(&other), Reference::Invalid, "{other}");
        }
        assert_eq!(
            Reference::parse("my-cluster"),
            Reference::Name("my-cluster".into())
        );
    }
}
