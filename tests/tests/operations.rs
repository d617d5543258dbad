//! What operators rely on: metrics, request ids, probes.

use hyperfleet_e2e::calls::{api_error, create_cluster, list_clusters};
use hyperfleet_e2e::http::get;
use hyperfleet_e2e::{TestServer, on_every_backend};

on_every_backend!(metrics_count_requests_and_resources);

async fn metrics_count_requests_and_resources(server: TestServer) {
    for name in ["counted", "other"] {
        create_cluster(&server.client, name).await;
    }
    let (status, _) = api_error(server.client.cluster_view().cluster("missing").send().await);
    assert_eq!(status, 404);
    list_clusters(&server.client).await;

    let response = get(&server, "/metrics").await;
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    assert_eq!(content_type.as_deref(), Some("text/plain; version=0.0.4"));
    let text = response.text().await.expect("a body");
    for line in [
        "hyperfleet_http_requests_total{operation=\"cluster_create\",status=\"201\"} 2",
        "hyperfleet_http_requests_total{operation=\"cluster_view\",status=\"404\"} 1",
        "hyperfleet_http_requests_total{operation=\"cluster_list\",status=\"200\"} 1",
        "hyperfleet_http_request_duration_seconds_count{operation=\"cluster_create\",status=\"201\"} 2",
        "hyperfleet_http_request_duration_seconds_bucket{operation=\"cluster_create\",status=\"201\",le=\"+Inf\"} 2",
        "hyperfleet_resources{kind=\"cluster\",phase=\"Pending\"} 2",
        "hyperfleet_resources{kind=\"cluster\",phase=\"Ready\"} 0",
        "hyperfleet_resources{kind=\"nodepool\",phase=\"Pending\"} 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with("hyperfleet_db_pool_connections{state=\"in_use\"} ")),
        "{text}"
    );
    // Buckets are cumulative and end at the count.
    let buckets: Vec<u64> = text
        .lines()
        .filter(|l| l.starts_with("hyperfleet_http_request_duration_seconds_bucket{operation=\"cluster_create\",status=\"201\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
        .collect();
    assert_eq!(buckets.len(), 14);
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
}
