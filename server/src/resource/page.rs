//! One page of any resource kind's list, and how many match in all, both
//! filtered in SQL, oldest first (`created_at`, then `id`, so pages never
//! overlap). The total is found in one of three ways ([`Total`]), chosen by
//! the filter so that what a list costs does not grow with how many rows
//! match, wherever that can be had exactly.
//!
//! What keeps a list from holding the database (docs/filters.md, "Cost"):
//! - a filter that cannot match (`db::filter::fold_labels`) is answered
//!   empty without a statement;
//! - at most as many lists run at once as `ServerContext::list_gate` lets
//!   (one fewer while writes are in flight), so the other connections and
//!   a core stay free for lookups and adapters' reports; a list that cannot
//!   get its turn within the statement timeout is answered 503 like one
//!   that ran too long;
//! - every statement is under the pool's statement timeout (`db::connect`);
//! - on PostgreSQL the statements run in one transaction whose backend is
//!   known, so when the client disconnects (and dropshot drops the handler)
//!   the running statement is cancelled ([`CancelOnDrop`]); except a list
//!   whose total is kept: its two statements cost little whatever the
//!   filter, so they run without a transaction, under the timeout alone.

use hyperfleet_api::{CommonFilter, Page};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityName, EntityTrait,
    IdenStatic, Iterable, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select, Statement,
    TransactionTrait,
};
use uuid::Uuid;

use crate::context::ServerContext;
use crate::db::filter::{self, Exact, Search};
use crate::db::{CancelOnDrop, Running, count, tally};
use crate::error::ServiceError;
use crate::resource::feed;
use crate::resource::row::Row;

/// How a list finds how many rows match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Total {
    /// Read from the totals PostgreSQL keeps per search term (`db::tally`):
    /// the sum over these terms, of which no row holds two. Costs the same
    /// however many rows match; then the page is read in order.
    Kept(Vec<String>),
    /// Counted, as [`Counting`] says.
    Counted(Counting),
}

/// How a list whose total is not kept counts its matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Counting {
    /// Counted on SQLite from the label table's `(key, value)` index alone,
    /// for a list across the table whose only filter is this one label
    /// selector ([`filter::only_label`]): no resource row is read (2 800
    /// matches of 10 000 clusters: a tenth of the time of counting them
    /// through the resource table).
    LabelRows { key: String, value: Option<String> },
    /// Counted by the statement that also finds the page and reads its
    /// rows: for an intersection of search terms, the costly part, which
    /// is then computed once rather than once for the count and again for
    /// the page.
    WithIds,
    /// Counted (`COUNT(*)`), then the page read in order.
    Rows,
}

