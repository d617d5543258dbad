//! The API trait implemented: each handler reads the request, calls the
//! resource module, and converts the result. No SQL here.

use dropshot::{HttpResponseAccepted, HttpResponseCreated, HttpResponseOk, RequestContext};
use hyperfleet_api::{
    AdapterStatus, AdapterStatusList, AdapterStatusReport, Cluster, ClusterCreateRequest,
    ClusterList, ClusterListParams, ClusterPatch, ClusterPath, DeleteParams, Error, ErrorCode,
    Health, HyperfleetApi, JsonBody, NodePool, NodePoolCreateRequest, NodePoolList,
    NodePoolListAllParams, NodePoolListParams, NodePoolPatch, NodePoolPath, PathParams,
    QueryParams, check_cluster_list, check_nodepool_list, check_nodepool_list_all,
};

use crate::context::ServerContext;
use crate::error::ServiceError;
use crate::status::{self, Subject};
use crate::{cluster, lifecycle, nodepool};

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

impl HyperfleetApi for HyperfleetApiImpl {
    type Context = ServerContext;

    async fn cluster_create(
        rqctx: RequestContext<ServerContext>,
        body: JsonBody<ClusterCreateRequest>,
    ) -> Result<HttpResponseCreated<Cluster>, Error> {
        let request = body.into_inner()?;
        let created = cluster::create(rqctx.context(), request)
            .await
            .answer(&rqctx)?;
        Ok(HttpResponseCreated(created))
    }

    async fn cluster_list(
        rqctx: RequestContext<ServerContext>,
        query: QueryParams<ClusterListParams>,
    ) -> Result<HttpResponseOk<ClusterList>, Error> {
        let query = check_cluster_list(&query.into_inner()?)
            .map_err(|e| e.with_request_id(&rqctx.request_id))?;
        Ok(HttpResponseOk(
            cluster::list(rqctx.context(), query).await.answer(&rqctx)?,
        ))
    }

    async fn cluster_view(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<ClusterPath>,
    ) -> Result<HttpResponseOk<Cluster>, Error> {
        let path = path.into_inner()?;
        Ok(HttpResponseOk(
            cluster::view(rqctx.context(), &path.cluster)
                .await
                .answer(&rqctx)?,
        ))
    }

    async fn cluster_update(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<ClusterPath>,
        body: JsonBody<ClusterPatch>,
    ) -> Result<HttpResponseOk<Cluster>, Error> {
        let path = path.into_inner()?;
        let patch = body.into_inner()?;
        let updated = lifecycle::update_cluster(rqctx.context(), &path.cluster, patch)
            .await
            .answer(&rqctx)?;
        Ok(HttpResponseOk(updated))
    }

    async fn cluster_delete(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<ClusterPath>,
        query: QueryParams<DeleteParams>,
    ) -> Result<HttpResponseAccepted<Cluster>, Error> {
        let path = path.into_inner()?;
        let force = query.into_inner()?.force.unwrap_or(false);
        let deleted = lifecycle::delete_cluster(rqctx.context(), &path.cluster, force)
            .await
            .answer(&rqctx)?;
        Ok(HttpResponseAccepted(deleted))
    }

    async fn nodepool_create(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<ClusterPath>,
        body: JsonBody<NodePoolCreateRequest>,
    ) -> Result<HttpResponseCreated<NodePool>, Error> {
        let path = path.into_inner()?;
        let request = body.into_inner()?;
        let created = nodepool::create(rqctx.context(), &path.cluster, request)
            .await
            .answer(&rqctx)?;
        Ok(HttpResponseCreated(created))
    }

    async fn nodepool_list(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<ClusterPath>,
        query: QueryParams<NodePoolListParams>,
    ) -> Result<HttpResponseOk<NodePoolList>, Error> {
        let path = path.into_inner()?;
        let query = check_nodepool_list(&query.into_inner()?)
            .map_err(|e| e.with_request_id(&rqctx.request_id))?;
        let list = nodepool::list(rqctx.context(), &path.cluster, query)
            .await
            .answer(&rqctx)?;
        Ok(HttpResponseOk(list))
    }

    async fn nodepool_list_all(
        rqctx: RequestContext<ServerContext>,
        query: QueryParams<NodePoolListAllParams>,
    ) -> Result<HttpResponseOk<NodePoolList>, Error> {
        let query = check_nodepool_list_all(&query.into_inner()?)
            .map_err(|e| e.with_request_id(&rqctx.request_id))?;
        let list = nodepool::list_all(rqctx.context(), query)
            .await
            .answer(&rqctx)?;
        Ok(HttpResponseOk(list))
    }

