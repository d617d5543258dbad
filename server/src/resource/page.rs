//! One page of any resource kind's list, and how many match in all: two
//! statements, a `COUNT(*)` and the page, both filtered in SQL, oldest
//! first (`created_at`, then `id`, so pages never overlap).

use hyperfleet_api::Page;
use sea_orm::{ConnectionTrait, QueryOrder, QuerySelect, Select};

use crate::db::count;
use crate::error::ServiceError;
use crate::resource::row::Row;

/// The rows of `page` among `matching`, and the number of all matches.
pub async fn fetch<R: Row>(
    db: &impl ConnectionTrait,
    matching: Select<R::Entity>,
    page: Page,
) -> Result<(Vec<R>, u64), ServiceError> {
    let total = count(db, matching.clone()).await?;
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
