//! Pairs of search terms held as one term too (PostgreSQL; docs/filters.md,
//! "Cost"): `label:k=v|phase:P` for each label with the row's phase, and a
//! cluster's `provider:X|region:Y`.
//!
//! An intersection of terms costs what reading their GIN entries costs, and
//! the common terms are long: on 100 000 clusters J3 (two labels, a phase,
//! a provider and a region) read five lists of 14 000 to 60 000 entries
//! for 185 matches, ~4 ms of a core however the index is kept. Asked as
//! pairs it reads three lists of ~10 000 (~1.3 ms), and a label with a
//! phase becomes one term, whose total is kept (migration 000010). The
//! filter asks for a pair whenever the row holds it
//! (`db::filter::search_terms`); the single terms stay for every other
//! filter.
//!
//! The generated column is dropped and added again with the new terms
//! (which rewrites both tables, after migration 000012, with room in every
//! page), so the triggers on it are too, and the kept totals are counted
//! again from the rows.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Each label paired with the phase. `IMMUTABLE`, as a generated column
/// requires.
const LABEL_PHASE_TERMS: &str = r#"
CREATE FUNCTION hyperfleet_label_phase_terms(labels text, phase text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg('label:' || key || '=' || value || '|phase:' || phase), '{}')
    FROM jsonb_each_text(labels::jsonb) AS label(key, value)
$$"#;

const STATEMENTS: [&str; 15] = [
    "DROP TRIGGER clusters_tally_update ON clusters",
    "DROP TRIGGER nodepools_tally_update ON nodepools",
    "ALTER TABLE clusters DROP COLUMN search",
    "ALTER TABLE nodepools DROP COLUMN search",
    LABEL_PHASE_TERMS,
    "ALTER TABLE clusters ADD COLUMN search text[] NOT NULL GENERATED ALWAYS AS (
        ARRAY['phase:' || phase, 'provider:' || provider, 'region:' || region,
              'provider:' || provider || '|region:' || region]
        || hyperfleet_label_terms(labels)
        || hyperfleet_label_phase_terms(labels, phase::text)) STORED",
    "ALTER TABLE nodepools ADD COLUMN search text[] NOT NULL GENERATED ALWAYS AS (
        ARRAY['phase:' || phase]
        || hyperfleet_label_terms(labels)
        || hyperfleet_label_phase_terms(labels, phase::text)) STORED",
    "CREATE INDEX clusters_search_idx ON clusters USING gin (search) WITH (fastupdate = off)",
    "CREATE INDEX nodepools_search_idx ON nodepools USING gin (search) WITH (fastupdate = off)",
    "CREATE TRIGGER clusters_tally_update AFTER UPDATE OF search ON clusters
        FOR EACH ROW WHEN (OLD.search IS DISTINCT FROM NEW.search)
        EXECUTE FUNCTION hyperfleet_tally('Cluster')",
    "CREATE TRIGGER nodepools_tally_update AFTER UPDATE OF search ON nodepools
        FOR EACH ROW WHEN (OLD.search IS DISTINCT FROM NEW.search)
        EXECUTE FUNCTION hyperfleet_tally('NodePool')",
    "DELETE FROM search_tally",
    "DELETE FROM search_totals",
    "INSERT INTO search_totals (kind, term, n)
        SELECT 'Cluster', term, count(*) FROM clusters, unnest(search || '{*}'::text[]) AS term
        GROUP BY term",
    "INSERT INTO search_totals (kind, term, n)
        SELECT 'NodePool', term, count(*) FROM nodepools, unnest(search || '{*}'::text[]) AS term
        GROUP BY term",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::on_postgres_only(manager, &STATEMENTS).await
    }
}
