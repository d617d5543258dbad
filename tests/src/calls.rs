//! SDK calls as the tests make them: the ones a test expects to succeed
//! (which panic, naming the call, when they do not), and the reading of
//! the error a failed one answered.

use hyperfleet_sdk::{Client, Error as SdkError, ResponseValue, types};

use crate::fixtures::{
    CLUSTER_ADAPTERS, NODEPOOL_ADAPTERS, cluster_request, nodepool_request, report,
};

/// What every SDK call returns.
pub type SdkResult<T> = Result<ResponseValue<T>, SdkError<types::Error>>;

/// Create the cluster `body` asks for; it must be answered 201.
pub async fn create_cluster_with(
    client: &Client,
    body: types::builder::ClusterCreateRequest,
) -> types::Cluster {
    let created = client
        .cluster_create()
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("the cluster is created: {e}"));
    assert_eq!(created.status().as_u16(), 201);
    created.into_inner()
}

/// Create a cluster like the seed's J1 named `name` (see
/// [`cluster_request`]); it must be answered 201.
pub async fn create_cluster(client: &Client, name: &str) -> types::Cluster {
    create_cluster_with(client, cluster_request(name)).await
}

/// Create a node pool like the seed's named `name` in `cluster` (an id or
/// a name); it must be answered 201.
pub async fn create_pool(client: &Client, cluster: &str, name: &str) -> types::NodePool {
    let created = client
        .nodepool_create()
        .cluster(cluster)
        .body(nodepool_request(name))
        .send()
        .await
        .unwrap_or_else(|e| panic!("node pool {cluster}/{name} is created: {e}"));
    assert_eq!(created.status().as_u16(), 201);
    created.into_inner()
}

/// Read a cluster by id or name.
pub async fn view_cluster(client: &Client, cluster: &str) -> types::Cluster {
    client
        .cluster_view()
        .cluster(cluster)
        .send()
        .await
        .unwrap_or_else(|e| panic!("cluster {cluster} is found: {e}"))
        .into_inner()
}

/// Read a node pool by cluster and pool, each an id or a name.
pub async fn view_pool(client: &Client, cluster: &str, pool: &str) -> types::NodePool {
    client
        .nodepool_view()
        .cluster(cluster)
        .nodepool(pool)
        .send()
        .await
        .unwrap_or_else(|e| panic!("node pool {cluster}/{pool} is found: {e}"))
        .into_inner()
}

/// The first page of every cluster the client may see, unfiltered.
pub async fn list_clusters(client: &Client) -> types::ClusterList {
    client
        .cluster_list()
        .send()
        .await
        .unwrap_or_else(|e| panic!("clusters are listed: {e}"))
        .into_inner()
}

/// The first page of a cluster's node pools, unfiltered.
pub async fn list_pools(client: &Client, cluster: &str) -> types::NodePoolList {
    client
        .nodepool_list()
        .cluster(cluster)
        .send()
        .await
        .unwrap_or_else(|e| panic!("the node pools of {cluster} are listed: {e}"))
        .into_inner()
}

/// Delete a cluster (start its deletion); it must be answered 202.
pub async fn delete_cluster(client: &Client, cluster: &str) -> types::Cluster {
    let accepted = client
        .cluster_delete()
        .cluster(cluster)
        .send()
        .await
        .unwrap_or_else(|e| panic!("the deletion of {cluster} is accepted: {e}"));
    assert_eq!(accepted.status().as_u16(), 202);
    accepted.into_inner()
}

/// Apply `body` to a cluster.
pub async fn patch_cluster(
    client: &Client,
    cluster: &str,
    body: types::builder::ClusterPatch,
) -> types::Cluster {
    client
        .cluster_update()
        .cluster(cluster)
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("cluster {cluster} is patched: {e}"))
        .into_inner()
}

