//! Soak check (not a test, not in CI): `cargo xtask soak [-- --seconds N]`.
//!
//! Runs mixed creates, status reports, lists, gets and deletes (with the
//! adapters' Finalized reports that complete them) from 64 concurrent
//! clients against a release server on a fresh PostgreSQL database, then
//! verifies the invariants: every acknowledged create exists or was deleted
//! by the soak; every resource's phase agrees with its stored reports; no
//! 5xx. Prints counts and p99 latencies per operation.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyperfleet_e2e::fixtures::{
    CLUSTER_ADAPTERS as REQUIRED, COMPLETE, RUNNING, True, cluster_request_at, labels,
};
use hyperfleet_e2e::server::server_config;
use hyperfleet_sdk::{Client, types};
use sea_orm::{ConnectionTrait, Database};
use uuid::Uuid;

#[derive(Default)]
struct Tally {
    latencies: BTreeMap<&'static str, Vec<Duration>>,
    server_errors: Vec<String>,
    created: HashSet<Uuid>,
    deleted: HashSet<Uuid>,
}

type Shared = Arc<Mutex<Tally>>;

fn record(tally: &Shared, op: &'static str, started: Instant, status: Option<u16>) {
    let mut tally = tally.lock().unwrap_or_else(|p| p.into_inner());
    tally
        .latencies
        .entry(op)
        .or_default()
        .push(started.elapsed());
    if status.is_some_and(|s| s >= 500) {
        tally.server_errors.push(format!("{op}: {status:?}"));
    }
}

fn status_of<T>(result: &hyperfleet_e2e::calls::SdkResult<T>) -> Option<u16> {
    match result {
        Ok(response) => Some(response.status().as_u16()),
        Err(error) => error.status().map(|s| s.as_u16()),
    }
}

/// A report of `adapter` at `generation`: done or at work, and finalized
/// (the deletion's last report) or not.
fn report(
    adapter: &str,
    generation: i64,
    finalized: bool,
    done: bool,
) -> types::builder::AdapterStatusReport {
    let generation = u64::try_from(generation.max(1)).unwrap_or(1);
    let mut conditions = if done { COMPLETE } else { RUNNING }.to_vec();
    if finalized {
        conditions.push(("Finalized", True));
    }
    hyperfleet_e2e::fixtures::report(adapter, generation, &conditions)
}

