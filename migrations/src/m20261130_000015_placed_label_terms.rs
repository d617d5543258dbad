//! Each label of a cluster held with the cluster's phase and placement too,
//! as one search term (PostgreSQL; docs/filters.md, "Cost"):
//! `label:k=v|phase:P|provider:X|region:Y`.
//!
//! An intersection costs what reading its terms' GIN entries costs, item by
//! item. J3 (two labels, a phase, a provider and a region) asked as the
//! pairs of migration 000013 still read three lists of 8 000 to 17 000
//! entries for 185 matches on 100 000 clusters: about 2 ms of PostgreSQL
//! time a count, so the database alone could not answer ten clients within
//! J3's 25 ms. Asked as two of these terms it reads about 2 000 entries,
//! and counts in a quarter of the time (0.58 ms against 2.06 ms, counted
//! on the same rewritten table). A row holds one such term per label, so
//! its terms still grow linearly with its labels; and a filter of one
//! label with a phase and a placement is one term, whose total is kept.
//!
//! As in migration 000013, the generated column is dropped and added again
//! (which rewrites the clusters table), with its index and the trigger on
//! it, and the clusters' kept totals are counted again from the rows. Node
//! pools have no placement and keep their terms.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Each label with the phase, provider and region. `IMMUTABLE`, as a
/// generated column requires.
const PLACED_LABEL_TERMS: &str = r#"
CREATE FUNCTION hyperfleet_placed_label_terms(labels text, phase text, provider text, region text)
RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg('label:' || key || '=' || value || '|phase:' || phase
                              || '|provider:' || provider || '|region:' || region), '{}')
    FROM jsonb_each_text(labels::jsonb) AS label(key, value)
$$"#;

const STATEMENTS: [&str; 9] = [
    "DROP TRIGGER clusters_tally_update ON clusters",
    "ALTER TABLE clusters DROP COLUMN search",
    PLACED_LABEL_TERMS,
    "ALTER TABLE clusters ADD COLUMN search text[] NOT NULL GENERATED ALWAYS AS (
        ARRAY['phase:' || phase, 'provider:' || provider, 'region:' || region,
              'provider:' || provider || '|region:' || region]
        || hyperfleet_label_terms(labels)
        || hyperfleet_label_phase_terms(labels, phase::text)
        || hyperfleet_placed_label_terms(labels, phase::text, provider, region)) STORED",
    "CREATE INDEX clusters_search_idx ON clusters USING gin (search) WITH (fastupdate = off)",
    "CREATE TRIGGER clusters_tally_update AFTER UPDATE OF search ON clusters
        FOR EACH ROW WHEN (OLD.search IS DISTINCT FROM NEW.search)
        EXECUTE FUNCTION hyperfleet_tally('Cluster')",
    "DELETE FROM search_tally WHERE kind = 'Cluster'",
    "DELETE FROM search_totals WHERE kind = 'Cluster'",
    "INSERT INTO search_totals (kind, term, n)
        SELECT 'Cluster', term, count(*) FROM clusters, unnest(search || '{*}'::text[]) AS term
        GROUP BY term",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::on_postgres_only(manager, &STATEMENTS).await
    }
}
