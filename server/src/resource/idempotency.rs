//! Idempotent creates (docs/watch.md): a create sent with an
//! `Idempotency-Key` claims the key in the database before it runs, stores
//! its answer in its own transaction (so the resource and the answer to
//! replay exist together or not at all), and a repeat is answered from the
//! stored row by whichever replica gets it.
//!
//! A claim whose request never finished (the process died, or the client
//! went away and the handler was dropped) stops blocking its key after
//! [`IN_FLIGHT_EXPIRY`]; a finished one is replayed for [`KEY_LIFETIME`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use sha2::{Digest, Sha256};

use crate::db::entities::idempotency_key::{self, Column};
use crate::error::ServiceError;
use crate::resource::row::now;

/// How long a finished create is replayed.
pub const KEY_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// How long an unfinished claim blocks its key: longer than any create
/// runs (a few statements, each under the statement timeout).
pub const IN_FLIGHT_EXPIRY: Duration = Duration::from_secs(60);

const IN_FLIGHT: &str = "in_flight";
const DONE: &str = "done";

/// A claimed key: the create may run, and must [`complete`] or
/// [`release`] it.
#[derive(Clone, Debug)]
pub struct Claim {
    scope: String,
    key: String,
}

/// What to do with a create that carries a key.
#[derive(Debug)]
pub enum Begin {
    /// Run it (the key is claimed).
    Run(Claim),
    /// It ran already: answer with this status and body again.
    Replay { status: u16, body: String },
}

