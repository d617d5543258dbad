//! Updates of any resource kind: a change to spec or labels moves the
//! resource to a new generation, rewrites its label rows, and settles its
//! adapters' phases at that generation, in one transaction.

use hyperfleet_api::Labels;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Value};

use crate::context::ServerContext;
use crate::error::ServiceError;
use crate::resource::labels;
use crate::resource::row::{Row, Target, labels_to_text, now};
use crate::resource::settle;

/// Refuse to change a resource that is being deleted.
pub fn check_changeable<R: Row>(row: &R) -> Result<(), ServiceError> {
    if row.is_terminating() {
        return Err(ServiceError::Terminating {
            kind: R::KIND.title(),
            name: row.name().to_string(),
        });
    }
    Ok(())
}

/// Store `row` (locked by the caller, its spec fields already changed) at
/// the next generation: the `spec` columns with their new values, the new
/// labels, and the phases the new generation moves.
pub async fn save<R: Row>(
    ctx: &ServerContext,
    txn: &impl ConnectionTrait,
    row: &mut R,
    spec: Vec<(<R::Entity as EntityTrait>::Column, Value)>,
    old_labels: &Labels,
    new_labels: &Labels,
) -> Result<(), ServiceError> {
    let now = now();
    let columns = &R::COLUMNS;
    row.bump_generation();
    row.set_labels_text(labels_to_text(new_labels)?);
    let mut update = R::Entity::update_many()
        .col_expr(columns.generation, Expr::value(row.generation()))
        .col_expr(columns.labels, Expr::value(row.labels_text().to_string()));
    for (column, value) in spec {
        update = update.col_expr(column, Expr::value(value));
    }
    update.filter(columns.id.eq(row.id())).exec(txn).await?;
    if new_labels != old_labels {
        labels::replace::<R>(txn, row.id(), new_labels).await?;
    }
    let settled = settle::refresh(ctx, txn, &Target::of(row)?, now).await?;
    settled.apply(row, now);
    Ok(())
}
