//! Resource conditions (docs/statuses.md#resource-conditions).
//!
//! Stored twice, as labels are: the whole list as one JSON text column on
//! the resource row (`clusters.conditions`, `nodepools.conditions`), which
//! is what reads return, and one row per condition in `resource_conditions`,
//! which is what the `condition=Type:Status` filter reads. Both are written
//! in the transaction that settles the resource.
//!
//! Indexes:
//! - `resource_conditions (condition_type, status, resource_id)`: each
//!   filter term is `id IN (SELECT resource_id FROM resource_conditions
//!   WHERE condition_type = ? AND status = ?)`, answered from this index
//!   alone (ids of clusters and node pools never collide, so one table
//!   serves both kinds);
//! - the primary key `(resource_id, condition_type)` serves rewriting and
//!   removing one resource's rows.
//!
//! Rows created before this migration get `[]` and no filter rows; they get
//! their conditions at their next report, PATCH or DELETE.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Clusters {
    Table,
    Conditions,
}

#[derive(DeriveIden)]
enum Nodepools {
    Table,
    Conditions,
}

#[derive(DeriveIden)]
enum ResourceConditions {
    Table,
    ResourceId,
    ConditionType,
    Status,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(Clusters::Table)
                    .add_column(
                        ColumnDef::new(Clusters::Conditions)
                            .text()
                            .not_null()
                            .default("[]"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Nodepools::Table)
                    .add_column(
                        ColumnDef::new(Nodepools::Conditions)
                            .text()
                            .not_null()
                            .default("[]"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ResourceConditions::Table)
                    .col(
                        ColumnDef::new(ResourceConditions::ResourceId)
                            .uuid()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ResourceConditions::ConditionType)
                            .string_len(63)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ResourceConditions::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(ResourceConditions::ResourceId)
                            .col(ResourceConditions::ConditionType),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("resource_conditions_filter_idx")
                    .table(ResourceConditions::Table)
                    .col(ResourceConditions::ConditionType)
                    .col(ResourceConditions::Status)
                    .col(ResourceConditions::ResourceId)
                    .to_owned(),
            )
            .await
    }
}
