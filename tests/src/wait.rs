//! Waiting for the control loop: polling the API until a resource gets
//! where a test expects it, with a deadline so a stuck loop fails the test
//! instead of hanging it.

use std::time::Duration;

use hyperfleet_sdk::{Client, types};

/// Poll `check` every 100 ms until it returns `Some`, or panic after
/// `timeout` naming `what`.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A cluster's phase and generation, or `None` where it cannot be read.
pub async fn phase_of(client: &Client, cluster: &str) -> Option<(types::Phase, i64)> {
    let cluster = client
        .cluster_view()
        .cluster(cluster)
        .send()
        .await
        .ok()?
        .into_inner();
    Some((cluster.status.phase, cluster.generation))
}

/// Wait up to `timeout` for a cluster to be in `phase` at `generation`.
pub async fn wait_for_phase(
    client: &Client,
    cluster: &str,
    phase: types::Phase,
    generation: i64,
    timeout: Duration,
) {
    wait_for(
        &format!("{cluster} {phase:?} at {generation}"),
        timeout,
        || async { (phase_of(client, cluster).await == Some((phase, generation))).then_some(()) },
    )
    .await;
}

/// Wait up to `timeout` for a cluster to be answered 404.
pub async fn wait_until_gone(client: &Client, cluster: &str, timeout: Duration) {
    wait_for(&format!("{cluster} to be deleted"), timeout, || async {
        match client.cluster_view().cluster(cluster).send().await {
            Err(error) if error.status().map(|s| s.as_u16()) == Some(404) => Some(()),
            _ => None,
        }
    })
    .await;
}
