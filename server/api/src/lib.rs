//! HyperFleet's HTTP contract: the dropshot API trait and its wire types.
//!
//! `openapi.yaml` at the repository root is [`openapi_document`] as YAML, and
//! `cargo xtask openapi check` keeps it that way. This crate does no I/O, so
//! the contract compiles (and the document is produced) without the server.

mod cluster;
mod error;
mod extract;
mod feed;
mod filter;
mod integral;
mod lifecycle;
mod nodepool;
mod resource;
mod security;
mod status;
pub mod validation;

use dropshot::{
    HttpResponseAccepted, HttpResponseCreated, HttpResponseHeaders, HttpResponseOk, RequestContext,
};

pub use cluster::{
    Cluster, ClusterCreateRequest, ClusterKind, ClusterList, ClusterListKind, ClusterSpec,
};
pub use error::{Error, ErrorCode, FieldError, REQUEST_ID_HEADER};
pub use extract::{
    HeaderParams, JsonBody, PathParams, QueryParams, parse_json, parse_json_object, parse_query,
};
pub use feed::{
    CreateHeaders, CreatedHeaders, DEFAULT_WATCH_TIMEOUT_SECONDS, EventWatchHeaders,
    EventWatchParams, IfMatch, MAX_IDEMPOTENCY_KEY_LEN, MAX_WATCH_TIMEOUT_SECONDS,
    PreconditionHeaders, ResourceHeaders, WatchKinds, WatchQuery, check_event_watch,
    check_idempotency_key, etag, glob_matches, parse_if_match,
};
pub use filter::{
    ClusterListParams, ClusterQuery, CommonFilter, LabelSelector, NameFilter,
    NodePoolListAllParams, NodePoolListParams, NodePoolQuery, check_cluster_list,
    check_nodepool_list, check_nodepool_list_all, check_page, glob_to_like, parse_conditions,
    parse_label_selector, parse_name_filter, parse_phases,
};
pub use lifecycle::{
    ClusterPatch, ClusterSpecPatch, DeleteParams, NodePoolPatch, NodePoolSpecPatch,
};
pub use nodepool::{
    NodePool, NodePoolCreateRequest, NodePoolKind, NodePoolList, NodePoolListKind, NodePoolSpec,
};
pub use resource::{
    BASE_PATH, ClusterPath, DEFAULT_PAGE_SIZE, Health, Labels, MAX_PAGE_SIZE, NodePoolPath, Page,
    Phase, ResourceCondition, ResourceConditionType, ResourceStatus,
};
pub use security::{BEARER_SCHEME, Guarded};
pub use status::{
    AdapterPhase, AdapterStatus, AdapterStatusList, AdapterStatusReport, AdapterWaiting, Condition,
    ConditionReport, ConditionStatus, FINALIZED, REQUIRED_CONDITIONS,
};

/// Largest request body the API reads, in bytes; a larger one is 413.
pub const MAX_REQUEST_BODY_BYTES: usize = 1024 * 1024;

/// Version of the contract; `info.version` of `openapi.yaml`.
pub const API_VERSION: semver::Version = semver::Version::new(1, 0, 0);

/// The HyperFleet API.
#[dropshot::api_description {
    tag_config = {
        allow_other_tags = false,
        tags = {
            clusters = { description = "Clusters: create, read, list, update and delete." },
            nodepools = { description = "Node pools: groups of nodes inside a cluster, listed per cluster or across clusters." },
            statuses = { description = "Adapter status reports, the phase and conditions they add up to, and the adapter order." },
            events = { description = "The change feed: every change to clusters and node pools, as a stream." },
            health = { description = "Probes and the served contract, outside the base path." },
        },
    },
}]
pub trait HyperfleetApi {
    /// Server state shared by all handlers.
    type Context;

