//! Who may learn that a deleted resource existed: each tombstone records the
//! cluster it belonged to (a cluster's own id, or a node pool's cluster) and
//! that cluster's `team` label at deletion. With authentication on, the
//! "has been successfully deleted" answer goes only to callers who could
//! have seen the resource; everyone else gets the plain not-found, so an id
//! of another team's deleted cluster reveals nothing.
//!
//! Both columns are nullable: tombstones written before this migration do
//! not know their owner, and are then told only to callers who see every
//! cluster (admins, adapters, and everyone when authentication is off).
//! No index: tombstones are read by primary key only.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tombstones {
    Table,
    ClusterId,
    Team,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds only one.
        manager
            .alter_table(
                Table::alter()
                    .table(Tombstones::Table)
                    .add_column(ColumnDef::new(Tombstones::ClusterId).uuid().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Tombstones::Table)
                    .add_column(ColumnDef::new(Tombstones::Team).string().null())
                    .to_owned(),
            )
            .await
    }
}
