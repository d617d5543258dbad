//! The API trait implemented: each handler authenticates the caller, reads
//! the request, calls the resource module, and converts the result. No SQL
//! here.

use dropshot::{
    HttpCodedResponse, HttpResponseAccepted, HttpResponseCreated, HttpResponseHeaders,
    HttpResponseOk, RequestContext,
};
use hyperfleet_api::{
    AdapterStatus, AdapterStatusList, AdapterStatusReport, Cluster, ClusterCreateRequest,
    ClusterList, ClusterListParams, ClusterPatch, ClusterPath, CreateHeaders, CreatedHeaders,
    DeleteParams, Error, EventWatchHeaders, EventWatchParams, Guarded, HeaderParams, Health,
    HyperfleetApi, IfMatch, JsonBody, NodePool, NodePoolCreateRequest, NodePoolList,
    NodePoolListAllParams, NodePoolListParams, NodePoolPatch, NodePoolPath, PathParams,
    PreconditionHeaders, QueryParams, ResourceHeaders, check_event_watch, etag, parse_if_match,
};

use crate::auth;
use crate::auth::Caller;
use crate::context::ServerContext;
use crate::error::ServiceError;
use crate::resource::idempotency::Created;
use crate::status::{self, Subject};
use crate::{cluster, events, metrics, nodepool};

/// The contract this server implements, served at `/openapi.yaml`.
pub const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

pub enum HyperfleetApiImpl {}

/// Attach the request id to a service error.
trait Answer<T> {
    fn answer(self, rqctx: &RequestContext<ServerContext>) -> Result<T, Error>;
}

impl<T> Answer<T> for Result<T, ServiceError> {
    fn answer(self, rqctx: &RequestContext<ServerContext>) -> Result<T, Error> {
        self.map_err(|error| error.into_api(&rqctx.request_id))
    }
}

/// A plain response of `content_type`, for the operations that are not JSON.
fn text_response(
    content_type: &str,
    body: dropshot::Body,
) -> Result<http::Response<dropshot::Body>, ServiceError> {
    http::Response::builder()
        .header(http::header::CONTENT_TYPE, content_type)
        .body(body)
        .map_err(|e| ServiceError::Response(e.to_string()))
}

/// An answer with one resource, its version as `ETag`.
fn with_etag<T: HttpCodedResponse>(
    body: T,
    resource_version: &str,
) -> HttpResponseHeaders<T, ResourceHeaders> {
    HttpResponseHeaders::new(
        body,
        ResourceHeaders {
            etag: etag(resource_version),
        },
    )
}

/// A create's answer: `ETag`, and `Idempotent-Replayed` on a replay.
fn created<T>(
    created: Created<T>,
    resource_version: &str,
) -> HttpResponseHeaders<HttpResponseCreated<T>, CreatedHeaders>
where
    T: serde::Serialize + schemars::JsonSchema + Send + Sync + 'static,
{
    HttpResponseHeaders::new(
        HttpResponseCreated(created.value),
        CreatedHeaders {
            etag: etag(resource_version),
            idempotent_replayed: created.replayed.then(|| "true".to_string()),
        },
    )
}

/// The `If-Match` of a PATCH or DELETE, parsed.
fn if_match(
    rqctx: &RequestContext<ServerContext>,
    headers: HeaderParams<PreconditionHeaders>,
) -> Result<Option<IfMatch>, Error> {
    headers
        .into_inner()?
        .if_match
        .as_deref()
        .map(parse_if_match)
        .transpose()
        .map_err(|e| e.with_request_id(&rqctx.request_id))
}

/// Who sent the request, or a 401 with its `WWW-Authenticate` challenge.
/// Called before anything else of the request is looked at, so a caller
/// without a valid token learns nothing, not even that its body is bad.
fn authenticate<R>(rqctx: &RequestContext<ServerContext>) -> Result<Caller, Guarded<R>> {
    let tokens = rqctx.context().tokens.as_ref();
    auth::authenticate(tokens, rqctx.request.headers()).map_err(|rejection| {
        // Dropshot's request log shows the 401 but not why.
        tracing::info!(request_id = %rqctx.request_id, reason = rejection.message(), "not authenticated");
        Guarded::Unauthenticated {
            error: ServiceError::Unauthenticated(rejection.message())
                .into_api(&rqctx.request_id),
            challenge: rejection.challenge().to_string(),
        }
    })
}

