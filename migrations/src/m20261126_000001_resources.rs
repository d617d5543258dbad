//! Clusters and node pools, with their labels in side tables.
//!
//! Labels live twice: as a JSON text column on the resource, which is what a
//! read returns without a join, and as one `(resource, key, value)` row each,
//! so that a label filter is an index lookup on `(key, value)` instead of a
//! scan of every row's JSON. Both are written in the same transaction.
//!
//! Lists are ordered by `(created_at, id)`, so that pair is indexed; node-pool
//! lists are nearly always per cluster, hence `(cluster_id, created_at, id)`.
//! The phase is a stored column (it is recomputed whenever a report moves
//! it), indexed for `?phase=` filters.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Clusters {
    Table,
    Id,
    Name,
    Generation,
    Provider,
    Region,
    NodeCount,
    Labels,
    Phase,
    PhaseMessage,
    PhaseChangedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ClusterLabels {
    Table,
    ClusterId,
    Key,
    Value,
}

#[derive(DeriveIden)]
enum Nodepools {
    Table,
    Id,
    ClusterId,
    Name,
    Generation,
    NodeCount,
    MachineType,
    Labels,
    Phase,
    PhaseMessage,
    PhaseChangedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum NodepoolLabels {
    Table,
    NodepoolId,
    Key,
    Value,
}

/// Longest name, label key or label value (DNS prefix included) we store.
const NAME: u32 = 63;
const LABEL_KEY: u32 = 317;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Clusters::Table)
                    .col(ColumnDef::new(Clusters::Id).uuid().not_null().primary_key())
                    .col(ColumnDef::new(Clusters::Name).string_len(NAME).not_null())
                    .col(
                        ColumnDef::new(Clusters::Generation)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Clusters::Provider)
                            .string_len(NAME)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Clusters::Region).string_len(NAME).not_null())
                    .col(ColumnDef::new(Clusters::NodeCount).integer().not_null())
                    .col(ColumnDef::new(Clusters::Labels).text().not_null())
                    .col(ColumnDef::new(Clusters::Phase).string_len(16).not_null())
                    .col(ColumnDef::new(Clusters::PhaseMessage).text().not_null())
                    .col(
                        ColumnDef::new(Clusters::PhaseChangedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Clusters::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Clusters::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // Unique names are what makes concurrent creates of one name safe:
        // the database, not a read-then-write race, picks the one winner.
        index(
            manager,
            "clusters_name_key",
            Clusters::Table,
            [Clusters::Name],
            true,
        )
        .await?;
        index(
            manager,
            "clusters_order_idx",
            Clusters::Table,
            [Clusters::CreatedAt, Clusters::Id],
            false,
        )
        .await?;
        index(
            manager,
            "clusters_phase_idx",
            Clusters::Table,
            [Clusters::Phase, Clusters::CreatedAt],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(ClusterLabels::Table)
                    .col(ColumnDef::new(ClusterLabels::ClusterId).uuid().not_null())
                    .col(
                        ColumnDef::new(ClusterLabels::Key)
                            .string_len(LABEL_KEY)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ClusterLabels::Value)
                            .string_len(NAME)
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(ClusterLabels::ClusterId)
                            .col(ClusterLabels::Key),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ClusterLabels::Table, ClusterLabels::ClusterId)
                            .to(Clusters::Table, Clusters::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "cluster_labels_key_value_idx",
            ClusterLabels::Table,
            [
                ClusterLabels::Key,
                ClusterLabels::Value,
                ClusterLabels::ClusterId,
            ],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(Nodepools::Table)
                    .col(
                        ColumnDef::new(Nodepools::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Nodepools::ClusterId).uuid().not_null())
                    .col(ColumnDef::new(Nodepools::Name).string_len(NAME).not_null())
                    .col(
                        ColumnDef::new(Nodepools::Generation)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Nodepools::NodeCount).integer().not_null())
                    .col(
                        ColumnDef::new(Nodepools::MachineType)
                            .string_len(NAME)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Nodepools::Labels).text().not_null())
                    .col(ColumnDef::new(Nodepools::Phase).string_len(16).not_null())
                    .col(ColumnDef::new(Nodepools::PhaseMessage).text().not_null())
                    .col(
                        ColumnDef::new(Nodepools::PhaseChangedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Nodepools::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Nodepools::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Nodepools::Table, Nodepools::ClusterId)
                            .to(Clusters::Table, Clusters::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "nodepools_cluster_name_key",
            Nodepools::Table,
            [Nodepools::ClusterId, Nodepools::Name],
            true,
        )
        .await?;
        index(
            manager,
            "nodepools_cluster_order_idx",
            Nodepools::Table,
            [Nodepools::ClusterId, Nodepools::CreatedAt, Nodepools::Id],
            false,
        )
        .await?;
        index(
            manager,
            "nodepools_order_idx",
            Nodepools::Table,
            [Nodepools::CreatedAt, Nodepools::Id],
            false,
        )
        .await?;
        index(
            manager,
            "nodepools_phase_idx",
            Nodepools::Table,
            [Nodepools::Phase, Nodepools::CreatedAt],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(NodepoolLabels::Table)
                    .col(ColumnDef::new(NodepoolLabels::NodepoolId).uuid().not_null())
                    .col(
                        ColumnDef::new(NodepoolLabels::Key)
                            .string_len(LABEL_KEY)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(NodepoolLabels::Value)
                            .string_len(NAME)
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(NodepoolLabels::NodepoolId)
                            .col(NodepoolLabels::Key),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(NodepoolLabels::Table, NodepoolLabels::NodepoolId)
                            .to(Nodepools::Table, Nodepools::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "nodepool_labels_key_value_idx",
            NodepoolLabels::Table,
            [
                NodepoolLabels::Key,
                NodepoolLabels::Value,
                NodepoolLabels::NodepoolId,
            ],
            false,
        )
        .await
    }
}

async fn index<T, C, const N: usize>(
    manager: &SchemaManager<'_>,
    name: &str,
    table: T,
    columns: [C; N],
    unique: bool,
) -> Result<(), DbErr>
where
    T: IntoIden,
    C: IntoIden,
{
    let mut statement = Index::create();
    statement.name(name).table(table);
    for column in columns {
        statement.col(column);
    }
    if unique {
        statement.unique();
    }
    manager.create_index(statement.to_owned()).await
}
