//! Adapter status reports: one row per (resource, adapter), upserted.
//!
//! Clusters and node pools share the table: their ids are UUIDs, so
//! `resource_id` alone identifies the resource, and one code path serves
//! both. The unique `(resource_id, adapter_name)` index is both the upsert
//! key and the lookup of a resource's statuses. Rows go away with their
//! resource in the same transaction as its hard delete (no foreign key can
//! point at two tables).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AdapterStatuses {
    Table,
    Id,
    ResourceId,
    ResourceKind,
    ClusterId,
    AdapterName,
    ObservedGeneration,
    Phase,
    Message,
    Conditions,
    Data,
    Metadata,
    LastTransitionTime,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AdapterStatuses::Table)
                    .col(
                        ColumnDef::new(AdapterStatuses::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(AdapterStatuses::ResourceId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AdapterStatuses::ResourceKind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AdapterStatuses::ClusterId).uuid().not_null())
                    .col(
                        ColumnDef::new(AdapterStatuses::AdapterName)
                            .string_len(63)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AdapterStatuses::ObservedGeneration)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AdapterStatuses::Phase)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AdapterStatuses::Message).text().not_null())
                    .col(
                        ColumnDef::new(AdapterStatuses::Conditions)
                            .text()
                            .not_null(),
                    )
                    .col(ColumnDef::new(AdapterStatuses::Data).text().not_null())
                    .col(ColumnDef::new(AdapterStatuses::Metadata).text().not_null())
                    .col(
                        ColumnDef::new(AdapterStatuses::LastTransitionTime)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AdapterStatuses::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AdapterStatuses::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("adapter_statuses_resource_adapter_key")
                    .table(AdapterStatuses::Table)
                    .col(AdapterStatuses::ResourceId)
                    .col(AdapterStatuses::AdapterName)
                    .unique()
                    .to_owned(),
            )
            .await
    }
}