    /// Create a cluster.
    ///
    /// The cluster starts in phase `Pending` at generation 1; adapters then
    /// report on it and its phase follows their reports. The name must be
    /// unique among existing clusters.
    ///
    /// With authentication on, the `team` label names the team that owns the
    /// cluster: when it is absent it is set to the caller's team (a caller in
    /// several teams must name one), and a member may only name a team it
    /// belongs to.
    ///
    /// Errors: 400 `ValidationFailed` (every offending field in `details`;
    /// also a missing `team` label from a caller in several teams),
    /// 400 `BadRequest` (unreadable body), 401 `Unauthenticated`, 403
    /// `PermissionDenied` (an adapter token, or a team the caller is not in),
    /// 409 `ClusterAlreadyExists`, 413 `PayloadTooLarge`, 503 `Unavailable`.
    /// With `Idempotency-Key`: 409 `IdempotencyKeyInFlight`, 422
    /// `IdempotencyKeyReused` (docs/watch.md).
    ///
    /// The answer carries the cluster's `resource_version` as `ETag`; a
    /// create sent again with the same `Idempotency-Key` and body gets the
    /// first answer back, with `Idempotent-Replayed: true`.
    #[endpoint { method = POST, path = "/api/hyperfleet/v1/clusters", tags = ["clusters"] }]
    async fn cluster_create(
        rqctx: RequestContext<Self::Context>,
        headers: HeaderParams<CreateHeaders>,
        body: JsonBody<ClusterCreateRequest>,
    ) -> Result<Guarded<HttpResponseHeaders<HttpResponseCreated<Cluster>, CreatedHeaders>>, Error>;

    /// List clusters, oldest first, one page at a time, optionally filtered.
    ///
    /// Filters (`labels`, `phase`, `provider`, `region`, `name`) combine with
    /// AND; `total` counts every match, not just this page. Example:
    /// `?labels=environment:production&phase=Ready&provider=gcp&region=us-east1`.
    ///
    /// With authentication on, a member sees only its teams' clusters, and
    /// `total` counts only those.
    ///
    /// A repeated label selector counts once, and two values of one key
    /// match nothing (an empty list, answered without a query). A list
    /// whose query runs longer than the server's statement timeout (`serve
    /// --statement-timeout`, default 5 s) is stopped and answered 503
    /// `Unavailable` with a message saying so.
    ///
    /// Errors: 400 `BadRequest` (a bad, unknown or repeated query
    /// parameter, named in `details`), 401 `Unauthenticated`, 503
    /// `Unavailable` (the database unreachable, or the query over the
    /// statement timeout).
    #[endpoint { method = GET, path = "/api/hyperfleet/v1/clusters", tags = ["clusters"] }]
    async fn cluster_list(
        rqctx: RequestContext<Self::Context>,
        query: QueryParams<ClusterListParams>,
    ) -> Result<Guarded<HttpResponseOk<ClusterList>>, Error>;

    /// Get one cluster by id or by name.
    ///
    /// The answer carries the cluster's `resource_version` as `ETag`.
    ///
    /// Errors: 401 `Unauthenticated`, 403 `PermissionDenied` (another team's
    /// cluster), 404 `ClusterNotFound`, 503 `Unavailable`.
    #[endpoint { method = GET, path = "/api/hyperfleet/v1/clusters/{cluster}", tags = ["clusters"] }]
    async fn cluster_view(
        rqctx: RequestContext<Self::Context>,
        path: PathParams<ClusterPath>,
    ) -> Result<Guarded<HttpResponseHeaders<HttpResponseOk<Cluster>, ResourceHeaders>>, Error>;

    /// Change a cluster's spec or labels (JSON merge patch).
    ///
    /// Spec fields left out keep their value; a label set to `null` is
    /// removed. A real change raises `generation` by one, and the cluster is
    /// `Not Ready` (still `Pending` if no adapter ever reported) until the
    /// required adapters report at the new generation. A patch that changes
    /// nothing changes nothing.
    ///
    /// Errors: 400 `ValidationFailed` (including a `name` or unknown field),
    /// 401 `Unauthenticated`, 403 `PermissionDenied` (another team's cluster,
    /// an adapter token, or a `team` label the caller may not set or remove),
    /// 404 `ClusterNotFound`, 409 `ResourceTerminating`, 503 `Unavailable`.
    ///
    /// With `If-Match`, the change happens only if the cluster's
    /// `resource_version` is still the one given; otherwise the answer is 412
    /// `PreconditionFailed` (its message names the current version) and
    /// nothing changes. The answer carries the new `resource_version` as
    /// `ETag`.
    #[endpoint { method = PATCH, path = "/api/hyperfleet/v1/clusters/{cluster}", tags = ["clusters"] }]
    async fn cluster_update(
        rqctx: RequestContext<Self::Context>,
        path: PathParams<ClusterPath>,
        headers: HeaderParams<PreconditionHeaders>,
        body: JsonBody<ClusterPatch>,
    ) -> Result<Guarded<HttpResponseHeaders<HttpResponseOk<Cluster>, ResourceHeaders>>, Error>;

