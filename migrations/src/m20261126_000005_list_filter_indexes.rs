//! Indexes for the list filters (docs/filters.md).
//!
//! What the first migration already serves, and stays as it is:
//! - a label selector is one `id IN (SELECT owner FROM *_labels WHERE key = ?
//!   [AND value = ?])` per selector: `(key, value, owner)` answers both the
//!   `key:value` and the bare-key form from the index alone;
//! - `phase IN (...)` uses `(phase, created_at)`;
//! - an exact `name` uses the unique `clusters (name)` and, per cluster,
//!   `nodepools (cluster_id, name)`;
//! - the order `(created_at, id)` with `LIMIT`/`OFFSET` uses
//!   `(created_at, id)` (per cluster: `(cluster_id, created_at, id)`).
//!
//! What this one adds:
//! - `clusters (provider, region, created_at, id)`: J3's "all GCP clusters in
//!   us-east1" is an equality on both leading columns, after which the rows
//!   already come in list order, so the page is read straight off the index
//!   and the count is one index range; `provider` alone uses the leading
//!   column. (`region` alone is rare and falls back to the other filters or a
//!   scan; an index of its own was not worth another write on every insert.)
//! - `nodepools (name)`: `GET /nodepools?name=` searches across clusters,
//!   which `(cluster_id, name)` cannot serve.
//! - On PostgreSQL, `clusters (name text_pattern_ops)`, and `nodepools (name)`
//!   built with `text_pattern_ops` too (it serves `=` as well): a glob such
//!   as `my-*` becomes `LIKE 'my-%'`, and PostgreSQL uses a btree index for a
//!   prefix `LIKE` only under the C collation or with a pattern operator
//!   class (databases here default to `C.UTF-8`, which does not count as C).
//!   A glob that starts with `*` cannot use a btree to narrow the range and
//!   reads the whole name index, which is still far smaller than the table.
//!   SQLite has no operator classes (and its `LIKE` ignores case, so it does
//!   not narrow the range either): there a glob reads the name index.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Clusters {
    Table,
    Id,
    Provider,
    Region,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Nodepools {
    Table,
    Name,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("clusters_provider_region_order_idx")
                    .table(Clusters::Table)
                    .col(Clusters::Provider)
                    .col(Clusters::Region)
                    .col(Clusters::CreatedAt)
                    .col(Clusters::Id)
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            let db = manager.get_connection();
            db.execute_unprepared(
                "CREATE INDEX clusters_name_pattern_idx ON clusters (name text_pattern_ops)",
            )
            .await?;
            db.execute_unprepared(
                "CREATE INDEX nodepools_name_idx ON nodepools (name text_pattern_ops)",
            )
            .await?;
            Ok(())
        } else {
            manager
                .create_index(
                    Index::create()
                        .name("nodepools_name_idx")
                        .table(Nodepools::Table)
                        .col(Nodepools::Name)
                        .to_owned(),
                )
                .await
        }
    }
}