impl Total {
    /// How a list of `filter` and `exact`, across the table or among one
    /// cluster's rows (`how`), whole or through a team scope (`scoped`),
    /// finds its total on `backend`.
    pub fn of<C>(
        backend: DbBackend,
        how: Search,
        filter: &CommonFilter,
        exact: &[Exact<'_, C>],
        scoped: bool,
    ) -> Total {
        if how != Search::Indexed {
            return Total::Counted(Counting::Rows);
        }
        if backend != DbBackend::Postgres {
            // A team's view is a subset of the label rows too.
            if !scoped && let Some((key, value)) = filter::only_label(filter, exact) {
                return Total::Counted(Counting::LabelRows {
                    key: key.to_string(),
                    value: value.map(str::to_string),
                });
            }
            return Total::Counted(if filter::terms_together(filter, exact) >= 2 {
                Counting::WithIds
            } else {
                Counting::Rows
            });
        }
        // A team's view is a subset the kept totals know nothing of.
        if !scoped && let Some(terms) = filter::tally_terms(backend, how, filter, exact) {
            return Total::Kept(terms);
        }
        Total::Counted(if filter::has_search_terms(filter, exact) {
            Counting::WithIds
        } else {
            Counting::Rows
        })
    }
}

/// The rows of `page` among the rows `matching` selects (`None`: a filter
/// nothing matches), and the number of all matches, found as `total` says
/// (which must count exactly those rows). `matching` writes the filter for
/// an access path ([`Search`]): through the search index, or checked on the
/// rows another path reads, such as the list order's index.
pub async fn fetch<R: Row>(
    ctx: &ServerContext,
    matching: impl Fn(Search) -> Option<Select<R::Entity>>,
    total: Total,
    page: Page,
) -> Result<Listed<R>, ServiceError> {
    let Some(indexed) = matching(Search::Indexed) else {
        return Ok(Listed {
            rows: Vec::new(),
            total: 0,
            position: feed::head(&ctx.db).await?,
        });
    };
    // Read before the list, so every change up to it is in the list; on
    // SQLite also before the permit, which it would hold one statement
    // longer (PostgreSQL reads it in the list's opening statement).
    let sqlite_position = if ctx.db.get_database_backend() == DbBackend::Postgres {
        None
    } else {
        Some(feed::head(&ctx.db).await?)
    };
    let walked = || {
        matching(Search::OnRows)
            .ok_or_else(|| ServiceError::Corrupt("a filter matched something, then nothing".into()))
    };
    let _turn = match tokio::time::timeout(ctx.statement_timeout, ctx.list_gate.enter()).await {
        Ok(Ok(turn)) => turn,
        // Nothing closes the gate; should anything ever, the server is stopping.
        Ok(Err(_)) => return Err(ServiceError::DatabaseUnreachable),
        Err(_) => return Err(ServiceError::Busy),
    };
    let counting = match (sqlite_position, total) {
        (Some(position), total) => {
            let counting = match total {
                Total::Kept(_) => Counting::Rows,
                Total::Counted(counting) => counting,
            };
            let (rows, total) = counted_page(&ctx.db, indexed, walked, &counting, page).await?;
            return Ok(Listed {
                rows,
                total,
                position,
            });
        }
        (None, Total::Kept(terms)) => {
            // Two statements of bounded cost (a walk of about
            // `sqrt(size * rows)` rows, or the index among fewer matches),
            // so no transaction to cancel them by: the statement timeout
            // stops them at the latest, and the list saves two round trips.
            let opening = Opening::read::<R>(&ctx.db, Some(&terms)).await?;
            let kept = opening
                .kept
                .ok_or_else(|| ServiceError::Corrupt("a kept total read as NULL".into()))?;
            let (rows, total) = kept_page(&ctx.db, indexed, walked, kept, page).await?;
            return Ok(Listed {
                rows,
                total,
                position: opening.position,
            });
        }
        (None, Total::Counted(counting)) => counting,
    };
    fetch_cancellable(&ctx.db, indexed, walked, &counting, page).await
}

/// One page of a list, how many rows match in all, and the feed position
/// the list has every change up to (a watch from it misses nothing).
pub struct Listed<R> {
    pub rows: Vec<R>,
    pub total: u64,
    pub position: i64,
}

/// [`counted_page`] in a transaction whose statement is cancelled if this
/// future is dropped before it ends.
async fn fetch_cancellable<R: Row>(
    db: &DatabaseConnection,
    matching: Select<R::Entity>,
    walked: impl FnOnce() -> Result<Select<R::Entity>, ServiceError>,
    counting: &Counting,
    page: Page,
) -> Result<Listed<R>, ServiceError> {
    let txn = db.begin().await?;
    let opening = Opening::read::<R>(&txn, None).await?;
    let guard = CancelOnDrop::new(db, opening.running);
    let answer = counted_page(&txn, matching, walked, counting, page).await;
    // Dropped here on an error, the transaction rolls back; it only read.
    if answer.is_ok() {
        txn.commit().await?;
    }
    guard.disarm();
    let (rows, total) = answer?;
    Ok(Listed {
        rows,
        total,
        position: opening.position,
    })
}

/// A kept total ([`Total::Kept`]) and the table's, read together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Kept {
    matching: u64,
    every: u64,
}

