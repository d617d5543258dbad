//! List filters as SQL conditions, shared by clusters and node pools.
//!
//! Every filter becomes a `WHERE` term on an indexed column, so the
//! database, not the server, finds the matches and counts them (the indexes
//! are explained in the migrations):
//! - each label selector is one `id IN (SELECT owner FROM labels WHERE
//!   key = ? [AND value = ?])` subquery, answered from the `(key, value,
//!   owner)` index; several selectors AND their subqueries;
//! - a phase set is `phase IN (...)`;
//! - a name is `name = ?`, or `name LIKE ? ESCAPE '\'` for a glob (SQLite
//!   has no default escape character, so it is always spelled out);
//! - a member's view of the fleet is `cluster_id IN (SELECT cluster_id FROM
//!   cluster_labels WHERE key = 'team' AND value IN (...))`, from the same
//!   index, on clusters and on node pools alike ([`cluster_label_in`]);
//! - each `condition=Type:Status` term is one `id IN (SELECT resource_id
//!   FROM resource_conditions WHERE condition_type = ? AND status = ?)`,
//!   from the `(condition_type, status, resource_id)` index.

use hyperfleet_api::{CommonFilter, LabelSelector, NameFilter};
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr, Query};
use sea_orm::{ColumnTrait, Condition, EntityTrait};

use crate::db::entities::{cluster_label, resource_condition};
use crate::db::tables::{LabelColumns, ResourceColumns};

/// The condition for the labels, phases and name of `filter`; an empty
/// filter is an empty `Condition::all()`, which matches every row (`TRUE`).
pub fn common<C, L>(
    resource: &ResourceColumns<C>,
    labels: &LabelColumns<L>,
    filter: &CommonFilter,
) -> Condition
where
    C: ColumnTrait,
    L: EntityTrait,
{
    let mut condition = Condition::all();
    for selector in &filter.labels {
        let mut owners = Query::select();
        owners.column(labels.owner).from(labels.table);
        match selector {
            LabelSelector::Exists { key } => {
                owners.and_where(labels.key.eq(key.as_str()));
            }
            LabelSelector::Equals { key, value } => {
                owners
                    .and_where(labels.key.eq(key.as_str()))
                    .and_where(labels.value.eq(value.as_str()));
            }
        }
        condition = condition.add(resource.id.in_subquery(owners));
    }
    if !filter.phases.is_empty() {
        condition = condition.add(
            resource
                .phase
                .is_in(filter.phases.iter().map(|phase| phase.as_str())),
        );
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
    condition
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
    use crate::db::tables::{CLUSTER_LABELS, CLUSTERS};

    fn sql(filter: &CommonFilter, backend: DbBackend) -> String {
        let condition = common(&CLUSTERS, &CLUSTER_LABELS, filter);
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
            sql(&filter, DbBackend::Postgres),
            concat!(
                r#""clusters"."id" IN (SELECT "cluster_id" FROM "cluster_labels" WHERE "cluster_labels"."key" = 'environment' AND "cluster_labels"."value" = 'production')"#,
                r#" AND "clusters"."id" IN (SELECT "cluster_id" FROM "cluster_labels" WHERE "cluster_labels"."key" = 'team')"#,
                r#" AND "clusters"."phase" IN ('Pending', 'Not Ready')"#,
                // PostgreSQL spells a lone backslash E'\\'.
                r#" AND "clusters"."name" LIKE 'my-%' ESCAPE E'\\'"#,
            )
        );
        assert_eq!(sql(&CommonFilter::default(), DbBackend::Sqlite), "TRUE");
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