/// `let caller = caller!(rqctx);`: the caller, or return its 401.
macro_rules! caller {
    ($rqctx:expr) => {
        match authenticate(&$rqctx) {
            Ok(caller) => caller,
            Err(challenge) => return Ok(challenge),
        }
    };
}

impl HyperfleetApi for HyperfleetApiImpl {
    type Context = ServerContext;

    async fn cluster_create(
        rqctx: RequestContext<ServerContext>,
        headers: HeaderParams<CreateHeaders>,
        body: JsonBody<ClusterCreateRequest>,
    ) -> Result<Guarded<HttpResponseHeaders<HttpResponseCreated<Cluster>, CreatedHeaders>>, Error>
    {
        let caller = caller!(rqctx);
        let key = headers.into_inner()?.idempotency_key;
        let request = body.into_inner()?;
        let answer = cluster::create(rqctx.context(), &caller, key, request)
            .await
            .answer(&rqctx)?;
        let version = answer.value.resource_version.clone();
        Ok(created(answer, &version).into())
    }

    async fn cluster_list(
        rqctx: RequestContext<ServerContext>,
        query: QueryParams<ClusterListParams>,
    ) -> Result<Guarded<HttpResponseOk<ClusterList>>, Error> {
        let caller = caller!(rqctx);
        let params = query.into_inner()?;
        let list = cluster::list(rqctx.context(), &caller, params)
            .await
            .answer(&rqctx)?;
        Ok(HttpResponseOk(list).into())
    }

    async fn cluster_view(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<ClusterPath>,
    ) -> Result<Guarded<HttpResponseHeaders<HttpResponseOk<Cluster>, ResourceHeaders>>, Error> {
        let caller = caller!(rqctx);
        let path = path.into_inner()?;
        let found = cluster::view(rqctx.context(), &caller, &path.cluster)
            .await
            .answer(&rqctx)?;
        let version = found.resource_version.clone();
        Ok(with_etag(HttpResponseOk(found), &version).into())
    }

    async fn cluster_update(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<ClusterPath>,
        headers: HeaderParams<PreconditionHeaders>,
        body: JsonBody<ClusterPatch>,
    ) -> Result<Guarded<HttpResponseHeaders<HttpResponseOk<Cluster>, ResourceHeaders>>, Error> {
        let caller = caller!(rqctx);
        let path = path.into_inner()?;
        let if_match = if_match(&rqctx, headers)?;
        let patch = body.into_inner()?;
        let updated = cluster::update(rqctx.context(), &caller, &path.cluster, if_match, patch)
            .await
            .answer(&rqctx)?;
        let version = updated.resource_version.clone();
        Ok(with_etag(HttpResponseOk(updated), &version).into())
    }

    async fn cluster_delete(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<ClusterPath>,
        query: QueryParams<DeleteParams>,
        headers: HeaderParams<PreconditionHeaders>,
    ) -> Result<Guarded<HttpResponseHeaders<HttpResponseAccepted<Cluster>, ResourceHeaders>>, Error>
    {
        let caller = caller!(rqctx);
        let path = path.into_inner()?;
        let force = query.into_inner()?.force.unwrap_or(false);
        let if_match = if_match(&rqctx, headers)?;
        let deleted = cluster::delete(rqctx.context(), &caller, &path.cluster, force, if_match)
            .await
            .answer(&rqctx)?;
        let version = deleted.resource_version.clone();
        Ok(with_etag(HttpResponseAccepted(deleted), &version).into())
    }

    async fn nodepool_create(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<ClusterPath>,
        headers: HeaderParams<CreateHeaders>,
        body: JsonBody<NodePoolCreateRequest>,
    ) -> Result<Guarded<HttpResponseHeaders<HttpResponseCreated<NodePool>, CreatedHeaders>>, Error>
    {
        let caller = caller!(rqctx);
        let path = path.into_inner()?;
        let key = headers.into_inner()?.idempotency_key;
        let request = body.into_inner()?;
        let answer = nodepool::create(rqctx.context(), &caller, &path.cluster, key, request)
            .await
            .answer(&rqctx)?;
        let version = answer.value.resource_version.clone();
        Ok(created(answer, &version).into())
    }

