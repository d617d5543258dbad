//! Exact totals for the common lists without counting rows, on PostgreSQL
//! (docs/filters.md, "Cost").
//!
//! A list's `total` is exact. Counting the matches visits every matching
//! row: 100 000 for an unfiltered list, 40 000 for the sentinel's
//! `phase=Pending,Not Ready`, 28 000 for one common label, and PostgreSQL
//! cannot answer any of them from an index alone (GIN has no index-only
//! scans; without a vacuum there is no visibility map for a btree either).
//! So the database keeps, per resource kind, how many rows hold each search
//! term of migration 000008, plus `*` for every row; the total of a list
//! asking for one term (or a set of phases, which no row holds two of) is
//! then a sum over a handful of rows.
//!
//! Triggers write the changes, in the row's transaction, so a total read
//! in any snapshot agrees with the rows of that snapshot and no write path
//! of the server can forget it. They only ever insert (`search_tally`:
//! +1/-1 per term and row): a counter row updated by every write would be
//! a hot row whose lock serialises the fleet's writers, and a transaction
//! that changes several resources could deadlock with another taking the
//! same counters in another order. The server folds the inserted deltas
//! into `search_totals` in the background (`db::tally`), so a total reads
//! the few kept totals plus the deltas of the last moments.
//!
//! The triggers fire on `UPDATE OF search`, the generated column, which
//! PostgreSQL treats as updated whenever a column it is made of is, and
//! only when the terms really changed. The existing rows are counted once,
//! here, with the tables locked against writes until the migration commits.
//!
//! SQLite counts its matches (the portable path): nothing is done there.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// One trigger function for both kinds; its argument is the kind's name.
const TALLY_FUNCTION: &str = r#"
CREATE FUNCTION hyperfleet_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO search_tally (kind, term, delta)
        SELECT TG_ARGV[0], term, 1 FROM unnest(NEW.search || '{*}'::text[]) AS term;
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO search_tally (kind, term, delta)
        SELECT TG_ARGV[0], term, -1 FROM unnest(OLD.search || '{*}'::text[]) AS term;
    ELSE
        INSERT INTO search_tally (kind, term, delta)
        SELECT TG_ARGV[0], term, 1 FROM unnest(NEW.search) AS term
        WHERE NOT term = ANY(OLD.search)
        UNION ALL
        SELECT TG_ARGV[0], term, -1 FROM unnest(OLD.search) AS term
        WHERE NOT term = ANY(NEW.search);
    END IF;
    RETURN NULL;
END
$$"#;

const STATEMENTS: [&str; 11] = [
    "LOCK TABLE clusters, nodepools IN SHARE MODE",
    "CREATE TABLE search_tally (
        id bigserial PRIMARY KEY,
        kind text NOT NULL,
        term text NOT NULL,
        delta integer NOT NULL)",
    "CREATE INDEX search_tally_term_idx ON search_tally (kind, term)",
    "CREATE TABLE search_totals (
        kind text NOT NULL,
        term text NOT NULL,
        n bigint NOT NULL,
        PRIMARY KEY (kind, term))",
    TALLY_FUNCTION,
    "CREATE TRIGGER clusters_tally AFTER INSERT OR DELETE ON clusters
        FOR EACH ROW EXECUTE FUNCTION hyperfleet_tally('Cluster')",
    "CREATE TRIGGER clusters_tally_update AFTER UPDATE OF search ON clusters
        FOR EACH ROW WHEN (OLD.search IS DISTINCT FROM NEW.search)
        EXECUTE FUNCTION hyperfleet_tally('Cluster')",
    "CREATE TRIGGER nodepools_tally AFTER INSERT OR DELETE ON nodepools
        FOR EACH ROW EXECUTE FUNCTION hyperfleet_tally('NodePool')",
    "CREATE TRIGGER nodepools_tally_update AFTER UPDATE OF search ON nodepools
        FOR EACH ROW WHEN (OLD.search IS DISTINCT FROM NEW.search)
        EXECUTE FUNCTION hyperfleet_tally('NodePool')",
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
