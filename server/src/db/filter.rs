//! List filters as SQL conditions, shared by clusters and node pools.
//!
//! First the selectors are folded ([`fold_labels`]): a repeated selector
//! counts once, `key` beside `key:value` is just `key:value`, and two values
//! for one key match nothing, which is answered without a statement. So
//! what a list costs depends on the distinct filters, not on how often a
//! client repeats them.
//!
//! Then every filter becomes a `WHERE` term the database answers from an
//! index, so the database, not the server, finds the matches and counts
//! them (the indexes are explained in the migrations):
//! - on PostgreSQL, labels, one phase, and a cluster's provider and region
//!   are terms of the `search` column (`label:k`, `label:k=v`, `phase:P`,
//!   `provider:p`, `region:r`; migration 000008), all of them in one
//!   `search @> ARRAY[...]` and a set of phases in `search && ARRAY[...]`:
//!   one GIN index scan intersects them, whatever the planner believes about
//!   how many rows each matches (with no statistics, a nested loop over one
//!   subquery per selector ran for minutes);
//! - on SQLite (the portable path), each label selector is one `id IN
//!   (SELECT owner FROM labels WHERE key = ? [AND value = ?])` subquery,
//!   answered from the `(key, value, owner)` index, so the label rows can
//!   find the matches; where other rows are read first (the list order's
//!   index walked, one cluster's rows, or the provider's index,
//!   [`SQLITE_LEADING_EXACT`]) it is `EXISTS (SELECT 1 FROM labels WHERE
//!   owner = id AND key = ? [AND value = ?])`, one probe per row read. A
//!   phase set is `phase IN (...)` and the exact columns are `column = ?`;
//! - a name is `name = ?`, or `name LIKE ? ESCAPE '\'` for a glob (SQLite
//!   has no default escape character, so it is always spelled out);
//! - a member's view of the fleet is `cluster_id IN (SELECT cluster_id FROM
//!   cluster_labels WHERE key = 'team' AND value IN (...))`, from the same
//!   index, on clusters and on node pools alike ([`cluster_label_in`]);
//! - each `condition=Type:Status` term is one `id IN (SELECT resource_id
//!   FROM resource_conditions WHERE condition_type = ? AND status = ?)`,
//!   from the `(condition_type, status, resource_id)` index.

use std::collections::BTreeMap;

use hyperfleet_api::{CommonFilter, LabelSelector, NameFilter};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, LikeExpr, Query, SimpleExpr};
use sea_orm::{ColumnTrait, Condition, DbBackend, EntityTrait, IdenStatic};

use crate::db::entities::{cluster_label, resource_condition};
use crate::db::tables::{LabelColumns, ResourceColumns};

/// The column of search terms on PostgreSQL (not in the entities: SQLite
/// has no such column).
const SEARCH_COLUMN: &str = "search";

/// An exact filter of one resource kind beyond the common ones, such as a
/// cluster's provider: its column for the portable path, and the prefix of
/// its search term on PostgreSQL.
pub struct Exact<'a, C> {
    pub column: C,
    pub term: &'static str,
    pub value: &'a str,
}

/// The label selectors with repeats folded away, keyed by label key: `None`
/// for "has the key", `Some(value)` for "has it with this value"; `None`
/// when two selectors want different values of one key, which nothing can
/// match.
pub fn fold_labels(selectors: &[LabelSelector]) -> Option<BTreeMap<&str, Option<&str>>> {
    let mut folded: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    for selector in selectors {
        let (key, value) = match selector {
            LabelSelector::Exists { key } => (key.as_str(), None),
            LabelSelector::Equals { key, value } => (key.as_str(), Some(value.as_str())),
        };
        match (folded.get(key).copied(), value) {
            (None, _) | (Some(None), Some(_)) => {
                folded.insert(key, value);
            }
            (Some(Some(held)), Some(value)) if held != value => return None,
            _ => {}
        }
    }
    Some(folded)
}

/// The search term a label selector looks for (see migration 000008; `=` is
/// in neither keys nor values, so terms cannot collide).
fn label_term(key: &str, value: Option<&str>) -> String {
    match value {
        Some(value) => format!("label:{key}={value}"),
        None => format!("label:{key}"),
    }
}

