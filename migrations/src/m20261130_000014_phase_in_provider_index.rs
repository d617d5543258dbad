//! On SQLite, `clusters (provider, region, created_at, id)` is replaced by
//! the same index with the phase as its last column
//! (`clusters_provider_region_phase_idx`), so a list filtered by provider (and region) and a
//! phase, such as J3, checks the phase in the index entry and reads only
//! the rows that have it. SQLite keeps no statistics, so it reads a list's
//! candidates from this index whenever the filter has a provider; without
//! the phase there it read every candidate's whole row (about 1.3 KB with
//! its conditions) just to compare one short column: 833 rows for J3's 500
//! Ready ones on 10 000 clusters. The leading columns, and so the list
//! order the index serves, stay as they were.
//!
//! PostgreSQL finds these filters through its search column (migration
//! 000008) and keeps the index as it is.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const STATEMENTS: [&str; 2] = [
    "CREATE INDEX clusters_provider_region_phase_idx \
     ON clusters (provider, region, created_at, id, phase)",
    "DROP INDEX clusters_provider_region_order_idx",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::on_sqlite_only(manager, &STATEMENTS).await
    }
}
