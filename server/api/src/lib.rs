//! HyperFleet's HTTP contract: the dropshot API trait and its wire types.
//!
//! `openapi.yaml` at the repository root is [`openapi_document`] as YAML, and
//! `cargo xtask openapi check` keeps it that way. This crate does no I/O, so
//! the contract compiles (and the document is produced) without the server.

mod cluster;
mod error;
mod extract;
mod filter;
mod nodepool;
mod resource;
pub mod validation;

use dropshot::{HttpResponseCreated, HttpResponseOk, RequestContext};

pub use cluster::{
    Cluster, ClusterCreateRequest, ClusterKind, ClusterList, ClusterListKind, ClusterSpec,
};
pub use error::{Error, ErrorCode, FieldError, REQUEST_ID_HEADER};
pub use extract::{JsonBody, PathParams, QueryParams, parse_json, parse_query};
pub use filter::{
    ClusterListParams, ClusterQuery, CommonFilter, LabelSelector, NameFilter,
    NodePoolListAllParams, NodePoolListParams, NodePoolQuery, check_cluster_list,
    check_nodepool_list, check_nodepool_list_all, check_page, glob_to_like, parse_label_selector,
    parse_name_filter, parse_phases,
};
pub use nodepool::{
    NodePool, NodePoolCreateRequest, NodePoolKind, NodePoolList, NodePoolListKind, NodePoolSpec,
};
pub use resource::{
    BASE_PATH, ClusterPath, DEFAULT_PAGE_SIZE, Health, Labels, MAX_PAGE_SIZE, NodePoolPath, Page,
    Phase, ResourceStatus,
};

/// Largest request body the API reads, in bytes (DESIGN.md section 2).
pub const MAX_REQUEST_BODY_BYTES: usize = 1024 * 1024;

/// Version of the contract; `info.version` of `openapi.yaml`.
pub const API_VERSION: semver::Version = semver::Version::new(1, 0, 0);

