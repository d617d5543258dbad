//! Updates of any resource kind: a merge patch that changes spec or labels
//! moves the resource to a new generation, rewrites its label rows, and
//! settles its adapters' phases at that generation, in one transaction; a
//! patch that changes nothing leaves the generation as it is.

use std::collections::BTreeMap;

use hyperfleet_api::Labels;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Value};

use crate::context::ServerContext;
use crate::error::ServiceError;
use crate::resource::labels;
use crate::resource::row::{Row, Target, labels_to_text, now};
use crate::resource::settle;

/// The spec of a resource kind, as the update machinery needs it.
pub trait Spec<R: Row>: PartialEq + Sized {
    /// The spec `row` holds now.
    fn of(row: &R) -> Self;
    /// The value rules of the spec and the labels together.
    fn check(&self, labels: &Labels) -> Result<(), ServiceError>;
    /// Put the spec into `row`, returning the columns to write.
    fn store(self, row: &mut R) -> Vec<(<R::Entity as EntityTrait>::Column, Value)>;
}

/// Apply `spec` (the merged spec) and the merge patch `labels_patch` to
/// `row`, locked by the caller. `check_labels` sees the old and new labels
/// after the value rules pass (e.g. who may move a cluster to a team).
pub async fn apply<R: Row, S: Spec<R>>(
    ctx: &ServerContext,
    txn: &impl ConnectionTrait,
    row: &mut R,
    spec: S,
    labels_patch: Option<BTreeMap<String, Option<String>>>,
    check_labels: impl FnOnce(&Labels, &Labels) -> Result<(), ServiceError>,
) -> Result<(), ServiceError> {
    if row.is_terminating() {
        return Err(ServiceError::Terminating {
            kind: R::KIND.title(),
            name: row.name().to_string(),
        });
    }
    let old_labels = row.labels()?;
    let new_labels = labels::patch(&old_labels, labels_patch);
    spec.check(&new_labels)?;
    check_labels(&old_labels, &new_labels)?;
    if spec == S::of(row) && new_labels == old_labels {
        return Ok(());
    }

    let now = now();
    let columns = &R::COLUMNS;
    let spec_columns = spec.store(row);
    row.bump_generation();
    row.set_labels_text(labels_to_text(&new_labels)?);
    let mut update = R::Entity::update_many()
        .col_expr(columns.generation, Expr::value(row.generation()))
        .col_expr(columns.labels, Expr::value(row.labels_text().to_string()));
    for (column, value) in spec_columns {
        update = update.col_expr(column, Expr::value(value));
    }
    update.filter(columns.id.eq(row.id())).exec(txn).await?;
    if new_labels != old_labels {
        labels::replace::<R>(txn, row.id(), &new_labels).await?;
    }
    let settled = settle::refresh(ctx, txn, &Target::of(row)?, now).await?;
    settled.apply(row, now)?;
    Ok(())
}