impl Kept {
    /// Whether `page` is cheaper to find by walking the list order's index
    /// and checking each row (about `(offset + size) * every / matching`
    /// rows read) than by finding every match through the search index and
    /// sorting them (`matching` rows read). Left to the planner, which has
    /// no statistics after a bulk load, this once went to the index for
    /// 28 000 matches: 40 ms a page instead of a fraction of one.
    fn walk_is_cheaper(self, page: Page) -> bool {
        let through = u128::from(page.offset()) + u128::from(page.size);
        let matching = u128::from(self.matching);
        matching * matching >= through * u128::from(self.every)
    }
}

/// What the first statement of a list on PostgreSQL reads, in one round
/// trip: who the transaction is (to cancel it with its client), the feed
/// head (read before the list, so every change up to it is in the list),
/// and for [`Total::Kept`] the total and the table's, sums over a few index
/// rows.
struct Opening {
    running: Running,
    position: i64,
    kept: Option<Kept>,
}

impl Opening {
    /// `kept_terms`: the terms of a [`Total::Kept`], whose total (and the
    /// table's) to read beside.
    async fn read<R: Row>(
        txn: &impl ConnectionTrait,
        kept_terms: Option<&[String]>,
    ) -> Result<Self, ServiceError> {
        let (kept, values): (String, Vec<sea_orm::Value>) = match kept_terms {
            Some(terms) => (
                format!(
                    "{} AS total, {} AS every",
                    tally::total_expression(1, 2),
                    tally::total_expression(1, 3)
                ),
                vec![
                    R::KIND.title().into(),
                    filter::array_literal(terms).into(),
                    filter::array_literal(&[tally::EVERY_ROW.to_string()]).into(),
                ],
            ),
            None => (
                "NULL::bigint AS total, NULL::bigint AS every".into(),
                Vec::new(),
            ),
        };
        let sql = format!(
            "SELECT {}, ({}) AS head, {kept}",
            Running::COLUMNS,
            feed::HEAD
        );
        let row = txn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql,
                values,
            ))
            .await?
            .ok_or_else(|| ServiceError::Corrupt("a SELECT without FROM gave no row".into()))?;
        let count = |column: &str| -> Result<Option<u64>, ServiceError> {
            let n: Option<i64> = row.try_get("", column)?;
            Ok(n.map(|n| u64::try_from(n).unwrap_or(0)))
        };
        let kept = match (count("total")?, count("every")?) {
            (Some(matching), Some(every)) => Some(Kept { matching, every }),
            _ => None,
        };
        Ok(Self {
            running: Running::from_row(&row)?,
            position: row.try_get("", "head")?,
            kept,
        })
    }
}

/// The page's rows among `kept.matching` matches, and that total: by
/// walking the list order's index with the filter checked on each row
/// (`walked`, the [`Search::OnRows`] form) when there are many matches,
/// else through the search index (`indexed`), counted again on the way.
async fn kept_page<R: Row>(
    db: &impl ConnectionTrait,
    indexed: Select<R::Entity>,
    walked: impl FnOnce() -> Result<Select<R::Entity>, ServiceError>,
    kept: Kept,
    page: Page,
) -> Result<(Vec<R>, u64), ServiceError> {
    if !kept.walk_is_cheaper(page) {
        return counted_with_rows(db, indexed, page).await;
    }
    if page.offset() >= kept.matching {
        return Ok((Vec::new(), kept.matching));
    }
    Ok((in_order(db, walked()?, page).await?, kept.matching))
}

