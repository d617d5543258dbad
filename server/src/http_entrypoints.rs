//! The API trait implemented: each handler authenticates the caller, reads
//! the request, calls the resource module, and converts the result. No SQL
//! here.

use dropshot::{HttpResponseAccepted, HttpResponseCreated, HttpResponseOk, RequestContext};
use hyperfleet_api::{
    AdapterStatus, AdapterStatusList, AdapterStatusReport, Cluster, ClusterCreateRequest,
    ClusterList, ClusterListParams, ClusterPatch, ClusterPath, DeleteParams, Error, Guarded,
    Health, HyperfleetApi, JsonBody, NodePool, NodePoolCreateRequest, NodePoolList,
    NodePoolListAllParams, NodePoolListParams, NodePoolPatch, NodePoolPath, PathParams,
    QueryParams,
};

use crate::auth;
use crate::auth::Caller;
use crate::context::ServerContext;
use crate::error::ServiceError;
use crate::status::{self, Subject};
use crate::{cluster, metrics, nodepool};

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
        body: JsonBody<ClusterCreateRequest>,
    ) -> Result<Guarded<HttpResponseCreated<Cluster>>, Error> {
        let caller = caller!(rqctx);
        let request = body.into_inner()?;
        let created = cluster::create(rqctx.context(), &caller, request)
            .await
            .answer(&rqctx)?;
        Ok(HttpResponseCreated(created).into())
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
    ) -> Result<Guarded<HttpResponseOk<Cluster>>, Error> {
        let caller = caller!(rqctx);
        let path = path.into_inner()?;
        let found = cluster::view(rqctx.context(), &caller, &path.cluster)
            .await
            .answer(&rqctx)?;
        Ok(HttpResponseOk(found).into())
    }

    async fn cluster_update(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<ClusterPath>,
        body: JsonBody<ClusterPatch>,
    ) -> Result<Guarded<HttpResponseOk<Cluster>>, Error> {
        let caller = caller!(rqctx);
        let path = path.into_inner()?;
        let patch = body.into_inner()?;
        let updated = cluster::update(rqctx.context(), &caller, &path.cluster, patch)
            .await
            .answer(&rqctx)?;
        Ok(HttpResponseOk(updated).into())
    }

    async fn cluster_delete(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<ClusterPath>,
        query: QueryParams<DeleteParams>,
    ) -> Result<Guarded<HttpResponseAccepted<Cluster>>, Error> {
        let caller = caller!(rqctx);
        let path = path.into_inner()?;
        let force = query.into_inner()?.force.unwrap_or(false);
        let deleted = cluster::delete(rqctx.context(), &caller, &path.cluster, force)
            .await
            .answer(&rqctx)?;
        Ok(HttpResponseAccepted(deleted).into())
    }

    async fn nodepool_create(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<ClusterPath>,
        body: JsonBody<NodePoolCreateRequest>,
    ) -> Result<Guarded<HttpResponseCreated<NodePool>>, Error> {
        let caller = caller!(rqctx);
        let path = path.into_inner()?;
        let request = body.into_inner()?;
        let created = nodepool::create(rqctx.context(), &caller, &path.cluster, request)
            .await
            .answer(&rqctx)?;
        Ok(HttpResponseCreated(created).into())
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
    ) -> Result<Guarded<HttpResponseOk<NodePool>>, Error> {
        let caller = caller!(rqctx);
        let path = path.into_inner()?;
        let found = nodepool::view(rqctx.context(), &caller, &path.cluster, &path.nodepool)
            .await
            .answer(&rqctx)?;
        Ok(HttpResponseOk(found).into())
    }

    async fn nodepool_update(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<NodePoolPath>,
        body: JsonBody<NodePoolPatch>,
    ) -> Result<Guarded<HttpResponseOk<NodePool>>, Error> {
        let caller = caller!(rqctx);
        let path = path.into_inner()?;
        let patch = body.into_inner()?;
        let updated = nodepool::update(
            rqctx.context(),
            &caller,
            &path.cluster,
            &path.nodepool,
            patch,
        )
        .await
        .answer(&rqctx)?;
        Ok(HttpResponseOk(updated).into())
    }

    async fn nodepool_delete(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<NodePoolPath>,
        query: QueryParams<DeleteParams>,
    ) -> Result<Guarded<HttpResponseAccepted<NodePool>>, Error> {
        let caller = caller!(rqctx);
        let path = path.into_inner()?;
        let force = query.into_inner()?.force.unwrap_or(false);
        let deleted = nodepool::delete(
            rqctx.context(),
            &caller,
            &path.cluster,
            &path.nodepool,
            force,
        )
        .await
        .answer(&rqctx)?;
        Ok(HttpResponseAccepted(deleted).into())
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
