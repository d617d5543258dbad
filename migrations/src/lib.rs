//! HyperFleet's database schema, as sea-orm migrations that run unchanged on
//! SQLite and PostgreSQL. `hyperfleet migrate` and `hyperfleet serve` apply
//! them; a migration, once released, is never edited: add a new one.

mod m20261126_000001_resources;
mod m20261126_000002_adapter_statuses;
mod m20261126_000003_tombstones;
mod m20261126_000005_list_filter_indexes;
mod m20261127_000006_resource_conditions;
mod m20261130_000007_tombstone_owner;
mod m20261130_000008_search_terms;
mod m20261130_000009_change_feed;
mod m20261130_000010_search_tally;
mod m20261130_000011_search_index_without_pending_list;
mod m20261130_000012_room_for_in_place_updates;
mod m20261130_000013_paired_search_terms;
mod m20261130_000014_phase_in_provider_index;
mod m20261130_000015_placed_label_terms;

pub use sea_orm_migration::MigratorTrait;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

/// Every migration, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_resources::Migration),
            Box::new(m20261126_000002_adapter_statuses::Migration),
            Box::new(m20261126_000003_tombstones::Migration),
            Box::new(m20261126_000005_list_filter_indexes::Migration),
            Box::new(m20261127_000006_resource_conditions::Migration),
            Box::new(m20261130_000007_tombstone_owner::Migration),
            Box::new(m20261130_000008_search_terms::Migration),
            Box::new(m20261130_000009_change_feed::Migration),
            Box::new(m20261130_000010_search_tally::Migration),
            Box::new(m20261130_000011_search_index_without_pending_list::Migration),
            Box::new(m20261130_000012_room_for_in_place_updates::Migration),
            Box::new(m20261130_000013_paired_search_terms::Migration),
            Box::new(m20261130_000014_phase_in_provider_index::Migration),
            Box::new(m20261130_000015_placed_label_terms::Migration),
        ]
    }
}

/// Run `statements` in order on PostgreSQL; on SQLite do nothing. For the
/// migrations that build what only PostgreSQL has (the search column and
/// index, the kept totals), which SQLite does without.
async fn on_postgres_only(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    only_on(manager, DbBackend::Postgres, statements).await
}

/// Run `statements` in order on SQLite; on PostgreSQL do nothing. For the
/// indexes SQLite's portable path reads, where PostgreSQL has its own.
async fn on_sqlite_only(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    only_on(manager, DbBackend::Sqlite, statements).await
}

async fn only_on(
    manager: &SchemaManager<'_>,
    backend: DbBackend,
    statements: &[&str],
) -> Result<(), DbErr> {
    if manager.get_database_backend() != backend {
        return Ok(());
    }
    let db = manager.get_connection();
    for statement in statements {
        db.execute_unprepared(statement).await?;
    }
    Ok(())
}