/// The page's rows among those `matching` selects, and how many match,
/// counted as `counting` says; `walked`: the same filter checked on the
/// rows a walk reads ([`Search::OnRows`]).
async fn counted_page<R: Row>(
    db: &impl ConnectionTrait,
    matching: Select<R::Entity>,
    walked: impl FnOnce() -> Result<Select<R::Entity>, ServiceError>,
    counting: &Counting,
    page: Page,
) -> Result<(Vec<R>, u64), ServiceError> {
    let postgres = db.get_database_backend() == DbBackend::Postgres;
    let total = match counting {
        Counting::LabelRows { key, value } => label_rows::<R>(db, key, value.as_deref()).await?,
        Counting::WithIds => return counted_with_rows(db, matching, page).await,
        Counting::Rows => count(db, matching.clone()).await?,
    };
    // Past the last match there is nothing to fetch.
    if page.offset() >= total {
        return Ok((Vec::new(), total));
    }
    if !postgres && total > SQLITE_WALK_FROM {
        return Ok((page_by_walking(db, walked()?, page).await?, total));
    }
    Ok((in_order(db, matching, page).await?, total))
}

/// The page of `matching` in list order, read as the planner sees fit.
async fn in_order<R: Row>(
    db: &impl ConnectionTrait,
    matching: Select<R::Entity>,
    page: Page,
) -> Result<Vec<R>, ServiceError> {
    Ok(matching
        .order_by_asc(R::COLUMNS.created_at)
        .order_by_asc(R::COLUMNS.id)
        .offset(page.offset())
        .limit(u64::from(page.size))
        .all(db)
        .await?)
}

/// [`Counting::WithIds`]: the page's rows and the number of all matches in
/// one statement, so from one snapshot on either backend. The matches (id
/// and order key) are found once (PostgreSQL: through the search index;
/// SQLite: `MATERIALIZED` too, from 3.35), then both counted and sorted for
/// the page (cheap next to finding them), and the page's rows read by
/// primary key. The count comes as a column of every row; a page past the
/// last match is one row with the count and no resource.
async fn counted_with_rows<R: Row>(
    db: &impl ConnectionTrait,
    matching: Select<R::Entity>,
    page: Page,
) -> Result<(Vec<R>, u64), ServiceError> {
    let found = matching
        .select_only()
        .column(R::COLUMNS.id)
        .column(R::COLUMNS.created_at)
        .build(db.get_database_backend());
    let table = R::Entity::default().table_name().to_string();
    let columns: Vec<String> = <R::Entity as EntityTrait>::Column::iter()
        // Named, as SQLite would otherwise name `id` and `created_at`
        // `id:2` and `created_at:1` beside the ORDER BY's `page` columns.
        .map(|column| format!("r.\"{0}\" AS \"{0}\"", column.as_str()))
        .collect();
    // Offset and size are integers, written out rather than numbered after
    // the filter's own placeholders.
    let sql = format!(
        "WITH matches AS MATERIALIZED ({found}), \
         page AS (SELECT id, created_at FROM matches ORDER BY created_at, id \
         LIMIT {size} OFFSET {offset}) \
         SELECT {columns}, counted.total \
         FROM (SELECT COUNT(*) AS total FROM matches) AS counted \
         LEFT JOIN (page JOIN \"{table}\" AS r USING (id)) ON true \
         ORDER BY page.created_at, page.id",
        found = found.sql,
        size = page.size,
        offset = page.offset(),
        columns = columns.join(", "),
    );
    let rows = db.query_all_raw(Statement { sql, ..found }).await?;
    let mut total: i64 = 0;
    let mut listed = Vec::with_capacity(rows.len());
    for row in &rows {
        total = row.try_get("", "total")?;
        let id: Option<Uuid> = row.try_get("", R::COLUMNS.id.as_str())?;
        if id.is_some() {
            listed.push(R::from_query_result(row, "")?);
        }
    }
    Ok((listed, u64::try_from(total).unwrap_or(0)))
}

