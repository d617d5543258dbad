//! One page of any resource kind's list, and how many match in all: two
//! statements, the total and the page, both filtered in SQL, oldest first
//! (`created_at`, then `id`, so pages never overlap). The total is a
//! `COUNT(*)` of the matches, or, on PostgreSQL for a filter of at most one
//! search term, the sum PostgreSQL keeps for it (`db::tally`), which costs
//! the same however many rows match.
//!
//! What keeps a list from holding the database (docs/filters.md, "Cost"):
//! - a filter that cannot match (`db::filter::fold_labels`) is answered
//!   empty without a statement;
//! - at most `ServerContext::list_permits` lists run at once, so the other
//!   connections stay free for lookups and adapters' reports; a list that
//!   cannot get a permit within the statement timeout is answered 503 like
//!   one that ran too long;
//! - every statement is under the pool's statement timeout (`db::connect`);
//! - on PostgreSQL both statements run in one transaction whose backend is
//!   known, so when the client disconnects (and dropshot drops the handler)
//!   the running statement is cancelled ([`CancelOnDrop`]).

use hyperfleet_api::Page;
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, QueryOrder, QuerySelect, Select,
    TransactionTrait,
};

use crate::context::ServerContext;
use crate::db::tally::{self, Tally};
use crate::db::{CancelOnDrop, Running, count};
use crate::error::ServiceError;
use crate::resource::row::Row;

/// The rows of `page` among `matching` (`None`: a filter nothing matches),
/// and the number of all matches: read from `tally` when given, which must
/// then count exactly the rows `matching` selects.
pub async fn fetch<R: Row>(
    ctx: &ServerContext,
    matching: Option<Select<R::Entity>>,
    tally: Option<Tally>,
    page: Page,
) -> Result<(Vec<R>, u64), ServiceError> {
    let Some(matching) = matching else {
        return Ok((Vec::new(), 0));
    };
    let _permit =
        match tokio::time::timeout(ctx.statement_timeout, ctx.list_permits.acquire()).await {
            Ok(Ok(permit)) => permit,
            // Closed only when the server stops.
            Ok(Err(_)) => return Err(ServiceError::DatabaseUnreachable),
            Err(_) => return Err(ServiceError::Busy),
        };
    if ctx.db.get_database_backend() != DbBackend::Postgres {
        return count_and_page(&ctx.db, matching, tally, page).await;
    }
    fetch_cancellable(&ctx.db, matching, tally, page).await
}

/// [`count_and_page`] in a transaction whose statement is cancelled if this
/// future is dropped before it ends.
async fn fetch_cancellable<R: Row>(
    db: &DatabaseConnection,
    matching: Select<R::Entity>,
    tally: Option<Tally>,
    page: Page,
) -> Result<(Vec<R>, u64), ServiceError> {
    let txn = db.begin().await?;
    let guard = CancelOnDrop::new(db, Running::of(&txn).await?);
    let answer = count_and_page(&txn, matching, tally, page).await;
    // Dropped here on an error, the transaction rolls back; it only read.
    if answer.is_ok() {
        txn.commit().await?;
    }
    guard.disarm();
    answer
}

async fn count_and_page<R: Row>(
    db: &impl ConnectionTrait,
    matching: Select<R::Entity>,
    tally: Option<Tally>,
    page: Page,
) -> Result<(Vec<R>, u64), ServiceError> {
    let total = match &tally {
        Some(tally) => tally::total(db, tally).await?,
        None => count(db, matching.clone()).await?,
    };
    // Past the last match there is nothing to fetch.
    if page.offset() >= total {
        return Ok((Vec::new(), total));
    }
    let rows = matching
        .order_by_asc(R::COLUMNS.created_at)
        .order_by_asc(R::COLUMNS.id)
        .offset(page.offset())
        .limit(u64::from(page.size))
        .all(db)
        .await?;
    Ok((rows, total))
}