    async fn nodepool_list(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<ClusterPath>,
        query: QueryParams<NodePoolListParams>,
    ) -> Result<Guarded<HttpResponseOk<NodePoolList>>, Error> {
        let caller = caller!(rqctx);
        let path = path.into_inner()?;
        let params = query.into_inner()?;
        let list = nodepool::list(rqctx.context(), &caller, &path.cluster, params)
            .await
            .answer(&rqctx)?;
        Ok(HttpResponseOk(list).into())
    }

    async fn nodepool_list_all(
        rqctx: RequestContext<ServerContext>,
        query: QueryParams<NodePoolListAllParams>,
    ) -> Result<Guarded<HttpResponseOk<NodePoolList>>, Error> {
        let caller = caller!(rqctx);
        let params = query.into_inner()?;
        let list = nodepool::list_all(rqctx.context(), &caller, params)
            .await
            .answer(&rqctx)?;
        Ok(HttpResponseOk(list).into())
    }

    async fn nodepool_view(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<NodePoolPath>,
    ) -> Result<Guarded<HttpResponseHeaders<HttpResponseOk<NodePool>, ResourceHeaders>>, Error>
    {
        let caller = caller!(rqctx);
        let path = path.into_inner()?;
        let found = nodepool::view(rqctx.context(), &caller, &path.cluster, &path.nodepool)
            .await
            .answer(&rqctx)?;
        let version = found.resource_version.clone();
        Ok(with_etag(HttpResponseOk(found), &version).into())
    }

    async fn nodepool_update(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<NodePoolPath>,
        headers: HeaderParams<PreconditionHeaders>,
        body: JsonBody<NodePoolPatch>,
    ) -> Result<Guarded<HttpResponseHeaders<HttpResponseOk<NodePool>, ResourceHeaders>>, Error>
    {
        let caller = caller!(rqctx);
        let path = path.into_inner()?;
        let if_match = if_match(&rqctx, headers)?;
        let patch = body.into_inner()?;
        let updated = nodepool::update(
            rqctx.context(),
            &caller,
            &path.cluster,
            &path.nodepool,
            if_match,
            patch,
        )
        .await
        .answer(&rqctx)?;
        let version = updated.resource_version.clone();
        Ok(with_etag(HttpResponseOk(updated), &version).into())
    }

    async fn nodepool_delete(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<NodePoolPath>,
        query: QueryParams<DeleteParams>,
        headers: HeaderParams<PreconditionHeaders>,
    ) -> Result<Guarded<HttpResponseHeaders<HttpResponseAccepted<NodePool>, ResourceHeaders>>, Error>
    {
        let caller = caller!(rqctx);
        let path = path.into_inner()?;
        let force = query.into_inner()?.force.unwrap_or(false);
        let if_match = if_match(&rqctx, headers)?;
        let deleted = nodepool::delete(
            rqctx.context(),
            &caller,
            &path.cluster,
            &path.nodepool,
            force,
            if_match,
        )
        .await
        .answer(&rqctx)?;
        let version = deleted.resource_version.clone();
        Ok(with_etag(HttpResponseAccepted(deleted), &version).into())
    }

    async fn cluster_status_report(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<ClusterPath>,
        body: JsonBody<AdapterStatusReport>,
    ) -> Result<Guarded<HttpResponseOk<AdapterStatus>>, Error> {
        let caller = caller!(rqctx);
        let path = path.into_inner()?;
        let report = body.into_inner()?;
        let subject = Subject::Cluster(&path.cluster);
        let stored = status::report(rqctx.context(), &caller, subject, report)
            .await
            .answer(&rqctx)?;
        Ok(HttpResponseOk(stored).into())
    }