/// `terms` as one `text[]` parameter: an array literal (`{"a","b"}`), cast.
/// Terms hold no `"`, `\\` or `,` to escape (keys, values and phases do
/// not). One parameter keeps the statement text the same for any number of
/// terms, and sea-query's custom expressions cannot hold `ARRAY[...]`
/// (brackets read as quoted identifiers).
fn text_array(terms: Vec<String>) -> SimpleExpr {
    // PostgreSQL only, where sea-query numbers placeholders `$N`.
    Expr::cust_with_values("CAST($1 AS text[])", [array_literal(&terms)])
}

/// `terms` as the text of a PostgreSQL array (`{"a","b"}`); see
/// [`text_array`] for why nothing needs escaping.
pub fn array_literal(terms: &[String]) -> String {
    let quoted: Vec<String> = terms.iter().map(|term| format!("\"{term}\"")).collect();
    format!("{{{}}}", quoted.join(","))
}

/// Whether the search terms may be looked up in their GIN index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Search {
    /// Across the table: the index finds the matches.
    Indexed,
    /// On the rows another path reads: among rows another indexed
    /// equality already narrows to a few (one cluster's node pools), or a
    /// page walked along the list order's index among many matches
    /// (`resource::page`). On PostgreSQL written so the GIN index cannot
    /// serve it: without statistics the planner would otherwise prefer it
    /// (28 % of all node pools) to the `cluster_id` index (ten of them), or
    /// to the walk. On SQLite each label selector is an `EXISTS` probe per
    /// row read, where an `IN` list would be built from every label row of
    /// the selector first (a 28 % label walked for ten rows: 20 times the
    /// time).
    OnRows,
}

