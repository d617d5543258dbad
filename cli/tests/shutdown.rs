//! SIGTERM on a real `hyperfleet serve` process with a request in flight:
//! the request finishes, new connections are not served, the process exits 0.

use std::process::{Command, Stdio};
use std::time::Duration;

use hyperfleet_sdk::{Client, types};
use sea_orm::{ConnectionTrait, Database, TransactionTrait};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn request(name: &str) -> types::builder::ClusterCreateRequest {
    types::ClusterCreateRequest::builder().name(name).spec(
        types::ClusterSpec::builder()
            .provider("gcp")
            .region("us-east1")
            .node_count(3),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_in_flight_requests_and_exits_zero() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let db_path = dir.path().join("shutdown.db");
    let url = format!("sqlite://{}", db_path.display());
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hyperfleet"))
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            &url,
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the server starts");
    let client = Client::new(&format!("http://127.0.0.1:{port}"));
    let mut ready = false;
    for _ in 0..100 {
        if client.health_ready().send().await.is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ready, "the server answered /readyz");

    // Hold SQLite's write lock, so a create waits inside its handler.
    let db = Database::connect(&url)
        .await
        .expect("the test opens the database");
    let lock = db.begin().await.expect("a transaction");
    lock.execute_unprepared("DELETE FROM clusters WHERE name = 'nobody'")
        .await
        .expect("the write lock");

    let slow_client = client.clone();
    let slow = tokio::spawn(async move {
        slow_client
            .cluster_create()
            .body(request("in-flight"))
            .send()
            .await
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!slow.is_finished(), "the create is waiting for the lock");

    let pid = child.id().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    tokio::time::sleep(Duration::from_millis(500)).await;
    // No longer accepting: a new connection is not served (dropshot keeps
    // the socket open until it exits, so it waits in the kernel's backlog
    // and is reset at exit rather than refused at once).
    let late = tokio::time::timeout(
        Duration::from_secs(1),
        reqwest::get(format!("http://127.0.0.1:{port}/healthz")),
    )
    .await;
    assert!(
        !matches!(late, Ok(Ok(_))),
        "a new request was served during shutdown: {late:?}"
    );

    lock.commit().await.expect("the lock is released");
    let created = slow
        .await
        .expect("no panic")
        .expect("the in-flight create finished");
    assert_eq!(created.status().as_u16(), 201);

    let mut status = None;
    for _ in 0..100 {
        if let Some(exit) = child.try_wait().expect("waitable") {
            status = Some(exit);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = status.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("the server did not exit within 10 s of SIGTERM")
    });
    assert!(status.success(), "exit status {status}");

    // Nothing half-written: the in-flight cluster is there, whole.
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT name FROM clusters".to_string(),
        ))
        .await
        .expect("readable");
    assert_eq!(rows.len(), 1);
}