/// The adapter statuses of a cluster, and its phase.
pub async fn cluster_statuses(client: &Client, cluster: &str) -> types::AdapterStatusList {
    client
        .cluster_status_list()
        .cluster(cluster)
        .send()
        .await
        .unwrap_or_else(|e| panic!("the statuses of {cluster} are listed: {e}"))
        .into_inner()
}

/// Send one adapter's report on a cluster; it must be accepted.
pub async fn report_cluster(
    client: &Client,
    cluster: &str,
    body: types::builder::AdapterStatusReport,
) -> types::AdapterStatus {
    client
        .cluster_status_report()
        .cluster(cluster)
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("a report on {cluster} is accepted: {e}"))
        .into_inner()
}

/// Send one adapter's report on a node pool; it must be accepted.
pub async fn report_pool(
    client: &Client,
    cluster: &str,
    pool: &str,
    body: types::builder::AdapterStatusReport,
) -> types::AdapterStatus {
    client
        .nodepool_status_report()
        .cluster(cluster)
        .nodepool(pool)
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("a report on {cluster}/{pool} is accepted: {e}"))
        .into_inner()
}

/// Report `conditions` at `generation` from every adapter a cluster
/// requires by default ([`CLUSTER_ADAPTERS`]).
pub async fn report_cluster_adapters(
    client: &Client,
    cluster: &str,
    generation: u64,
    conditions: &[(&str, types::ConditionStatus)],
) {
    for adapter in CLUSTER_ADAPTERS {
        report_cluster(client, cluster, report(adapter, generation, conditions)).await;
    }
}

/// Report `conditions` at `generation` from every adapter a node pool
/// requires by default ([`NODEPOOL_ADAPTERS`]).
pub async fn report_pool_adapters(
    client: &Client,
    cluster: &str,
    pool: &str,
    generation: u64,
    conditions: &[(&str, types::ConditionStatus)],
) {
    for adapter in NODEPOOL_ADAPTERS {
        report_pool(
            client,
            cluster,
            pool,
            report(adapter, generation, conditions),
        )
        .await;
    }
}

/// The API error of a failed SDK call, with its status; panics on success
/// or on a transport failure, which no test expects.
pub fn api_error<T: std::fmt::Debug>(result: SdkResult<T>) -> (u16, types::Error) {
    match result {
        Ok(value) => panic!("expected an error, got {:?}", value.into_inner()),
        Err(SdkError::ErrorResponse(response)) => {
            let status = response.status().as_u16();
            (status, response.into_inner())
        }
        Err(other) => panic!("expected an API error, got {other}"),
    }
}

/// The API error of a failed SDK call, which must have this status and
/// code; the caller checks the rest (message, details).
pub fn expect_error<T: std::fmt::Debug>(
    result: SdkResult<T>,
    status: u16,
    code: types::ErrorCode,
) -> types::Error {
    let (got, error) = api_error(result);
    assert_eq!((got, error.error), (status, code), "{error:?}");
    error
}

/// The fields an error's details name, in its order.
pub fn fields(error: &types::Error) -> Vec<&str> {
    error.details.iter().map(|d| d.field.as_str()).collect()
}

/// Check that the cluster `id` is deleted for good: a 404 that says so,
/// unlike one for an id that never existed.
pub async fn expect_cluster_deleted(client: &Client, id: uuid::Uuid) {
    let error = expect_error(
        client.cluster_view().cluster(id.to_string()).send().await,
        404,
        types::ErrorCode::ClusterNotFound,
    );
    assert_eq!(
        error.message,
        format!("Cluster {id} has been successfully deleted")
    );
}

/// Check that the node pool `id` of `cluster` is deleted for good.
pub async fn expect_pool_deleted(client: &Client, cluster: &str, id: uuid::Uuid) {
    let error = expect_error(
        client
            .nodepool_view()
            .cluster(cluster)
            .nodepool(id.to_string())
            .send()
            .await,
        404,
        types::ErrorCode::NodePoolNotFound,
    );
    assert_eq!(
        error.message,
        format!("NodePool {id} has been successfully deleted")
    );
}