/// The condition for the labels, phases and name of `filter` and the kind's
/// `exact` filters, on `backend`; `None` when nothing can match. An empty
/// filter is an empty `Condition::all()`, which matches every row (`TRUE`).
pub fn common<C, L>(
    backend: DbBackend,
    how: Search,
    resource: &ResourceColumns<C>,
    labels: &LabelColumns<L>,
    filter: &CommonFilter,
    exact: &[Exact<'_, C>],
) -> Option<Condition>
where
    C: ColumnTrait,
    L: EntityTrait,
{
    let selectors = fold_labels(&filter.labels)?;
    let mut condition = Condition::all();
    if backend == DbBackend::Postgres {
        let column = Expr::col((resource.id.entity_name(), Alias::new(SEARCH_COLUMN)));
        // `search || '{}'` is the same array, but no index is built on it.
        let search = match how {
            Search::Indexed => column,
            Search::OnRows => Expr::cust_with_expr("($1 || '{}'::text[])", column),
        };
        let (all, any) = search_terms(&selectors, filter, exact);
        if !all.is_empty() {
            condition = condition.add(search.clone().binary(
                sea_orm::sea_query::extension::postgres::PgBinOper::Contains,
                text_array(all),
            ));
        }
        if !any.is_empty() {
            condition = condition.add(search.binary(
                sea_orm::sea_query::extension::postgres::PgBinOper::Overlap,
                text_array(any),
            ));
        }
    } else {
        let per_row = how == Search::OnRows || exact.iter().any(|e| e.term == SQLITE_LEADING_EXACT);
        for (key, value) in &selectors {
            if per_row && let Some(value) = value {
                condition = condition.add(sqlite_value_probe(resource, labels, key, value));
                continue;
            }
            let mut owners = Query::select();
            owners.from(labels.table).and_where(labels.key.eq(*key));
            if let Some(value) = value {
                owners.and_where(labels.value.eq(*value));
            }
            condition = condition.add(if per_row {
                owners.expr(Expr::val(1)).and_where(
                    Expr::col((labels.table, labels.owner))
                        .equals((resource.id.entity_name(), resource.id)),
                );
                Expr::exists(owners)
            } else {
                owners.column(labels.owner);
                resource.id.in_subquery(owners)
            });
        }
        if !filter.phases.is_empty() {
            condition = condition.add(
                resource
                    .phase
                    .is_in(filter.phases.iter().map(|phase| phase.as_str())),
            );
        }
        for e in exact {
            condition = condition.add(e.column.eq(e.value));
        }
    }
    for (kind, status) in &filter.conditions {
        let mut owners = Query::select();
        owners
            .column(resource_condition::Column::ResourceId)
            .from(resource_condition::Entity)
            .and_where(resource_condition::Column::ConditionType.eq(kind.as_str()))
            .and_where(resource_condition::Column::Status.eq(status.as_str()));
        condition = condition.add(resource.id.in_subquery(owners));
    }
    match &filter.name {
        Some(NameFilter::Exact(name)) => {
            condition = condition.add(resource.name.eq(name.as_str()));
        }
        Some(NameFilter::Like(pattern)) => {
            condition = condition.add(
                Expr::col(resource.name.as_column_ref())
                    .like(LikeExpr::new(pattern.as_str()).escape('\\')),
            );
        }
        None => {}
    }
    Some(condition)
}

/// On SQLite, whether the row being read holds label `key` with `value`:
/// one seek in the label table's `(key, value, owner)` index, which holds
/// all three. SQLite, which keeps no statistics, would rather take the
/// primary key `(owner, key)`, as unique, and then read the label row for
/// its value: a second b-tree seek per probe, half of what J3 costs on
/// 10 000 clusters (1.03 ms a statement, 0.55 ms with the index named).
/// A probe for the key alone keeps the primary key, which holds both.
fn sqlite_value_probe<C, L>(
    resource: &ResourceColumns<C>,
    labels: &LabelColumns<L>,
    key: &str,
    value: &str,
) -> SimpleExpr
where
    C: ColumnTrait,
    L: EntityTrait,
{
    let table = labels.table.table_name();
    Expr::cust_with_values(
        format!(
            r#"EXISTS(SELECT 1 FROM "{table}" INDEXED BY "{table}_key_value_idx" WHERE "{table}"."{key_column}" = ? AND "{table}"."{value_column}" = ? AND "{table}"."{owner}" = "{resource_table}"."{id}")"#,
            key_column = labels.key.as_str(),
            value_column = labels.value.as_str(),
            owner = labels.owner.as_str(),
            resource_table = resource.id.entity_name(),
            id = resource.id.as_str(),
        ),
        [key, value],
    )
}

/// The exact filter whose column leads an index of its own on SQLite
/// (`clusters_provider_region_phase_idx`, migrations 000005
/// and 000014). SQLite, which keeps no statistics, reads the candidates of
/// a list that has it from that index; a label selector is then best
/// checked on each candidate (`EXISTS`, one probe of the label table's
/// primary key) than as an `IN` list, which SQLite builds in full, every
/// label row of the selector, on every statement (J3 on 10 000 clusters:
/// 2 800 + 1 400 label rows built into lists to check 500 candidates).
const SQLITE_LEADING_EXACT: &str = "provider";

/// The two exact filters whose terms each cluster also holds together, as
/// one term (`provider:X|region:Y`, migration 000013), and together with
/// each label and the phase (migration 000015).
const PAIRED_EXACT: (&str, &str) = ("provider", "region");

/// The search terms of a filter on PostgreSQL: those every match holds
/// (labels, one phase, the exact columns) and those of which a match holds
/// one (a set of two or more phases).
///
/// Where the row holds several terms as one term too, the combined term is
/// asked for instead of its parts: an intersection costs what its index
/// entries cost to read, and a combined term's entries are far fewer than
/// its parts'. A cluster holds `provider:X|region:Y` (its placement), each
/// label with its phase, `label:k=v|phase:P` (migration 000013), and each
/// label with its phase and placement, `label:k=v|phase:P|provider:X|region:Y`
/// (migration 000015); a node pool, each label with its phase. So J3 on
/// 100 000 clusters reads two lists of ~1 400 and ~700 entries, where its five
/// single terms were five lists of 14 000 to 60 000. A filter that is one
/// combined term, such as a label with a phase, then has a kept total.
fn search_terms<C>(
    selectors: &BTreeMap<&str, Option<&str>>,
    filter: &CommonFilter,
    exact: &[Exact<'_, C>],
) -> (Vec<String>, Vec<String>) {
    let mut phases: Vec<String> = Vec::new();
    for phase in &filter.phases {
        let term = format!("phase:{}", phase.as_str());
        if !phases.contains(&term) {
            phases.push(term);
        }
    }
    let one_phase = match phases.as_slice() {
        [phase] => Some(phase.clone()),
        _ => None,
    };
    let (first, second) = PAIRED_EXACT;
    let placement = exact
        .iter()
        .find(|e| e.term == first)
        .zip(exact.iter().find(|e| e.term == second))
        .map(|(a, b)| format!("{}:{}|{}:{}", a.term, a.value, b.term, b.value));
    let mut all: Vec<String> = Vec::new();
    let mut phase_carried = false;
    let mut placement_carried = false;
    for (key, value) in selectors {
        match (value, &one_phase) {
            (Some(_), Some(phase)) => {
                let mut term = format!("{}|{phase}", label_term(key, *value));
                if let Some(placement) = &placement {
                    term = format!("{term}|{placement}");
                    placement_carried = true;
                }
                all.push(term);
                phase_carried = true;
            }
            _ => all.push(label_term(key, *value)),
        }
    }
    let any = match one_phase {
        Some(phase) => {
            if !phase_carried {
                all.push(phase);
            }
            Vec::new()
        }
        None => phases,
    };
    match placement {
        Some(placement) => {
            if !placement_carried {
                all.push(placement);
            }
            all.extend(
                exact
                    .iter()
                    .filter(|e| e.term != first && e.term != second)
                    .map(|e| format!("{}:{}", e.term, e.value)),
            );
        }
        None => all.extend(exact.iter().map(|e| format!("{}:{}", e.term, e.value))),
    }
    (all, any)
}

/// The terms whose totals, kept by PostgreSQL (`db::tally`), add up to how
/// many rows of the whole table match `filter` and `exact`, when there are
/// such terms: no filter at all (`*`), one term, or a set of phases (no row
/// holds two). `None` when the matches must be counted: on SQLite, among
/// one cluster's rows ([`Search::OnRows`]), or for a name, a condition, or
/// two or more terms together (an intersection).
pub fn tally_terms<C>(
    backend: DbBackend,
    how: Search,
    filter: &CommonFilter,
    exact: &[Exact<'_, C>],
) -> Option<Vec<String>> {
    if backend != DbBackend::Postgres
        || how != Search::Indexed
        || filter.name.is_some()
        || !filter.conditions.is_empty()
    {
        return None;
    }
    let selectors = fold_labels(&filter.labels)?;
    match search_terms(&selectors, filter, exact) {
        (all, any) if all.is_empty() && any.is_empty() => {
            Some(vec![crate::db::tally::EVERY_ROW.to_string()])
        }
        (all, any) if all.len() == 1 && any.is_empty() => Some(all),
        (all, any) if all.is_empty() => Some(any),
        _ => None,
    }
}

/// The one label selector (key, and value unless it asks only for the key)
/// that is the whole of `filter` and `exact`, when that is so, repeats
/// folded: across a table its matches are the label table's rows of that
/// key (and value), since a resource holds each key at most once and only
/// stored resources have label rows.
pub fn only_label<'f, C>(
    filter: &'f CommonFilter,
    exact: &[Exact<'_, C>],
) -> Option<(&'f str, Option<&'f str>)> {
    if filter.name.is_some()
        || !filter.conditions.is_empty()
        || !filter.phases.is_empty()
        || !exact.is_empty()
    {
        return None;
    }
    let selectors = fold_labels(&filter.labels)?;
    match selectors.into_iter().collect::<Vec<_>>()[..] {
        [(key, value)] => Some((key, value)),
        _ => None,
    }
}

/// How many of the terms a match must hold together `filter` and `exact`
/// ask for: each label selector (repeats folded), the phases (one or a
/// set), each exact column. Two or more make an intersection.
pub fn terms_together<C>(filter: &CommonFilter, exact: &[Exact<'_, C>]) -> usize {
    let labels = fold_labels(&filter.labels).map_or(0, |selectors| selectors.len());
    labels + usize::from(!filter.phases.is_empty()) + exact.len()
}

/// Whether `filter` and `exact` ask for any search term (PostgreSQL), that
/// is whether the matches are found through the search index.
pub fn has_search_terms<C>(filter: &CommonFilter, exact: &[Exact<'_, C>]) -> bool {
    !filter.labels.is_empty() || !filter.phases.is_empty() || !exact.is_empty()
}

/// Rows whose `cluster_id` column (a cluster's id, or a node pool's
/// cluster) names a cluster whose label `key` is one of `values`.
pub fn cluster_label_in<C: ColumnTrait>(cluster_id: C, key: &str, values: &[String]) -> Condition {
    let mut owners = Query::select();
    owners
        .column(cluster_label::Column::ClusterId)
        .from(cluster_label::Entity)
        .and_where(cluster_label::Column::Key.eq(key))
        .and_where(cluster_label::Column::Value.is_in(values.iter().map(String::as_str)));
    Condition::all().add(cluster_id.in_subquery(owners))
}

#[cfg(test)]
mod tests {
    use hyperfleet_api::{Phase, glob_to_like};
    use sea_orm::{DbBackend, QueryFilter, QueryTrait};

    use super::*;
    use crate::db::entities::cluster;
    use crate::db::tables::{CLUSTER_LABELS, CLUSTERS, NODEPOOL_LABELS, NODEPOOLS};

    fn sql(filter: &CommonFilter, backend: DbBackend) -> String {
        cluster_where(filter, backend, Search::Indexed, &[])
    }

    /// The `WHERE` condition of a cluster list of `filter` and `exact`.
    fn cluster_where(
        filter: &CommonFilter,
        backend: DbBackend,
        how: Search,
        exact: &[Exact<'_, cluster::Column>],
    ) -> String {
        let condition = common(backend, how, &CLUSTERS, &CLUSTER_LABELS, filter, exact)
            .expect("a filter that can match");
        let statement = cluster::Entity::find()
            .filter(condition)
            .build(backend)
            .to_string();
        match statement.split_once(" WHERE ") {
            Some((_, condition)) => condition.to_string(),
            None => String::new(),
        }
    }

    #[test]
    fn sqlite_probes_labels_on_rows_it_reads_first() {
        let filter = CommonFilter {
            labels: vec![LabelSelector::Equals {
                key: "environment".into(),
                value: "production".into(),
            }],
            ..CommonFilter::default()
        };
        let provider = [Exact {
            column: cluster::Column::Provider,
            term: "provider",
            value: "gcp",
        }];
        let region = [Exact {
            column: cluster::Column::Region,
            term: "region",
            value: "us-east1",
        }];
        let where_of = |how, exact: &[Exact<'_, cluster::Column>]| {
            cluster_where(&filter, DbBackend::Sqlite, how, exact)
        };
        let probe = concat!(
            r#"EXISTS(SELECT 1 FROM "cluster_labels" INDEXED BY "cluster_labels_key_value_idx""#,
            r#" WHERE "cluster_labels"."key" = 'environment' AND "cluster_labels"."value" = 'production'"#,
            r#" AND "cluster_labels"."cluster_id" = "clusters"."id")"#
        );
        let list = r#""clusters"."id" IN (SELECT "cluster_id" FROM "cluster_labels" WHERE "cluster_labels"."key" = 'environment' AND "cluster_labels"."value" = 'production')"#;
        // Rows read first: a walk, or the provider's index. The probe is
        // written out, so it is bracketed beside other terms.
        assert_eq!(where_of(Search::OnRows, &[]), probe);
        assert_eq!(
            where_of(Search::Indexed, &provider),
            format!(r#"({probe}) AND "clusters"."provider" = 'gcp'"#)
        );
        // Otherwise the label rows may find the matches: region has no
        // index of its own.
        assert_eq!(where_of(Search::Indexed, &[]), list);
        assert_eq!(
            where_of(Search::Indexed, &region),
            format!(r#"{list} AND "clusters"."region" = 'us-east1'"#)
        );
        // A probe for a key alone stays on the primary key, which holds
        // the owner and the key.
        let has_team = CommonFilter {
            labels: vec![LabelSelector::Exists { key: "team".into() }],
            ..CommonFilter::default()
        };
        assert_eq!(
            cluster_where(&has_team, DbBackend::Sqlite, Search::OnRows, &[]),
            concat!(
                r#"EXISTS(SELECT 1 FROM "cluster_labels" WHERE "cluster_labels"."key" = 'team'"#,
                r#" AND "cluster_labels"."cluster_id" = "clusters"."id")"#
            )
        );
    }

    #[test]
    fn every_filter_is_a_where_term() {
        let filter = CommonFilter {
            labels: vec![
                LabelSelector::Equals {
                    key: "environment".into(),
                    value: "production".into(),
                },
                LabelSelector::Exists { key: "team".into() },
            ],
            phases: vec![Phase::Pending, Phase::NotReady],
            name: Some(NameFilter::Like(glob_to_like("my-*"))),
            conditions: vec![],
        };
        assert_eq!(
            sql(&filter, DbBackend::Sqlite),
            concat!(
                r#""clusters"."id" IN (SELECT "cluster_id" FROM "cluster_labels" WHERE "cluster_labels"."key" = 'environment' AND "cluster_labels"."value" = 'production')"#,
                r#" AND "clusters"."id" IN (SELECT "cluster_id" FROM "cluster_labels" WHERE "cluster_labels"."key" = 'team')"#,
                r#" AND "clusters"."phase" IN ('Pending', 'Not Ready')"#,
                r#" AND "clusters"."name" LIKE 'my-%' ESCAPE '\'"#,
            )
        );
        // On PostgreSQL the labels are one containment on the search column
        // and the phase set one overlap, both answered by its GIN index.
        assert_eq!(
            sql(&filter, DbBackend::Postgres),
            concat!(
                r#""clusters"."search" @> (CAST('{"label:environment=production","label:team"}' AS text[]))"#,
                r#" AND ("clusters"."search" && (CAST('{"phase:Pending","phase:Not Ready"}' AS text[])))"#,
                // PostgreSQL spells a lone backslash E'\\'.
                r#" AND "clusters"."name" LIKE 'my-%' ESCAPE E'\\'"#,
            )
        );
        assert_eq!(sql(&CommonFilter::default(), DbBackend::Sqlite), "TRUE");
    }

    fn equals(key: &str, value: &str) -> LabelSelector {
        LabelSelector::Equals {
            key: key.into(),
            value: value.into(),
        }
    }

    #[test]
    fn repeated_selectors_fold_into_one_term() {
        let repeated = CommonFilter {
            labels: [
                vec![equals("env", "prod"); 64],
                vec![LabelSelector::Exists { key: "env".into() }],
            ]
            .concat(),
            ..CommonFilter::default()
        };
        assert_eq!(
            sql(&repeated, DbBackend::Sqlite),
            r#""clusters"."id" IN (SELECT "cluster_id" FROM "cluster_labels" WHERE "cluster_labels"."key" = 'env' AND "cluster_labels"."value" = 'prod')"#
        );
        assert_eq!(
            sql(&repeated, DbBackend::Postgres),
            r#""clusters"."search" @> (CAST('{"label:env=prod"}' AS text[]))"#
        );
    }

    #[test]
    fn two_values_of_one_key_match_nothing() {
        let contradictory = CommonFilter {
            labels: vec![equals("env", "prod"), equals("env", "dev")],
            ..CommonFilter::default()
        };
        for backend in [DbBackend::Sqlite, DbBackend::Postgres] {
            assert!(
                common(
                    backend,
                    Search::Indexed,
                    &CLUSTERS,
                    &CLUSTER_LABELS,
                    &contradictory,
                    &[]
                )
                .is_none()
            );
        }
    }

    /// The containment a filter on clusters asks for on PostgreSQL.
    fn containment(filter: &CommonFilter, exact: &[Exact<'_, cluster::Column>]) -> String {
        let condition = common(
            DbBackend::Postgres,
            Search::Indexed,
            &CLUSTERS,
            &CLUSTER_LABELS,
            filter,
            exact,
        )
        .expect("a filter that can match");
        let statement = cluster::Entity::find()
            .filter(condition)
            .build(DbBackend::Postgres)
            .to_string();
        statement
            .split_once("WHERE ")
            .map(|(_, condition)| condition.to_string())
            .unwrap_or(statement)
    }

    fn provider_and_region() -> [Exact<'static, cluster::Column>; 2] {
        [
            Exact {
                column: cluster::Column::Provider,
                term: "provider",
                value: "gcp",
            },
            Exact {
                column: cluster::Column::Region,
                term: "region",
                value: "us-east1",
            },
        ]
    }

    #[test]
    fn exact_filters_and_one_phase_join_the_containment_as_combined_terms() {
        // J3: each label with the phase and the placement, which carry
        // the phase and the placement.
        let j3 = CommonFilter {
            labels: vec![
                equals("team", "platform"),
                equals("environment", "production"),
            ],
            phases: vec![Phase::Ready],
            name: None,
            conditions: vec![],
        };
        assert_eq!(
            containment(&j3, &provider_and_region()),
            r#""clusters"."search" @> (CAST('{"label:environment=production|phase:Ready|provider:gcp|region:us-east1","label:team=platform|phase:Ready|provider:gcp|region:us-east1"}' AS text[]))"#
        );
        // Without the phase, the placement is one term beside the labels;
        // without the region, each label is paired with the phase only.
        let labels_only = CommonFilter {
            phases: vec![],
            ..j3.clone()
        };
        assert_eq!(
            containment(&labels_only, &provider_and_region()),
            r#""clusters"."search" @> (CAST('{"label:environment=production","label:team=platform","provider:gcp|region:us-east1"}' AS text[]))"#
        );
        assert_eq!(
            containment(&j3, &provider_and_region()[..1]),
            r#""clusters"."search" @> (CAST('{"label:environment=production|phase:Ready","label:team=platform|phase:Ready","provider:gcp"}' AS text[]))"#
        );
        // A bare key beside a label with a value: the value's term carries
        // the phase and placement, the key stays single.
        let with_bare_key = CommonFilter {
            labels: vec![
                equals("environment", "production"),
                LabelSelector::Exists { key: "team".into() },
            ],
            ..j3.clone()
        };
        assert_eq!(
            containment(&with_bare_key, &provider_and_region()),
            r#""clusters"."search" @> (CAST('{"label:environment=production|phase:Ready|provider:gcp|region:us-east1","label:team"}' AS text[]))"#
        );
        // A bare key has no pair: it and the phase stay single terms; a
        // provider alone stays single too.
        let bare_key = CommonFilter {
            labels: vec![LabelSelector::Exists { key: "team".into() }],
            phases: vec![Phase::Ready],
            ..CommonFilter::default()
        };
        assert_eq!(
            containment(&bare_key, &provider_and_region()[..1]),
            r#""clusters"."search" @> (CAST('{"label:team","phase:Ready","provider:gcp"}' AS text[]))"#
        );
        // With a phase set, labels stay single and the phases overlap.
        let phase_set = CommonFilter {
            labels: vec![equals("team", "platform")],
            phases: vec![Phase::Ready, Phase::Pending],
            ..CommonFilter::default()
        };
        assert_eq!(
            containment(&phase_set, &provider_and_region()[1..]),
            r#""clusters"."search" @> (CAST('{"label:team=platform","region:us-east1"}' AS text[])) AND ("clusters"."search" && (CAST('{"phase:Ready","phase:Pending"}' AS text[])))"#
        );
    }

    #[test]
    fn within_one_cluster_the_terms_stay_off_the_index() {
        let filter = CommonFilter {
            labels: vec![equals("env", "prod")],
            ..CommonFilter::default()
        };
        let condition = common(
            DbBackend::Postgres,
            Search::OnRows,
            &NODEPOOLS,
            &NODEPOOL_LABELS,
            &filter,
            &[],
        )
        .expect("a filter that can match");
        let statement = crate::db::entities::nodepool::Entity::find()
            .filter(condition)
            .build(DbBackend::Postgres)
            .to_string();
        assert!(
            statement.ends_with(
                r#"WHERE (("nodepools"."search" || '{}'::text[])) @> (CAST('{"label:env=prod"}' AS text[]))"#
            ),
            "{statement}"
        );
    }

    #[test]
    fn kept_totals_answer_at_most_one_term_or_a_phase_set() {
        let tally = |filter: &CommonFilter, how: Search| {
            tally_terms::<cluster::Column>(DbBackend::Postgres, how, filter, &[])
        };
        let one_label = CommonFilter {
            labels: vec![equals("env", "prod"), equals("env", "prod")],
            ..CommonFilter::default()
        };
        assert_eq!(
            tally(&one_label, Search::Indexed),
            Some(vec!["label:env=prod".to_string()])
        );
        assert_eq!(
            tally(&CommonFilter::default(), Search::Indexed),
            Some(vec!["*".to_string()])
        );
        let phases = CommonFilter {
            phases: vec![Phase::Pending, Phase::NotReady, Phase::Pending],
            ..CommonFilter::default()
        };
        assert_eq!(
            tally(&phases, Search::Indexed),
            Some(vec![
                "phase:Pending".to_string(),
                "phase:Not Ready".to_string()
            ])
        );
        // An intersection, a name, a condition, one cluster's rows or
        // SQLite: counted.
        let two_labels = CommonFilter {
            labels: vec![equals("env", "prod"), equals("team", "x")],
            ..CommonFilter::default()
        };
        assert_eq!(tally(&two_labels, Search::Indexed), None);
        let label_and_phases = CommonFilter {
            labels: vec![equals("env", "prod")],
            ..phases.clone()
        };
        assert_eq!(tally(&label_and_phases, Search::Indexed), None);
        // A label with one phase is one paired term, kept.
        let label_and_phase = CommonFilter {
            labels: vec![equals("env", "prod")],
            phases: vec![Phase::Ready],
            ..CommonFilter::default()
        };
        assert_eq!(
            tally(&label_and_phase, Search::Indexed),
            Some(vec!["label:env=prod|phase:Ready".to_string()])
        );
        // And with a placement too.
        assert_eq!(
            tally_terms(
                DbBackend::Postgres,
                Search::Indexed,
                &label_and_phase,
                &provider_and_region()
            ),
            Some(vec![
                "label:env=prod|phase:Ready|provider:gcp|region:us-east1".to_string()
            ])
        );
        let named = CommonFilter {
            name: Some(NameFilter::Like(glob_to_like("*"))),
            ..CommonFilter::default()
        };
        assert_eq!(tally(&named, Search::Indexed), None);
        assert_eq!(tally(&one_label, Search::OnRows), None);
        assert_eq!(
            tally_terms::<cluster::Column>(DbBackend::Sqlite, Search::Indexed, &one_label, &[]),
            None
        );
        let provider = [Exact {
            column: cluster::Column::Provider,
            term: "provider",
            value: "gcp",
        }];
        assert_eq!(
            tally_terms(
                DbBackend::Postgres,
                Search::Indexed,
                &CommonFilter::default(),
                &provider
            ),
            Some(vec!["provider:gcp".to_string()])
        );
    }

    #[test]
    fn condition_terms_are_indexed_subqueries() {
        use hyperfleet_api::{ConditionStatus, ResourceConditionType};
        let filter = CommonFilter {
            conditions: vec![
                (ResourceConditionType::Reconciled, ConditionStatus::False),
                (ResourceConditionType::Degraded, ConditionStatus::True),
            ],
            ..CommonFilter::default()
        };
        assert_eq!(
            sql(&filter, DbBackend::Sqlite),
            concat!(
                r#""clusters"."id" IN (SELECT "resource_id" FROM "resource_conditions" WHERE "resource_conditions"."condition_type" = 'Reconciled' AND "resource_conditions"."status" = 'False')"#,
                r#" AND "clusters"."id" IN (SELECT "resource_id" FROM "resource_conditions" WHERE "resource_conditions"."condition_type" = 'Degraded' AND "resource_conditions"."status" = 'True')"#,
            )
        );
    }

    #[test]
    fn team_scopes_are_one_indexed_subquery() {
        let teams = ["alpha".to_string(), "beta".to_string()];
        let statement = crate::db::entities::nodepool::Entity::find()
            .filter(cluster_label_in(
                crate::db::entities::nodepool::Column::ClusterId,
                "team",
                &teams,
            ))
            .build(DbBackend::Postgres)
            .to_string();
        assert!(
            statement.ends_with(concat!(
                r#"WHERE "nodepools"."cluster_id" IN (SELECT "cluster_id" FROM "cluster_labels" "#,
                r#"WHERE "cluster_labels"."key" = 'team' AND "cluster_labels"."value" IN ('alpha', 'beta'))"#,
            )),
            "{statement}"
        );
    }

    #[test]
    fn like_metacharacters_stay_escaped_in_sql() {
        let filter = CommonFilter {
            name: Some(NameFilter::Like(glob_to_like("a_b%*"))),
            ..CommonFilter::default()
        };
        assert_eq!(
            sql(&filter, DbBackend::Sqlite),
            r#""clusters"."name" LIKE 'a\_b\%%' ESCAPE '\'"#
        );
    }
}