    async fn nodepool_view(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<NodePoolPath>,
    ) -> Result<HttpResponseOk<NodePool>, Error> {
        let path = path.into_inner()?;
        let found = nodepool::view(rqctx.context(), &path.cluster, &path.nodepool)
            .await
            .answer(&rqctx)?;
        Ok(HttpResponseOk(found))
    }

    async fn nodepool_update(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<NodePoolPath>,
        body: JsonBody<NodePoolPatch>,
    ) -> Result<HttpResponseOk<NodePool>, Error> {
        let path = path.into_inner()?;
        let patch = body.into_inner()?;
        let updated =
            lifecycle::update_nodepool(rqctx.context(), &path.cluster, &path.nodepool, patch)
                .await
                .answer(&rqctx)?;
        Ok(HttpResponseOk(updated))
    }

    async fn nodepool_delete(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<NodePoolPath>,
        query: QueryParams<DeleteParams>,
    ) -> Result<HttpResponseAccepted<NodePool>, Error> {
        let path = path.into_inner()?;
        let force = query.into_inner()?.force.unwrap_or(false);
        let deleted =
            lifecycle::delete_nodepool(rqctx.context(), &path.cluster, &path.nodepool, force)
                .await
                .answer(&rqctx)?;
        Ok(HttpResponseAccepted(deleted))
    }

    async fn cluster_status_report(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<ClusterPath>,
        body: JsonBody<AdapterStatusReport>,
    ) -> Result<HttpResponseOk<AdapterStatus>, Error> {
        let path = path.into_inner()?;
        let report = body.into_inner()?;
        let subject = Subject::Cluster(&path.cluster);
        Ok(HttpResponseOk(
            status::report(rqctx.context(), subject, report)
                .await
                .answer(&rqctx)?,
        ))
    }

    async fn cluster_status_list(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<ClusterPath>,
    ) -> Result<HttpResponseOk<AdapterStatusList>, Error> {
        let path = path.into_inner()?;
        let subject = Subject::Cluster(&path.cluster);
        Ok(HttpResponseOk(
            status::list(rqctx.context(), subject)
                .await
                .answer(&rqctx)?,
        ))
    }

    async fn nodepool_status_report(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<NodePoolPath>,
        body: JsonBody<AdapterStatusReport>,
    ) -> Result<HttpResponseOk<AdapterStatus>, Error> {
        let path = path.into_inner()?;
        let report = body.into_inner()?;
        let subject = Subject::NodePool {
            cluster: &path.cluster,
            nodepool: &path.nodepool,
        };
        Ok(HttpResponseOk(
            status::report(rqctx.context(), subject, report)
                .await
                .answer(&rqctx)?,
        ))
    }

    async fn nodepool_status_list(
        rqctx: RequestContext<ServerContext>,
        path: PathParams<NodePoolPath>,
    ) -> Result<HttpResponseOk<AdapterStatusList>, Error> {
        let path = path.into_inner()?;
        let subject = Subject::NodePool {
            cluster: &path.cluster,
            nodepool: &path.nodepool,
        };
        Ok(HttpResponseOk(
            status::list(rqctx.context(), subject)
                .await
                .answer(&rqctx)?,
        ))
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
                Err(
                    Error::new(ErrorCode::Unavailable, "the database is unreachable")
                        .with_request_id(&rqctx.request_id),
                )
            }
        }
    }

    async fn metrics_view(
        rqctx: RequestContext<ServerContext>,
    ) -> Result<http::Response<dropshot::Body>, Error> {
        let ctx = rqctx.context();
        let text = ctx
            .metrics
            .render(&ctx.db)
            .await
            .map_err(|e| ServiceError::from(e).into_api(&rqctx.request_id))?;
        http::Response::builder()
            .header(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")
            .body(text.into())
            .map_err(|e| Error::new(ErrorCode::InternalError, e.to_string()))
    }

    async fn openapi_view(
        _rqctx: RequestContext<ServerContext>,
    ) -> Result<http::Response<dropshot::Body>, Error> {
        http::Response::builder()
            .header(http::header::CONTENT_TYPE, "application/yaml")
            .body(OPENAPI_YAML.into())
            .map_err(|e| Error::new(ErrorCode::InternalError, e.to_string()))
    }
}
