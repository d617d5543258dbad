//! sea-orm entities: the rows as stored. They never leave the server; the
//! resource modules convert them to the wire types of `hyperfleet-api`.

/// A cluster row. The spec is stored as columns so filters can index them.
pub mod cluster {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "clusters")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub name: String,
        pub generation: i64,
        pub provider: String,
        pub region: String,
        pub node_count: i32,
        /// The labels as a JSON object, in key order.
        pub labels: String,
        pub phase: String,
        pub phase_message: String,
        pub phase_changed_at: DateTimeUtc,
        /// The resource conditions as a JSON array (the
        /// `resource_conditions` table is for filtering).
        pub conditions: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        /// The feed position of the row's last change (migration 000009).
        pub resource_version: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// One label of a cluster, for indexed filtering.
pub mod cluster_label {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cluster_labels")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub cluster_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub value: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A node-pool row.
pub mod nodepool {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "nodepools")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub cluster_id: Uuid,
        pub name: String,
        pub generation: i64,
        pub node_count: i32,
        pub machine_type: String,
        /// The labels as a JSON object, in key order.
        pub labels: String,
        pub phase: String,
        pub phase_message: String,
        pub phase_changed_at: DateTimeUtc,
        /// The resource conditions as a JSON array (the
        /// `resource_conditions` table is for filtering).
        pub conditions: String,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        /// The feed position of the row's last change (migration 000009).
        pub resource_version: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// One label of a node pool, for indexed filtering.
pub mod nodepool_label {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "nodepool_labels")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub nodepool_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub value: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The latest report of one adapter on one resource (cluster or node pool).
pub mod adapter_status {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "adapter_statuses")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// The cluster's or the node pool's id.
        pub resource_id: Uuid,
        /// `cluster` or `nodepool`.
        pub resource_kind: String,
        /// The cluster the resource is or belongs to.
        pub cluster_id: Uuid,
        pub adapter_name: String,
        pub observed_generation: i64,
        /// The adapter's phase when it was last computed.
        pub phase: String,
        /// The report's own message, empty when it sent none.
        pub message: String,
        /// The conditions as a JSON array, with their transition times.
        pub conditions: String,
        /// JSON object.
        pub data: String,
        /// JSON object.
        pub metadata: String,
        /// When the adapter's phase last changed.
        pub last_transition_time: DateTimeUtc,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// One condition of a cluster or node pool, for indexed filtering; the
/// resource row's `conditions` column holds them in full.
pub mod resource_condition {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "resource_conditions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub resource_id: Uuid,
        #[sea_orm(primary_key, auto_increment = false)]
        pub condition_type: String,
        /// `True`, `False` or `Unknown`.
        pub status: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// What remains of a hard-deleted cluster or node pool.
pub mod tombstone {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tombstones")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        /// `cluster` or `nodepool`.
        pub resource_kind: String,
        pub deleted_at: DateTimeUtc,
        /// The cluster the resource belonged to (its own id for a cluster);
        /// `None` on tombstones older than migration 000006.
        pub cluster_id: Option<Uuid>,
        /// That cluster's `team` label when it was deleted; `None` when it
        /// had none, or on tombstones older than migration 000006.
        pub team: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The one row holding the newest position of the change feed.
pub mod feed_position {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "feed_position")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub position: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// One change of a cluster or node pool, at its feed position.
pub mod change {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "changes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub position: i64,
        /// `Cluster` or `NodePool`.
        pub kind: String,
        /// `ADDED`, `MODIFIED` or `DELETED`.
        pub event_type: String,
        pub resource_id: Uuid,
        /// The cluster the resource is or belongs to.
        pub cluster_id: Uuid,
        pub name: String,
        pub phase: String,
        /// The labels as a JSON object.
        pub labels: String,
        /// The owning cluster's `team` label at the change.
        pub team: Option<String>,
        /// The resource as GET returned it after the change, as JSON.
        pub object: String,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A create sent with an `Idempotency-Key`, and its answer once done.
pub mod idempotency_key {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "idempotency_keys")]
    pub struct Model {
        /// Who sent it: the token's subject, or empty without `--auth`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub scope: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        /// SHA-256 of the operation, its path and its body, in hex.
        pub request_hash: String,
        /// `in_flight` or `done`.
        pub state: String,
        pub status: Option<i32>,
        /// The answer's body, once done.
        pub response: Option<String>,
        /// When the request was (last) taken on.
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