    /// Delete a cluster and its node pools.
    ///
    /// The cluster and its node pools become `Terminating` (generation + 1)
    /// and adapters clean up, reporting `Finalized=True` at the new
    /// generation. Once every required adapter has, and no node pool is
    /// left, the cluster is removed and a later GET answers 404 "Cluster <id>
    /// has been successfully deleted" (with authentication on, to callers
    /// who could have seen the cluster; others get the plain not-found); its
    /// name is free again. Deleting a
    /// `Terminating` cluster again changes nothing. With `force=true`, a
    /// `Terminating` cluster is removed at once, node pools included.
    ///
    /// Errors: 401 `Unauthenticated`, 403 `PermissionDenied` (another team's
    /// cluster, or an adapter token), 404 `ClusterNotFound`, 409
    /// `ResourceNotTerminating` (force on a cluster that is not being
    /// deleted), 503 `Unavailable`.
    ///
    /// With `If-Match`, the change happens only if the cluster's
    /// `resource_version` is still the one given; otherwise the answer is 412
    /// `PreconditionFailed` (its message names the current version) and
    /// nothing changes. The answer carries the new `resource_version` as
    /// `ETag`.
    #[endpoint { method = DELETE, path = "/api/hyperfleet/v1/clusters/{cluster}", tags = ["clusters"] }]
    async fn cluster_delete(
        rqctx: RequestContext<Self::Context>,
        path: PathParams<ClusterPath>,
        query: QueryParams<DeleteParams>,
        headers: HeaderParams<PreconditionHeaders>,
    ) -> Result<Guarded<HttpResponseHeaders<HttpResponseAccepted<Cluster>, ResourceHeaders>>, Error>;

