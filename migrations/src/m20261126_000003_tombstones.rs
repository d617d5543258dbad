//! Tombstones: what remains of a hard-deleted cluster or node pool, so that
//! a later GET by id can say "has been successfully deleted" instead of
//! "not found". Keyed by the resource id; names are not kept, since a
//! deleted resource's name is free for a new one.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tombstones {
    Table,
    Id,
    ResourceKind,
    DeletedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tombstones::Table)
                    .col(
                        ColumnDef::new(Tombstones::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Tombstones::ResourceKind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Tombstones::DeletedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }
}