/// The hash that tells one request from another under one key: the
/// operation, its path segments and its body, as parsed.
pub fn request_hash(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.len().to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

fn ago(now: DateTime<Utc>, span: Duration) -> DateTime<Utc> {
    now - chrono::Duration::from_std(span).unwrap_or(chrono::Duration::MAX)
}

/// Claim `key` of `scope` for a request hashing to `hash`, or say how to
/// answer instead.
pub async fn begin(
    db: &impl ConnectionTrait,
    scope: &str,
    key: &str,
    hash: &str,
) -> Result<Begin, ServiceError> {
    let now = now();
    let claim = Claim {
        scope: scope.to_string(),
        key: key.to_string(),
    };
    let inserted = idempotency_key::Entity::insert(idempotency_key::ActiveModel {
        scope: Set(claim.scope.clone()),
        key: Set(claim.key.clone()),
        request_hash: Set(hash.to_string()),
        state: Set(IN_FLIGHT.to_string()),
        status: Set(None),
        response: Set(None),
        created_at: Set(now),
    })
    .on_conflict(
        OnConflict::columns([Column::Scope, Column::Key])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    if inserted == 1 {
        return Ok(Begin::Run(claim));
    }
    let Some(row) = idempotency_key::Entity::find()
        .filter(Column::Scope.eq(scope))
        .filter(Column::Key.eq(key))
        .one(db)
        .await?
    else {
        // Released between our insert and this read: the caller retries.
        return Err(ServiceError::IdempotencyKeyInFlight);
    };
    let expired = row.created_at < ago(now, KEY_LIFETIME)
        || (row.state == IN_FLIGHT && row.created_at < ago(now, IN_FLIGHT_EXPIRY));
    if expired {
        // Take the key over, unless another request just did.
        let taken = idempotency_key::Entity::update_many()
            .col_expr(Column::RequestHash, Expr::value(hash))
            .col_expr(Column::State, Expr::value(IN_FLIGHT))
            .col_expr(Column::Status, Expr::value(Option::<i32>::None))
            .col_expr(Column::Response, Expr::value(Option::<String>::None))
            .col_expr(Column::CreatedAt, Expr::value(now))
            .filter(Column::Scope.eq(scope))
            .filter(Column::Key.eq(key))
            // Still expired: no other request took it over in between.
            .filter(
                sea_orm::Condition::any()
                    .add(Column::CreatedAt.lt(ago(now, KEY_LIFETIME)))
                    .add(
                        sea_orm::Condition::all()
                            .add(Column::State.eq(IN_FLIGHT))
                            .add(Column::CreatedAt.lt(ago(now, IN_FLIGHT_EXPIRY))),
                    ),
            )
            .exec(db)
            .await?;
        return if taken.rows_affected == 1 {
            Ok(Begin::Run(claim))
        } else {
            Err(ServiceError::IdempotencyKeyInFlight)
        };
    }
    // Whatever the body, a key still in use waits for its first request.
    if row.state == IN_FLIGHT {
        return Err(ServiceError::IdempotencyKeyInFlight);
    }
    if row.request_hash != hash {
        return Err(ServiceError::IdempotencyKeyReused);
    }
    match (row.state.as_str(), row.status, row.response) {
        (DONE, Some(status), Some(body)) => Ok(Begin::Replay {
            status: u16::try_from(status).map_err(|e| ServiceError::Corrupt(e.to_string()))?,
            body,
        }),
        _ => Err(ServiceError::IdempotencyKeyInFlight),
    }
}

/// Store the answer of the create that holds `claim`, in its transaction.
pub async fn complete(
    txn: &impl ConnectionTrait,
    claim: &Claim,
    status: u16,
    body: &str,
) -> Result<(), ServiceError> {
    idempotency_key::Entity::update_many()
        .col_expr(Column::State, Expr::value(DONE))
        .col_expr(Column::Status, Expr::value(i32::from(status)))
        .col_expr(Column::Response, Expr::value(body.to_string()))
        .filter(Column::Scope.eq(claim.scope.as_str()))
        .filter(Column::Key.eq(claim.key.as_str()))
        .exec(txn)
        .await?;
    Ok(())
}

/// Give up `claim` after the create failed, so a retry runs it again.
pub async fn release(db: &impl ConnectionTrait, claim: &Claim) -> Result<(), ServiceError> {
    idempotency_key::Entity::delete_many()
        .filter(Column::Scope.eq(claim.scope.as_str()))
        .filter(Column::Key.eq(claim.key.as_str()))
        .filter(Column::State.eq(IN_FLIGHT))
        .exec(db)
        .await?;
    Ok(())
}

/// Forget keys past [`KEY_LIFETIME`].
pub async fn trim(db: &impl ConnectionTrait) -> Result<u64, ServiceError> {
    let gone = idempotency_key::Entity::delete_many()
        .filter(Column::CreatedAt.lt(ago(now(), KEY_LIFETIME)))
        .exec(db)
        .await?;
    Ok(gone.rows_affected)
}

/// A create's key, as the request carries it, and what it is keyed to.
#[derive(Clone, Debug)]
pub struct Keyed {
    /// The caller's scope (see `Caller::idempotency_scope`).
    pub scope: String,
    pub key: String,
    /// [`request_hash`] of the request.
    pub hash: String,
}

/// What a create answered: the resource, and whether that is a replay.
#[derive(Clone, Debug)]
pub struct Created<T> {
    pub value: T,
    pub replayed: bool,
}

/// Run the create `run` once per key: without a key, just run it; with
/// one, claim it first, replay a finished create's answer, and let a failed
/// create's retry run again. `run` stores its answer with [`complete`] in
/// its own transaction when it gets a claim.
pub async fn once<T, Fut>(
    db: &impl ConnectionTrait,
    keyed: Option<Keyed>,
    run: impl FnOnce(Option<Claim>) -> Fut,
) -> Result<Created<T>, ServiceError>
where
    T: serde::de::DeserializeOwned,
    Fut: std::future::Future<Output = Result<T, ServiceError>>,
{
    let Some(keyed) = keyed else {
        let value = run(None).await?;
        return Ok(Created {
            value,
            replayed: false,
        });
    };
    match begin(db, &keyed.scope, &keyed.key, &keyed.hash).await? {
        Begin::Replay { body, .. } => Ok(Created {
            value: serde_json::from_str(&body)
                .map_err(|e| ServiceError::Corrupt(format!("stored answer: {e}")))?,
            replayed: true,
        }),
        Begin::Run(claim) => match run(Some(claim.clone())).await {
            Ok(value) => Ok(Created {
                value,
                replayed: false,
            }),
            Err(error) => {
                if let Err(release_error) = release(db, &claim).await {
                    tracing::warn!(%release_error, "cannot release an idempotency key");
                }
                Err(error)
            }
        },
    }
}