    /// Create a node pool in a cluster.
    ///
    /// The node pool starts in phase `Pending` at generation 1. The name must
    /// be unique within the cluster.
    ///
    /// Errors: 400 `ValidationFailed`, 400 `BadRequest`, 401
    /// `Unauthenticated`, 403 `PermissionDenied` (another team's cluster, or
    /// an adapter token), 404 `ClusterNotFound`, 409 `NodePoolAlreadyExists`,
    /// 413 `PayloadTooLarge`, 503 `Unavailable`. With `Idempotency-Key`:
    /// 409 `IdempotencyKeyInFlight`, 422 `IdempotencyKeyReused`, as for
    /// clusters; the answer carries the `ETag`.
    #[endpoint {
        method = POST,
        path = "/api/hyperfleet/v1/clusters/{cluster}/nodepools",
        tags = ["nodepools"],
    }]
    async fn nodepool_create(
        rqctx: RequestContext<Self::Context>,
        path: PathParams<ClusterPath>,
        headers: HeaderParams<CreateHeaders>,
        body: JsonBody<NodePoolCreateRequest>,
    ) -> Result<Guarded<HttpResponseHeaders<HttpResponseCreated<NodePool>, CreatedHeaders>>, Error>;

    /// List the node pools of a cluster, oldest first, optionally filtered.
    ///
    /// Filters (`labels`, `phase`, `name`) combine with AND; `total` counts
    /// every match, not just this page.
    ///
    /// A repeated label selector counts once, and two values of one key
    /// match nothing (an empty list, answered without a query). A list
    /// whose query runs longer than the server's statement timeout (`serve
    /// --statement-timeout`, default 5 s) is stopped and answered 503
    /// `Unavailable` with a message saying so.
    ///
    /// Errors: 400 `BadRequest` (a bad, unknown or repeated query parameter,
    /// named in `details`), 401 `Unauthenticated`, 403 `PermissionDenied`
    /// (another team's cluster), 404 `ClusterNotFound`, 503 `Unavailable`
    /// (the database unreachable, or the query over the statement timeout).
    #[endpoint {
        method = GET,
        path = "/api/hyperfleet/v1/clusters/{cluster}/nodepools",
        tags = ["nodepools"],
    }]
    async fn nodepool_list(
        rqctx: RequestContext<Self::Context>,
        path: PathParams<ClusterPath>,
        query: QueryParams<NodePoolListParams>,
    ) -> Result<Guarded<HttpResponseOk<NodePoolList>>, Error>;

    /// List the node pools of every cluster, oldest first, optionally filtered.
    ///
    /// Filters (`cluster_id`, `labels`, `phase`, `name`) combine with AND;
    /// `total` counts every match, not just this page.
    ///
    /// A `cluster_id` that names no cluster matches nothing (an empty list,
    /// not a 404): this is a search, not a path. With authentication on, a
    /// member sees only the node pools of its teams' clusters, and `total`
    /// counts only those.
    ///
    /// A repeated label selector counts once, and two values of one key
    /// match nothing (an empty list, answered without a query). A list
    /// whose query runs longer than the server's statement timeout (`serve
    /// --statement-timeout`, default 5 s) is stopped and answered 503
    /// `Unavailable` with a message saying so.
    ///
    /// Errors: 400 `BadRequest` (a bad, unknown or repeated query parameter,
    /// named in `details`), 401 `Unauthenticated`, 503 `Unavailable` (the
    /// database unreachable, or the query over the statement timeout).
    #[endpoint { method = GET, path = "/api/hyperfleet/v1/nodepools", tags = ["nodepools"] }]
    async fn nodepool_list_all(
        rqctx: RequestContext<Self::Context>,
        query: QueryParams<NodePoolListAllParams>,
    ) -> Result<Guarded<HttpResponseOk<NodePoolList>>, Error>;

    /// Get one node pool of a cluster by id or by name.
    ///
    /// Errors: 401 `Unauthenticated`, 403 `PermissionDenied` (another team's
    /// cluster), 404 `ClusterNotFound`, 404 `NodePoolNotFound`, 503
    /// `Unavailable`.
    #[endpoint {
        method = GET,
        path = "/api/hyperfleet/v1/clusters/{cluster}/nodepools/{nodepool}",
        tags = ["nodepools"],
    }]
    async fn nodepool_view(
        rqctx: RequestContext<Self::Context>,
        path: PathParams<NodePoolPath>,
    ) -> Result<Guarded<HttpResponseHeaders<HttpResponseOk<NodePool>, ResourceHeaders>>, Error>;

    /// Change a node pool's spec or labels (JSON merge patch); as for clusters.
    ///
    /// Errors: 400 `ValidationFailed`, 401 `Unauthenticated`, 403
    /// `PermissionDenied` (another team's cluster, or an adapter token), 404
    /// `ClusterNotFound`, 404 `NodePoolNotFound`, 409 `ResourceTerminating`,
    /// 503 `Unavailable`.
    ///
    /// With `If-Match`, the change happens only if the node pool's
    /// `resource_version` is still the one given; otherwise the answer is 412
    /// `PreconditionFailed` (its message names the current version) and
    /// nothing changes. The answer carries the new `resource_version` as
    /// `ETag`.
    #[endpoint {
        method = PATCH,
        path = "/api/hyperfleet/v1/clusters/{cluster}/nodepools/{nodepool}",
        tags = ["nodepools"],
    }]
    async fn nodepool_update(
        rqctx: RequestContext<Self::Context>,
        path: PathParams<NodePoolPath>,
        headers: HeaderParams<PreconditionHeaders>,
        body: JsonBody<NodePoolPatch>,
    ) -> Result<Guarded<HttpResponseHeaders<HttpResponseOk<NodePool>, ResourceHeaders>>, Error>;

    /// Delete a node pool; as for clusters. When its cluster is being
    /// deleted and has finalized, removing the last node pool removes the
    /// cluster too.
    ///
    /// Errors: 401 `Unauthenticated`, 403 `PermissionDenied` (another team's
    /// cluster, or an adapter token), 404 `ClusterNotFound`, 404
    /// `NodePoolNotFound`, 409 `ResourceNotTerminating`, 503 `Unavailable`.
    ///
    /// With `If-Match`, the change happens only if the node pool's
    /// `resource_version` is still the one given; otherwise the answer is 412
    /// `PreconditionFailed` (its message names the current version) and
    /// nothing changes. The answer carries the new `resource_version` as
    /// `ETag`.
    #[endpoint {
        method = DELETE,
        path = "/api/hyperfleet/v1/clusters/{cluster}/nodepools/{nodepool}",
        tags = ["nodepools"],
    }]
    async fn nodepool_delete(
        rqctx: RequestContext<Self::Context>,
        path: PathParams<NodePoolPath>,
        query: QueryParams<DeleteParams>,
        headers: HeaderParams<PreconditionHeaders>,
    ) -> Result<Guarded<HttpResponseHeaders<HttpResponseAccepted<NodePool>, ResourceHeaders>>, Error>;

    /// Report an adapter's status on a cluster.
    ///
    /// Upserts the adapter's entry (one per adapter name) and recomputes the
    /// cluster's phase in the same transaction. The API sets each condition's
    /// `last_transition_time`, keeping it while the status stays the same.
    ///
    /// Limits: at most 32 conditions per report, and at most 64 distinct
    /// adapters reporting on one resource. Room is always kept for the
    /// required adapters that have not reported yet; a report from a new
    /// adapter that would take it is 400 `ValidationFailed` on `adapter`,
    /// and adapters that already reported keep reporting.
    ///
    /// Errors: 400 `ValidationFailed`, 401 `Unauthenticated`, 403
    /// `PermissionDenied` (another team's cluster), 404 `ClusterNotFound`, 409
    /// `GenerationConflict` (observed_generation above the cluster's), 409
    /// `StaleStatus` (below what this adapter already reported; nothing is
    /// stored), 503 `Unavailable`.
    #[endpoint {
        method = PUT,
        path = "/api/hyperfleet/v1/clusters/{cluster}/statuses",
        tags = ["statuses"],
    }]
    async fn cluster_status_report(
        rqctx: RequestContext<Self::Context>,
        path: PathParams<ClusterPath>,
        body: JsonBody<AdapterStatusReport>,
    ) -> Result<Guarded<HttpResponseOk<AdapterStatus>>, Error>;

    /// Every adapter's latest report on a cluster, the cluster's phase, and
    /// the required adapters that have not reported yet.
    ///
    /// Errors: 401 `Unauthenticated`, 403 `PermissionDenied` (another team's
    /// cluster), 404 `ClusterNotFound`, 503 `Unavailable`.
    #[endpoint {
        method = GET,
        path = "/api/hyperfleet/v1/clusters/{cluster}/statuses",
        tags = ["statuses"],
    }]
    async fn cluster_status_list(
        rqctx: RequestContext<Self::Context>,
        path: PathParams<ClusterPath>,
    ) -> Result<Guarded<HttpResponseOk<AdapterStatusList>>, Error>;

    /// Report an adapter's status on a node pool; as for clusters, with the
    /// same limits (32 conditions per report, 64 distinct adapters per node
    /// pool, required adapters always fit).
    ///
    /// Errors: 400 `ValidationFailed`, 401 `Unauthenticated`, 403
    /// `PermissionDenied` (another team's cluster), 404 `ClusterNotFound`,
    /// 404 `NodePoolNotFound`, 409 `GenerationConflict`, 409 `StaleStatus`,
    /// 503 `Unavailable`.
    #[endpoint {
        method = PUT,
        path = "/api/hyperfleet/v1/clusters/{cluster}/nodepools/{nodepool}/statuses",
        tags = ["statuses"],
    }]
    async fn nodepool_status_report(
        rqctx: RequestContext<Self::Context>,
        path: PathParams<NodePoolPath>,
        body: JsonBody<AdapterStatusReport>,
    ) -> Result<Guarded<HttpResponseOk<AdapterStatus>>, Error>;

    /// Every adapter's latest report on a node pool; as for clusters.
    ///
    /// Errors: 401 `Unauthenticated`, 403 `PermissionDenied` (another team's
    /// cluster), 404 `ClusterNotFound`, 404 `NodePoolNotFound`, 503
    /// `Unavailable`.
    #[endpoint {
        method = GET,
        path = "/api/hyperfleet/v1/clusters/{cluster}/nodepools/{nodepool}/statuses",
        tags = ["statuses"],
    }]
    async fn nodepool_status_list(
        rqctx: RequestContext<Self::Context>,
        path: PathParams<NodePoolPath>,
    ) -> Result<Guarded<HttpResponseOk<AdapterStatusList>>, Error>;

    /// Watch changes to clusters and node pools, as Server-Sent Events.
    ///
    /// The answer is a `text/event-stream` that stays open. One event per change, in order: `id:` the change's position (the
    /// resource's new `resource_version`), `event:` `ADDED`, `MODIFIED` or
    /// `DELETED` (at the hard delete; going `Terminating` is a `MODIFIED`),
    /// `data:` one line of JSON, `{"kind": "Cluster" | "NodePool",
    /// "object": <the resource as GET returned it after the change>}`.
    /// A comment line (`: keep-alive`) every 15 s keeps idle streams open.
    ///
    /// `since` (or the `Last-Event-ID` header) resumes right after that
    /// position with no gap and no repeat; without it the stream starts at
    /// the present. The way to follow a set of resources without missing a
    /// change: list them, then watch `since` the list's `resource_version`.
    /// `kinds`, `labels`, `phase` and `name` narrow the events to resources
    /// that match after the change. With authentication on, a member sees
    /// only its teams' clusters and their node pools.
    ///
    /// The stream ends after `timeout_seconds` (default 300); reconnect
    /// with `since` the last `id` received. The feed keeps at least the last
    /// hour and at least the last 100 000 changes; an older `since` is 410
    /// `ResourceVersionTooOld` (list again), and a stream that falls that
    /// far behind is closed (its reconnection then gets the 410).
    ///
    /// Errors: 400 `BadRequest` (a bad, unknown or repeated query
    /// parameter, named in `details`), 401 `Unauthenticated`, 410
    /// `ResourceVersionTooOld`, 503 `Unavailable`.
    #[endpoint { method = GET, path = "/api/hyperfleet/v1/events", tags = ["events"] }]
    async fn event_watch(
        rqctx: RequestContext<Self::Context>,
        query: QueryParams<EventWatchParams>,
        headers: HeaderParams<EventWatchHeaders>,
    ) -> Result<Guarded<http::Response<dropshot::Body>>, Error>;

    /// Liveness: the process is up and serving. Needs no token.
    #[endpoint { method = GET, path = "/healthz", tags = ["health"] }]
    async fn health_live(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<HttpResponseOk<Health>, Error>;

    /// Readiness: the database answers. 503 `Unavailable` when it does not.
    /// Needs no token.
    #[endpoint { method = GET, path = "/readyz", tags = ["health"] }]
    async fn health_ready(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<HttpResponseOk<Health>, Error>;

    /// Prometheus metrics in the text exposition format: requests by
    /// operation and status with latency histograms, database pool use,
    /// resources by kind and phase. With authentication on it needs an admin
    /// token (401 without a valid one, 403 for members and adapters): the
    /// numbers cover every team.
    #[endpoint { method = GET, path = "/metrics", tags = ["health"], unpublished = true }]
    async fn metrics_view(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<Guarded<http::Response<dropshot::Body>>, Error>;

    /// The OpenAPI document this server implements, as YAML.
    #[endpoint { method = GET, path = "/openapi.yaml", tags = ["health"], unpublished = true }]
    async fn openapi_view(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<http::Response<dropshot::Body>, Error>;

    /// The API reference: the OpenAPI document this server implements,
    /// rendered as one self-contained HTML page (no scripts, no network).
    /// Needs no token.
    #[endpoint { method = GET, path = "/docs", tags = ["health"], unpublished = true }]
    async fn docs_view(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<http::Response<dropshot::Body>, Error>;
}

/// The OpenAPI document of [`HyperfleetApi`], with the seed payloads attached
/// as examples to the operations that take or return them, and the bearer
/// security scheme.
pub fn openapi_document() -> Result<serde_json::Value, String> {
    let description = hyperfleet_api_mod::stub_api_description()
        .map_err(|errors| format!("the API trait is inconsistent: {errors}"))?;
    let mut document = description
        .openapi("HyperFleet API", API_VERSION)
        .description(
            "Control-plane API for cluster and node-pool provisioning. Users create clusters \
             and node pools; adapters report what they did; the API aggregates their reports \
             into one phase (Pending, Not Ready, Ready, Terminating) and, beside it, the \
             resource conditions of `status.conditions` (Reconciled, LastKnownReconciled, \
             AllAdaptersReady, ValidationPassed, Degraded), whose reasons carry the finer \
             state (Provisioning, Updating, Failed, Deleting). Adapters run in the order of \
             the server's aggregation config (by default validation, then dns, then \
             infrastructure); GET .../statuses lists under `waiting` who waits for whom. \
             The seed's journey J1 as the worked example: a new cluster is Pending with \
             Reconciled=False (Provisioning) and infrastructure \"Waiting for validation \
             and dns to complete\"; validation reports Available=True (ValidationPassed=True), \
             then dns, then infrastructure, and the cluster is Ready with Reconciled=True and \
             LastKnownReconciled=True. A PATCH makes Reconciled=False (Updating) while \
             LastKnownReconciled stays True; Health=False after that makes Degraded=True. \
             When the server runs \
             with authentication (`hyperfleet serve --auth FILE`), every operation under \
             /api/hyperfleet/v1 needs a bearer token (401 `Unauthenticated` without one), \
             and a token's role and teams decide what it may see and change (403 \
             `PermissionDenied`): admins everything, members their teams' clusters, \
             adapters reads and status reports.",
        )
        .json()
        .map_err(|e| format!("cannot serialize the OpenAPI document: {e}"))?;
    add_operation_examples(&mut document).map_err(|e| format!("cannot add examples: {e}"))?;
    feed::describe_event_stream(&mut document);
    security::add_security(&mut document);
    Ok(document)
}

/// Dropshot puts examples on schemas only; clients and documentation tools
/// show the operation's own `example`, so copy the seed payloads there too.
fn add_operation_examples(document: &mut serde_json::Value) -> serde_json::Result<()> {
    let cluster_request = serde_json::to_value(ClusterCreateRequest::example())?;
    let nodepool_request = serde_json::to_value(NodePoolCreateRequest::example())?;
    let report = serde_json::to_value(AdapterStatusReport::example())?;
    let cluster_patch = serde_json::to_value(ClusterPatch::example())?;
    let nodepool_patch = serde_json::to_value(NodePoolPatch::example())?;
    const CLUSTERS: &str = "/api/hyperfleet/v1/clusters";
    const CLUSTER: &str = "/api/hyperfleet/v1/clusters/{cluster}";
    const NODEPOOLS: &str = "/api/hyperfleet/v1/clusters/{cluster}/nodepools";
    const NODEPOOL: &str = "/api/hyperfleet/v1/clusters/{cluster}/nodepools/{nodepool}";
    let examples = [
        (CLUSTERS.to_string(), "post", cluster_request),
        (CLUSTER.to_string(), "patch", cluster_patch),
        (format!("{CLUSTER}/statuses"), "put", report.clone()),
        (NODEPOOLS.to_string(), "post", nodepool_request),
        (NODEPOOL.to_string(), "patch", nodepool_patch),
        (format!("{NODEPOOL}/statuses"), "put", report),
    ];
    for (path, method, example) in examples {
        if let Some(content) = document
            .pointer_mut(&format!(
                "/paths/{}/{method}/requestBody/content/application~1json",
                path.replace('/', "~1")
            ))
            .and_then(serde_json::Value::as_object_mut)
        {
            content.insert("example".into(), example);
        }
    }
    Ok(())
}