/// [`Counting::LabelRows`]: how many rows of `R`'s label table have `key`
/// (and `value`).
async fn label_rows<R: Row>(
    db: &impl ConnectionTrait,
    key: &str,
    value: Option<&str>,
) -> Result<u64, ServiceError> {
    let labels = &R::LABELS;
    let mut rows = R::LabelTable::find().filter(labels.key.eq(key));
    if let Some(value) = value {
        rows = rows.filter(labels.value.eq(value));
    }
    Ok(count(db, rows).await?)
}

/// The rows with these ids, oldest first.
async fn rows_by_id<R: Row>(
    db: &impl ConnectionTrait,
    ids: Vec<Uuid>,
) -> Result<Vec<R>, ServiceError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(R::Entity::find()
        .filter(R::COLUMNS.id.is_in(ids))
        .order_by_asc(R::COLUMNS.created_at)
        .order_by_asc(R::COLUMNS.id)
        .all(db)
        .await?)
}

/// On SQLite, a page among more matches than this is found by walking the
/// kind's `(created_at, id)` index ([`page_by_walking`]).
const SQLITE_WALK_FROM: u64 = 500;

/// A page among many matches on SQLite. Left to itself, SQLite finds every
/// match through the filter's index, reads each whole row and sorts them
/// all for ten (a 28 % label on 10 000 clusters: 2 800 rows read and
/// sorted per page). Walking the `(created_at, id)` index in order instead
/// stops after the page: with more than [`SQLITE_WALK_FROM`] matches that
/// is at most `(offset + size) * rows / matches` index entries checked,
/// and only the page's ids are read. SQLite keeps no statistics unless
/// asked, so it is told which index to use (`INDEXED BY`); then the page's
/// rows are read by id.
async fn page_by_walking<R: Row>(
    db: &impl ConnectionTrait,
    matching: Select<R::Entity>,
    page: Page,
) -> Result<Vec<R>, ServiceError> {
    let table = R::Entity::default().table_name().to_string();
    let statement = matching
        .select_only()
        .column(R::COLUMNS.id)
        .order_by_asc(R::COLUMNS.created_at)
        .order_by_asc(R::COLUMNS.id)
        .offset(page.offset())
        .limit(u64::from(page.size))
        .build(DbBackend::Sqlite);
    // The outer query's table comes first; subqueries of the filter follow
    // in its WHERE.
    let from = format!("FROM \"{table}\"");
    let at = statement
        .sql
        .find(&from)
        .map(|at| at + from.len())
        .ok_or_else(|| ServiceError::Response(format!("a page query without {from}")))?;
    let sql = format!(
        "{} INDEXED BY \"{table}_order_idx\"{}",
        &statement.sql[..at],
        &statement.sql[at..]
    );
    let found = db.query_all_raw(Statement { sql, ..statement }).await?;
    let ids = found
        .iter()
        .map(|row| row.try_get_by_index::<Uuid>(0))
        .collect::<Result<Vec<_>, _>>()?;
    rows_by_id(db, ids).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(page: u32, size: u32) -> Page {
        Page { page, size }
    }

    #[test]
    fn many_matches_walk_the_order_and_few_go_through_the_index() {
        let fleet = 100_000;
        let kept = |matching| Kept {
            matching,
            every: fleet,
        };
        // Every row, a 28 % label, the sentinel's 40 %: ten rows are near.
        assert!(kept(fleet).walk_is_cheaper(page(1, 10)));
        assert!(kept(28_000).walk_is_cheaper(page(1, 10)));
        assert!(kept(40_000).walk_is_cheaper(page(1, 10)));
        // A rare label: a walk would read most of the table for ten rows.
        assert!(!kept(185).walk_is_cheaper(page(1, 10)));
        assert!(!kept(999).walk_is_cheaper(page(1, 10)));
        assert!(kept(1_000).walk_is_cheaper(page(1, 10)));
        // Deep pages walk further: past a point the index is cheaper.
        assert!(!kept(28_000).walk_is_cheaper(page(1_000, 10)));
        // Nothing matches: the index answers at once.
        assert!(!kept(0).walk_is_cheaper(page(1, 10)));
    }
}