async fn client_loop(client: Client, worker: usize, until: Instant, tally: Shared) {
    let mut mine: Vec<(Uuid, i64)> = Vec::new();
    let mut n = 0u64;
    while Instant::now() < until {
        n += 1;
        let pick = (n as usize + worker) % 10;
        match pick {
            0..=2 => {
                let started = Instant::now();
                let provider = if n.is_multiple_of(2) { "gcp" } else { "aws" };
                let env = if n.is_multiple_of(3) { "prod" } else { "dev" };
                let request =
                    cluster_request_at(&format!("soak-{worker}-{n}"), provider, "us-east1")
                        .labels(labels(&[("env", env)]));
                let result = client.cluster_create().body(request).send().await;
                record(&tally, "create", started, status_of(&result));
                if let Ok(response) = result {
                    let cluster = response.into_inner();
                    tally
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .created
                        .insert(cluster.id);
                    mine.push((cluster.id, cluster.generation));
                }
            }
            3..=5 if !mine.is_empty() => {
                let (id, generation) = mine[(n as usize) % mine.len()];
                let adapter = REQUIRED[(n as usize) % 3];
                let started = Instant::now();
                let result = client
                    .cluster_status_report()
                    .cluster(id.to_string())
                    .body(report(adapter, generation, false, !n.is_multiple_of(4)))
                    .send()
                    .await;
                record(&tally, "report", started, status_of(&result));
            }
            6 | 7 => {
                let started = Instant::now();
                let result = client
                    .cluster_list()
                    .labels("env:prod")
                    .phase("Ready,Not Ready")
                    .size(10)
                    .send()
                    .await;
                record(&tally, "list", started, status_of(&result));
            }
            8 if !mine.is_empty() => {
                let (id, _) = mine[(n as usize) % mine.len()];
                let started = Instant::now();
                let result = client.cluster_view().cluster(id.to_string()).send().await;
                record(&tally, "get", started, status_of(&result));
            }
            9 if mine.len() > 5 => {
                let (id, _) = mine.remove(0);
                let started = Instant::now();
                let result = client.cluster_delete().cluster(id.to_string()).send().await;
                record(&tally, "delete", started, status_of(&result));
                if let Ok(response) = result {
                    let generation = response.into_inner().generation;
                    for adapter in REQUIRED {
                        let started = Instant::now();
                        let result = client
                            .cluster_status_report()
                            .cluster(id.to_string())
                            .body(report(adapter, generation, true, true))
                            .send()
                            .await;
                        record(&tally, "finalize", started, status_of(&result));
                    }
                    let gone = client.cluster_view().cluster(id.to_string()).send().await;
                    if status_of(&gone) == Some(404) {
                        tally
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .deleted
                            .insert(id);
                    }
                }
            }
            _ => {}
        }
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = args
        .windows(2)
        .find(|w| w[0] == "--seconds")
        .and_then(|w| w[1].parse().ok())
        .unwrap_or(300);
    let admin_url = std::env::var("HYPERFLEET_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
    let name = format!("hyperfleet_soak_{}", Uuid::new_v4().simple());
    let admin = Database::connect(&admin_url)
        .await
        .expect("PostgreSQL is reachable");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("database created");
    let url = format!(
        "{}/{name}",
        admin_url
            .rsplit_once('/')
            .map(|(s, _)| s)
            .unwrap_or(&admin_url)
    );
    let server = hyperfleet_server::start(server_config(url))
        .await
        .expect("the server starts");
    let base = format!("http://{}", server.local_addr());
    println!("soak: 64 clients for {seconds} s against {base} on PostgreSQL");

    let tally: Shared = Arc::default();
    let until = Instant::now() + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..64)
        .map(|worker| {
            tokio::spawn(client_loop(
                Client::new(&base),
                worker,
                until,
                tally.clone(),
            ))
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }

    // Invariants.
    let client = Client::new(&base);
    let tally = Arc::try_unwrap(tally)
        .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()))
        .unwrap_or_default();
    let mut missing = 0;
    let mut inconsistent = 0;
    for id in &tally.created {
        let found = client.cluster_view().cluster(id.to_string()).send().await;
        match found {
            Ok(cluster) => {
                let cluster = cluster.into_inner();
                let statuses = client
                    .cluster_status_list()
                    .cluster(id.to_string())
                    .send()
                    .await
                    .expect("statuses")
                    .into_inner();
                let complete = REQUIRED.iter().all(|r| {
                    statuses
                        .statuses
                        .iter()
                        .any(|s| s.adapter_name == *r && s.phase == types::AdapterPhase::Complete)
                });
                let expected = match cluster.status.phase {
                    types::Phase::Terminating => true,
                    types::Phase::Ready => complete,
                    types::Phase::NotReady => !complete && !statuses.statuses.is_empty(),
                    types::Phase::Pending => statuses.statuses.is_empty(),
                };
                if !expected || statuses.phase != cluster.status.phase {
                    inconsistent += 1;
                }
            }
            Err(error)
                if error.status().map(|s| s.as_u16()) == Some(404)
                    && tally.deleted.contains(id) => {}
            Err(_) => missing += 1,
        }
    }
    println!(
        "{:<10} {:>8} {:>10} {:>10}",
        "operation", "count", "p50 ms", "p99 ms"
    );
    for (op, latencies) in &tally.latencies {
        let mut sorted = latencies.clone();
        sorted.sort();
        let at = |q: f64| {
            sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1]
                .as_secs_f64()
                * 1000.0
        };
        println!(
            "{op:<10} {:>8} {:>10.1} {:>10.1}",
            sorted.len(),
            at(0.5),
            at(0.99)
        );
    }
    println!(
        "created {} (deleted by the soak {}), missing {missing}, phase inconsistent {inconsistent}, 5xx {}",
        tally.created.len(),
        tally.deleted.len(),
        tally.server_errors.len()
    );
    let _ = server.stop().await;
    let _ = admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await;
    let ok = missing == 0 && inconsistent == 0 && tally.server_errors.is_empty();
    println!(
        "soak: {}",
        if ok {
            "all invariants hold"
        } else {
            "INVARIANTS VIOLATED"
        }
    );
    if !ok {
        std::process::exit(1);
    }
}
