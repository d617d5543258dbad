//! The change feed, resource versions and idempotency keys (docs/watch.md).
//!
//! - `feed_position`: one row holding the newest position of the feed.
//!   Every write takes the next position with `UPDATE ... SET position =
//!   position + 1` inside its own transaction, so on PostgreSQL the row
//!   lock serialises writers from that statement to their commit: positions
//!   commit in order, and a reader that sees position N has already seen
//!   every position below it (no gap for a watcher to skip). A rolled-back
//!   write rolls its position back too, so positions stay dense. SQLite
//!   serialises write transactions anyway.
//! - `changes`: one row per change, keyed by its position: the resource as
//!   GET returned it after the change, and what the feed filters on (kind,
//!   name, phase, labels, and the owning team for the team scope). Old rows
//!   are trimmed in the background; a position whose successor is gone is
//!   410 `ResourceVersionTooOld`.
//! - `resource_version` on clusters and node pools: the position of the
//!   last change to the row (0 for rows older than this migration, which
//!   their next change replaces).
//! - `idempotency_keys`: one row per (caller, key) of a create sent with
//!   `Idempotency-Key`, holding the request's hash and, once done, the
//!   answer to replay. Rows are kept 24 hours.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum FeedPosition {
    Table,
    Id,
    Position,
}

#[derive(DeriveIden)]
enum Changes {
    Table,
    Position,
    Kind,
    EventType,
    ResourceId,
    ClusterId,
    Name,
    Phase,
    Labels,
    Team,
    Object,
    CreatedAt,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Scope,
    Key,
    RequestHash,
    State,
    Status,
    Response,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Clusters {
    Table,
    ResourceVersion,
}

#[derive(DeriveIden)]
enum Nodepools {
    Table,
    ResourceVersion,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FeedPosition::Table)
                    .col(
                        ColumnDef::new(FeedPosition::Id)
                            .integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(FeedPosition::Position)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::insert()
                    .into_table(FeedPosition::Table)
                    .columns([FeedPosition::Id, FeedPosition::Position])
                    .values_panic([1.into(), 0i64.into()])
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Changes::Table)
                    .col(
                        ColumnDef::new(Changes::Position)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Changes::Kind).string().not_null())
                    .col(ColumnDef::new(Changes::EventType).string().not_null())
                    .col(ColumnDef::new(Changes::ResourceId).uuid().not_null())
                    .col(ColumnDef::new(Changes::ClusterId).uuid().not_null())
                    .col(ColumnDef::new(Changes::Name).string().not_null())
                    .col(ColumnDef::new(Changes::Phase).string().not_null())
                    .col(ColumnDef::new(Changes::Labels).text().not_null())
                    .col(ColumnDef::new(Changes::Team).string().null())
                    .col(ColumnDef::new(Changes::Object).text().not_null())
                    .col(
                        ColumnDef::new(Changes::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        // The trimmer deletes by age.
        manager
            .create_index(
                Index::create()
                    .name("changes_created_at_idx")
                    .table(Changes::Table)
                    .col(Changes::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(ColumnDef::new(IdempotencyKeys::Scope).string().not_null())
                    .col(ColumnDef::new(IdempotencyKeys::Key).string().not_null())
                    .col(
                        ColumnDef::new(IdempotencyKeys::RequestHash)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(IdempotencyKeys::State).string().not_null())
                    .col(ColumnDef::new(IdempotencyKeys::Status).integer().null())
                    .col(ColumnDef::new(IdempotencyKeys::Response).text().null())
                    .col(
                        ColumnDef::new(IdempotencyKeys::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(IdempotencyKeys::Scope)
                            .col(IdempotencyKeys::Key),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idempotency_keys_created_at_idx")
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::CreatedAt)
                    .to_owned(),
            )
            .await?;
        // One column per statement: SQLite's ALTER TABLE adds only one.
        manager
            .alter_table(
                Table::alter()
                    .table(Clusters::Table)
                    .add_column(
                        ColumnDef::new(Clusters::ResourceVersion)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Nodepools::Table)
                    .add_column(
                        ColumnDef::new(Nodepools::ResourceVersion)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await
    }
}
