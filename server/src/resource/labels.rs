//! Labels of any resource kind: the merge patch that changes them, and the
//! label-table rows that make them filterable, written in the same
//! transaction as the resource row.

use std::collections::BTreeMap;

use hyperfleet_api::Labels;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::error::ServiceError;
use crate::resource::row::Row;

/// Apply a merge patch of labels: a value sets, `null` removes.
pub fn patch(current: &Labels, patch: Option<BTreeMap<String, Option<String>>>) -> Labels {
    let mut labels = current.clone();
    for (key, value) in patch.unwrap_or_default() {
        match value {
            Some(value) => labels.insert(key, value),
            None => labels.remove(&key),
        };
    }
    labels
}

/// Insert one label row per label of the resource `owner`.
pub async fn insert<R: Row>(
    txn: &impl ConnectionTrait,
    owner: Uuid,
    labels: &Labels,
) -> Result<(), ServiceError> {
    if labels.is_empty() {
        return Ok(());
    }
    let columns = &R::LABELS;
    let mut rows = Vec::with_capacity(labels.len());
    for (key, value) in labels {
        let mut row = <<R::LabelTable as EntityTrait>::ActiveModel as ActiveModelTrait>::default();
        row.try_set(columns.owner, owner.into())?;
        row.try_set(columns.key, key.as_str().into())?;
        row.try_set(columns.value, value.as_str().into())?;
        rows.push(row);
    }
    R::LabelTable::insert_many(rows)
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// Replace the label rows of the resource `owner` by `labels`.
pub async fn replace<R: Row>(
    txn: &impl ConnectionTrait,
    owner: Uuid,
    labels: &Labels,
) -> Result<(), ServiceError> {
    R::LabelTable::delete_many()
        .filter(R::LABELS.owner.eq(owner))
        .exec(txn)
        .await?;
    insert::<R>(txn, owner, labels).await
}
