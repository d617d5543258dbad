//! Room in every page of the tables the control loop rewrites, so that most
//! of its updates are made in place (docs/filters.md, "Cost").
//!
//! An adapter's report rewrites its status row and its resource's row
//! (`updated_at`, `conditions`, `resource_version`) without touching an
//! indexed column, unless the phase moves. PostgreSQL can then keep the new
//! row version on the same page and add nothing to any index (a "HOT"
//! update), and later reads of the page drop the old version without a
//! vacuum. But only if the page has room: packed full, as tables are by
//! default, every such update puts a new entry in each of the table's
//! indexes (six b-trees and the search index's terms for a cluster), which
//! stay until a vacuum; with autovacuum off, the search index grows with
//! every report ever made and every list that reads it slows down.
//! A fill factor of 80 leaves room for a couple of versions per page. It
//! applies to pages written from now on.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const STATEMENTS: [&str; 3] = [
    "ALTER TABLE clusters SET (fillfactor = 80)",
    "ALTER TABLE nodepools SET (fillfactor = 80)",
    "ALTER TABLE adapter_statuses SET (fillfactor = 80)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::on_postgres_only(manager, &STATEMENTS).await
    }
}
