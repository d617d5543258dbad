//! A search representation for the list filters on PostgreSQL
//! (docs/filters.md, "Cost").
//!
//! Each cluster and node pool gets `search text[]`, the terms a list can
//! ask for: `label:KEY` and `label:KEY=VALUE` for every label, `phase:PHASE`,
//! and for clusters `provider:P` and `region:R` (`=` is in neither label
//! keys nor values, so terms cannot collide). A GIN index over it answers
//! `search @> ARRAY[every asked term]` (and `search && ARRAY[phases]`) with
//! one intersection of posting lists, so a filtered count visits only the
//! matching rows whatever the planner's statistics say. Before, with one
//! `IN` subquery per selector and no statistics (a fresh fleet, autovacuum
//! off), PostgreSQL chose nested loops on rows=1 estimates and J3's count ran
//! for minutes.
//!
//! The column is `GENERATED ALWAYS ... STORED` from the row's own columns
//! (the labels as their JSON text), so PostgreSQL writes it with the row, in
//! the row's transaction, on every insert and update: no write path of the
//! server can forget it, and the server never names it except to filter.
//! Adding a stored generated column rewrites the table once, under the
//! `ACCESS EXCLUSIVE` lock of `ALTER TABLE`: that rewrite is the backfill of
//! existing rows (no second pass, no dead tuples), and no write can slip in
//! between. The GIN index is built after, over the filled column.
//!
//! SQLite keeps the portable path (label subqueries on `(key, value,
//! owner)`): this migration does nothing there, and the entities do not
//! know the column.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Labels' JSON text to terms. `IMMUTABLE` (it depends on its argument
/// only), as a generated column requires.
const LABEL_TERMS: &str = r#"
CREATE FUNCTION hyperfleet_label_terms(labels text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(term), '{}')
    FROM jsonb_each_text(labels::jsonb) AS label(key, value),
         LATERAL (VALUES ('label:' || key), ('label:' || key || '=' || value)) AS terms(term)
$$"#;

const STATEMENTS: [&str; 5] = [
    LABEL_TERMS,
    "ALTER TABLE clusters ADD COLUMN search text[] NOT NULL GENERATED ALWAYS AS (
        ARRAY['phase:' || phase, 'provider:' || provider, 'region:' || region]
        || hyperfleet_label_terms(labels)) STORED",
    "CREATE INDEX clusters_search_idx ON clusters USING gin (search)",
    "ALTER TABLE nodepools ADD COLUMN search text[] NOT NULL GENERATED ALWAYS AS (
        ARRAY['phase:' || phase] || hyperfleet_label_terms(labels)) STORED",
    "CREATE INDEX nodepools_search_idx ON nodepools USING gin (search)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::on_postgres_only(manager, &STATEMENTS).await
    }
}