/// The HyperFleet API.
#[dropshot::api_description {
    tag_config = {
        allow_other_tags = false,
        tags = {
            clusters = { description = "Clusters: create, read and list." },
            nodepools = { description = "Node pools: groups of nodes inside a cluster, listed per cluster or across clusters." },
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
    /// Errors: 400 `ValidationFailed` (every offending field in `details`),
    /// 400 `BadRequest` (unreadable body), 409 `ClusterAlreadyExists`,
    /// 413 `PayloadTooLarge`, 503 `Unavailable`.
    #[endpoint { method = POST, path = "/api/hyperfleet/v1/clusters", tags = ["clusters"] }]
    async fn cluster_create(
        rqctx: RequestContext<Self::Context>,
        body: JsonBody<ClusterCreateRequest>,
    ) -> Result<HttpResponseCreated<Cluster>, Error>;

    /// List clusters, oldest first, one page at a time, optionally filtered.
    ///
    /// Filters (`labels`, `phase`, `provider`, `region`, `name`) combine with
    /// AND; `total` counts every match, not just this page. Example:
    /// `?labels=environment:production&phase=Ready&provider=gcp&region=us-east1`.
    ///
    /// Errors: 400 `BadRequest` (a bad, unknown or repeated query
    /// parameter, named in `details`), 503 `Unavailable`.
    #[endpoint { method = GET, path = "/api/hyperfleet/v1/clusters", tags = ["clusters"] }]
    async fn cluster_list(
        rqctx: RequestContext<Self::Context>,
        query: QueryParams<ClusterListParams>,
    ) -> Result<HttpResponseOk<ClusterList>, Error>;

    /// Get one cluster by id or by name.
    ///
    /// Errors: 404 `ClusterNotFound`, 503 `Unavailable`.
    #[endpoint { method = GET, path = "/api/hyperfleet/v1/clusters/{cluster}", tags = ["clusters"] }]
    async fn cluster_view(
        rqctx: RequestContext<Self::Context>,
        path: PathParams<ClusterPath>,
    ) -> Result<HttpResponseOk<Cluster>, Error>;

    /// Create a node pool in a cluster.
    ///
    /// The node pool starts in phase `Pending` at generation 1. The name must
    /// be unique within the cluster.
    ///
    /// Errors: 400 `ValidationFailed`, 400 `BadRequest`, 404 `ClusterNotFound`,
    /// 409 `NodePoolAlreadyExists`, 413 `PayloadTooLarge`, 503 `Unavailable`.
    #[endpoint {
        method = POST,
        path = "/api/hyperfleet/v1/clusters/{cluster}/nodepools",
        tags = ["nodepools"],
    }]
    async fn nodepool_create(
        rqctx: RequestContext<Self::Context>,
        path: PathParams<ClusterPath>,
        body: JsonBody<NodePoolCreateRequest>,
    ) -> Result<HttpResponseCreated<NodePool>, Error>;

    /// List the node pools of a cluster, oldest first, optionally filtered.
    ///
    /// Filters (`labels`, `phase`, `name`) combine with AND; `total` counts
    /// every match, not just this page.
    ///
    /// Errors: 400 `BadRequest` (a bad, unknown or repeated query parameter,
    /// named in `details`), 404 `ClusterNotFound`, 503 `Unavailable`.
    #[endpoint {
        method = GET,
        path = "/api/hyperfleet/v1/clusters/{cluster}/nodepools",
        tags = ["nodepools"],
    }]
    async fn nodepool_list(
        rqctx: RequestContext<Self::Context>,
        path: PathParams<ClusterPath>,
        query: QueryParams<NodePoolListParams>,
    ) -> Result<HttpResponseOk<NodePoolList>, Error>;

    /// List the node pools of every cluster, oldest first, optionally filtered.
    ///
    /// Filters (`cluster_id`, `labels`, `phase`, `name`) combine with AND;
    /// `total` counts every match, not just this page.
    ///
    /// A `cluster_id` that names no cluster matches nothing (an empty list,
    /// not a 404): this is a search, not a path.
    ///
    /// Errors: 400 `BadRequest` (a bad, unknown or repeated query parameter,
    /// named in `details`), 503 `Unavailable`.
    #[endpoint { method = GET, path = "/api/hyperfleet/v1/nodepools", tags = ["nodepools"] }]
    async fn nodepool_list_all(
        rqctx: RequestContext<Self::Context>,
        query: QueryParams<NodePoolListAllParams>,
    ) -> Result<HttpResponseOk<NodePoolList>, Error>;

    /// Get one node pool of a cluster by id or by name.
    ///
    /// Errors: 404 `ClusterNotFound`, 404 `NodePoolNotFound`, 503 `Unavailable`.
    #[endpoint {
        method = GET,
        path = "/api/hyperfleet/v1/clusters/{cluster}/nodepools/{nodepool}",
        tags = ["nodepools"],
    }]
    async fn nodepool_view(
        rqctx: RequestContext<Self::Context>,
        path: PathParams<NodePoolPath>,
    ) -> Result<HttpResponseOk<NodePool>, Error>;

    /// Liveness: the process is up and serving.
    #[endpoint { method = GET, path = "/healthz", tags = ["health"] }]
    async fn health_live(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<HttpResponseOk<Health>, Error>;

    /// Readiness: the database answers. 503 `Unavailable` when it does not.
    #[endpoint { method = GET, path = "/readyz", tags = ["health"] }]
    async fn health_ready(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<HttpResponseOk<Health>, Error>;

    /// The OpenAPI document this server implements, as YAML.
    #[endpoint { method = GET, path = "/openapi.yaml", tags = ["health"], unpublished = true }]
    async fn openapi_view(
        rqctx: RequestContext<Self::Context>,
    ) -> Result<http::Response<dropshot::Body>, Error>;
}

/// The OpenAPI document of [`HyperfleetApi`], with the seed payloads attached
/// as examples to the operations that take or return them.
pub fn openapi_document() -> Result<serde_json::Value, String> {
    let description = hyperfleet_api_mod::stub_api_description()
        .map_err(|errors| format!("the API trait is inconsistent: {errors}"))?;
    let mut document = description
        .openapi("HyperFleet API", API_VERSION)
        .description(
            "Control-plane API for cluster and node-pool provisioning. Users create clusters \
             and node pools; adapters report what they did; the API aggregates their reports \
             into one phase (Pending, Not Ready, Ready, Terminating).",
        )
        .json()
        .map_err(|e| format!("cannot serialize the OpenAPI document: {e}"))?;
    add_operation_examples(&mut document).map_err(|e| format!("cannot add examples: {e}"))?;
    Ok(document)
}

/// Dropshot puts examples on schemas only; clients and documentation tools
/// show the operation's own `example`, so copy the seed payloads there too.
fn add_operation_examples(document: &mut serde_json::Value) -> serde_json::Result<()> {
    let cluster_request = serde_json::to_value(ClusterCreateRequest::example())?;
    let nodepool_request = serde_json::to_value(NodePoolCreateRequest::example())?;
    let examples = [
        ("/api/hyperfleet/v1/clusters", "post", cluster_request),
        (
            "/api/hyperfleet/v1/clusters/{cluster}/nodepools",
            "post",
            nodepool_request,
        ),
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
