//! The search indexes of migration 000008 without GIN's pending list
//! (docs/filters.md, "Cost").
//!
//! By default a GIN index collects new entries in an unsorted pending list
//! that every search reads whole, and that only a vacuum (or the list
//! outgrowing `gin_pending_list_limit`, 4 MB) moves into the index proper.
//! With autovacuum off, as after a bulk load, the list stays near its
//! limit: on 100 000 clusters J3's intersection read 409 index pages and
//! took 12 ms instead of 3. Every report that changes a phase rewrites its
//! row's terms, so the list refills as fast as the fleet changes. Without
//! it, each write puts its terms in place (a little more work per write)
//! and a search costs the same whether or not anything has vacuumed.
//! The entries already pending are moved now.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const STATEMENTS: [&str; 4] = [
    "ALTER INDEX clusters_search_idx SET (fastupdate = off)",
    "ALTER INDEX nodepools_search_idx SET (fastupdate = off)",
    "SELECT gin_clean_pending_list('clusters_search_idx')",
    "SELECT gin_clean_pending_list('nodepools_search_idx')",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::on_postgres_only(manager, &STATEMENTS).await
    }
}