    async fn cluster_status_list(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<ClusterPath>,
    ) -> Result<Guarded<HttpResponseOk<AdapterStatusList>>, Error> {
        let caller = caller!(rqctx);
        let path = path.into_inner()?;
        let subject = Subject::Cluster(&path.cluster);
        let list = status::list(rqctx.context(), &caller, subject)
            .await
            .answer(&rqctx)?;
        Ok(HttpResponseOk(list).into())
    }

    async fn nodepool_status_report(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<NodePoolPath>,
        body: JsonBody<AdapterStatusReport>,
    ) -> Result<Guarded<HttpResponseOk<AdapterStatus>>, Error> {
        let caller = caller!(rqctx);
        let path = path.into_inner()?;
        let report = body.into_inner()?;
        let subject = Subject::NodePool {
            cluster: &path.cluster,
            nodepool: &path.nodepool,
        };
        let stored = status::report(rqctx.context(), &caller, subject, report)
            .await
            .answer(&rqctx)?;
        Ok(HttpResponseOk(stored).into())
    }

    async fn nodepool_status_list(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<NodePoolPath>,
    ) -> Result<Guarded<HttpResponseOk<AdapterStatusList>>, Error> {
        let caller = caller!(rqctx);
        let path = path.into_inner()?;
        let subject = Subject::NodePool {
            cluster: &path.cluster,
            nodepool: &path.nodepool,
        };
        let list = status::list(rqctx.context(), &caller, subject)
            .await
            .answer(&rqctx)?;
        Ok(HttpResponseOk(list).into())
    }

    async fn event_watch(
        rqctx: RequestContext<ServerContext>,
        query: QueryParams<EventWatchParams>,
        headers: HeaderParams<EventWatchHeaders>,
    ) -> Result<Guarded<http::Response<dropshot::Body>>, Error> {
        let caller = caller!(rqctx);
        let params = query.into_inner()?;
        let headers = headers.into_inner()?;
        let query = check_event_watch(&params, &headers)
            .map_err(|e| e.with_request_id(&rqctx.request_id))?;
        let stream = events::watch(rqctx.context(), &caller, query)
            .await
            .answer(&rqctx)?;
        let response = http::Response::builder()
            .header(http::header::CONTENT_TYPE, "text/event-stream")
            .header(http::header::CACHE_CONTROL, "no-cache")
            .body(dropshot::Body::wrap(stream))
            .map_err(|e| ServiceError::Response(e.to_string()))
            .answer(&rqctx)?;
        Ok(response.into())
    }

    async fn health_live(
        _rqctx: RequestContext<ServerContext>,
    ) -> Result<HttpResponseOk<Health>, Error> {
        Ok(HttpResponseOk(Health {
            status: "ok".into(),
        }))
    }

    async fn health_ready(
        rqctx: RequestContext<ServerContext>,
    ) -> Result<HttpResponseOk<Health>, Error> {
        match rqctx.context().db.ping().await {
            Ok(()) => Ok(HttpResponseOk(Health {
                status: "ok".into(),
            })),
            Err(error) => {
                tracing::warn!(request_id = %rqctx.request_id, %error, "readiness check failed");
                Err(ServiceError::DatabaseUnreachable).answer(&rqctx)
            }
        }
    }

    async fn metrics_view(
        rqctx: RequestContext<ServerContext>,
    ) -> Result<Guarded<http::Response<dropshot::Body>>, Error> {
        let caller = caller!(rqctx);
        let ctx = rqctx.context();
        let text = metrics::view(&ctx.metrics, &ctx.db, &caller)
            .await
            .answer(&rqctx)?;
        let response = text_response("text/plain; version=0.0.4", text.into()).answer(&rqctx)?;
        Ok(response.into())
    }

    async fn openapi_view(
        rqctx: RequestContext<ServerContext>,
    ) -> Result<http::Response<dropshot::Body>, Error> {
        text_response("application/yaml", OPENAPI_YAML.into()).answer(&rqctx)
    }

    async fn docs_view(
        rqctx: RequestContext<ServerContext>,
    ) -> Result<http::Response<dropshot::Body>, Error> {
        let page = crate::docs::page(OPENAPI_YAML).answer(&rqctx)?;
        text_response("text/html; charset=utf-8", page.into()).answer(&rqctx)
    }
}
