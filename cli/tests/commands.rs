//! `hyperfleet cluster|nodepool` as a user runs them: the real binary
//! against a real `hyperfleet dev` (API, sentinel and reference adapters)
//! on SQLite and on PostgreSQL, checking what it prints and its exit codes.
//!
//! PostgreSQL comes from `HYPERFLEET_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), one fresh database per
//! test; where there is none the PostgreSQL tests print why and pass, unless
//! `HYPERFLEET_REQUIRE_POSTGRES=1` or `CI` is set.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use hyperfleet_sdk::types;
use sea_orm::{ConnectionTrait, Database};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_hyperfleet");

#[derive(Clone, Copy, Debug)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A `hyperfleet dev` process on its own database; stopped, and its
/// PostgreSQL database dropped, on drop.
struct Dev {
    child: Child,
    url: String,
    _sqlite: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Dev {
    /// `None` (with the reason printed) when PostgreSQL is absent and not
    /// required.
    fn start(backend: Backend) -> Option<Dev> {
        let (database_url, sqlite, postgres) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temp dir");
                let url = format!("sqlite://{}", dir.path().join("hyperfleet.db").display());
                (url, Some(dir), None)
            }
            Backend::Postgres => {
                let admin = std::env::var("HYPERFLEET_TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
                let name = format!("hyperfleet_cli_{}", uuid::Uuid::new_v4().simple());
                let created = runtime().block_on(async {
                    tokio::time::timeout(Duration::from_secs(10), async {
                        let db = Database::connect(&admin).await?;
                        db.execute_unprepared(&format!("CREATE DATABASE {name}"))
                            .await?;
                        db.close().await
                    })
                    .await
                });
                if let Err(why) = created
                    .map_err(|e| e.to_string())
                    .and_then(|r| r.map_err(|e| e.to_string()))
                {
                    let required = std::env::var("HYPERFLEET_REQUIRE_POSTGRES")
                        .is_ok_and(|v| v == "1")
                        || std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
                    assert!(
                        !required,
                        "PostgreSQL at {admin} is required but unusable: {why}"
                    );
                    eprintln!("skipping: PostgreSQL at {admin} is unusable ({why})");
                    return None;
                }
                let (server, _) = admin.rsplit_once('/').expect("a URL ending in /DATABASE");
                (format!("{server}/{name}"), None, Some((admin, name)))
            }
        };
        let port = free_port();
        let child = Command::new(BIN)
            .args(["dev", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--database-url", &database_url])
            // Quick adapters and a quick sentinel, so a test takes seconds.
            .args([
                "--work",
                "50ms",
                "--poll-interval",
                "200ms",
                "--backoff",
                "500ms",
            ])
            .env_remove("HYPERFLEET_AUTH_FILE")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("hyperfleet dev starts");
        let dev = Dev {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _sqlite: sqlite,
            postgres,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "hyperfleet dev did not listen");
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(dev)
    }

    /// Run `hyperfleet ARGS` against this server.
    fn run(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .env("HYPERFLEET_URL", &self.url)
            .env_remove("HYPERFLEET_TOKEN")
            .output()
            .expect("hyperfleet runs")
    }

    /// Run, expect exit 0, return stdout.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "hyperfleet {args:?} failed with {}: {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).expect("UTF-8 output")
    }

    /// The API's own JSON for `path`, read without the SDK.
    fn raw(&self, path: &str) -> Value {
        runtime().block_on(async {
            reqwest::get(format!("{}{path}", self.url))
                .await
                .expect("the API answers")
                .json()
                .await
                .expect("JSON")
        })
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some((admin, name)) = self.postgres.take() {
            let dropped: Result<(), sea_orm::DbErr> = runtime().block_on(async {
                let db = Database::connect(&admin).await?;
                db.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await?;
                db.close().await
            });
            if let Err(error) = dropped {
                eprintln!("warning: could not drop {name}: {error}");
            }
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> T {
    match serde_json::from_str(text) {
        Ok(value) => value,
        Err(error) => panic!("not the API's type ({error}): {text}"),
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// create → list (table, json) → get by name and id → update → wait for
/// Ready → node pools → delete --wait, and what each prints.
fn lifecycle(backend: Backend) {
    let Some(dev) = Dev::start(backend) else {
        return;
    };
    let created = dev.ok(&[
        "cluster",
        "create",
        "web",
        "--provider",
        "gcp",
        "--region",
        "us-east1",
        "--node-count",
        "3",
        "--label",
        "env=prod",
    ]);
    let mut lines = created.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAME", "PHASE", "PROVIDER", "REGION", "NODES", "AGE"]
    );
    let row: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(&row[..5], ["web", "Pending", "gcp", "us-east1", "3"]);

    let table = dev.ok(&["cluster", "list"]);
    assert!(table.lines().any(|l| l.starts_with("web ")), "{table}");
    let list: types::ClusterList = parse(&dev.ok(&["cluster", "list", "-o", "json"]));
    assert_eq!(list.total, 1);
    assert_eq!(list.items[0].name, "web");
    let id = list.items[0].id.to_string();
    assert_eq!(dev.ok(&["cluster", "list", "-o", "name"]), "cluster/web\n");
    let none = dev.ok(&["cluster", "list", "-l", "env=dev", "-o", "json"]);
    assert_eq!(parse::<types::ClusterList>(&none).total, 0);

    let by_name: types::Cluster = parse(&dev.ok(&["cluster", "get", "web", "-o", "json"]));
    let by_id: types::Cluster = parse(&dev.ok(&["cluster", "get", &id, "-o", "json"]));
    assert_eq!(by_name.id, by_id.id);
    assert_eq!(by_id.name, "web");

    let updated: types::Cluster = parse(&dev.ok(&[
        "cluster",
        "update",
        "web",
        "--node-count",
        "5",
        "--label",
        "tier=gold",
        "--remove-label",
        "env",
        "-o",
        "json",
    ]));
    assert_eq!(updated.generation, 2);
    assert_eq!(updated.spec.node_count.get(), 5);
    assert_eq!(
        updated.labels.into_iter().collect::<Vec<_>>(),
        [("tier".to_string(), "gold".to_string())]
    );

    let ready = dev.ok(&[
        "cluster",
        "wait",
        "web",
        "--for",
        "phase=Ready",
        "--timeout",
        "60s",
    ]);
    assert!(ready.contains("Ready"), "{ready}");
    // The CLI's JSON is the API's. Adapters may still report after Ready
    // (a late report moves `updated_at`), so compare within a window in
    // which the API's answer did not change.
    let path = format!("/api/hyperfleet/v1/clusters/{id}");
    let mut tries = 0;
    loop {
        let before = dev.raw(&path);
        let cli: Value = parse(&dev.ok(&["cluster", "get", &id, "-o", "json"]));
        let after = dev.raw(&path);
        if before == after {
            assert_eq!(cli, after);
            break;
        }
        tries += 1;
        assert!(tries < 20, "the cluster kept changing: {after}");
    }
    let wide = dev.ok(&["cluster", "get", "web", "-o", "wide"]);
    assert!(
        wide.contains("LABELS") && wide.contains("tier=gold"),
        "{wide}"
    );
    let yaml = dev.ok(&["cluster", "get", "web", "-o", "yaml"]);
    assert!(yaml.contains("name: web"), "{yaml}");
    let statuses: types::AdapterStatusList =
        parse(&dev.ok(&["cluster", "statuses", "web", "-o", "json"]));
    assert_eq!(statuses.phase, types::Phase::Ready);

    let pool: types::NodePool = parse(&dev.ok(&[
        "nodepool",
        "create",
        "workers",
        "--cluster",
        "web",
        "--machine-type",
        "n1-standard-4",
        "--node-count",
        "2",
        "-o",
        "json",
    ]));
    assert_eq!(pool.cluster_id, by_id.id);
    let all: types::NodePoolList = parse(&dev.ok(&["nodepool", "list", "-o", "json"]));
    assert_eq!(all.items.len(), 1);
    let of_cluster: types::NodePoolList =
        parse(&dev.ok(&["nodepool", "list", "--cluster", &id, "-o", "json"]));
    assert_eq!(of_cluster.items[0].id, pool.id);
    dev.ok(&[
        "nodepool",
        "wait",
        "workers",
        "-c",
        "web",
        "--for",
        "phase=Ready",
        "--timeout",
        "60s",
    ]);
    let got: types::NodePool = parse(&dev.ok(&[
        "nodepool",
        "get",
        &pool.id.to_string(),
        "--cluster",
        "web",
        "-o",
        "json",
    ]));
    assert_eq!(got.name, "workers");

    let deleted = dev.ok(&["cluster", "delete", "web", "--wait", "--timeout", "60s"]);
    assert!(deleted.contains("cluster/web deleted"), "{deleted}");
    let gone = dev.run(&["cluster", "get", &id]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(
        stderr(&gone).starts_with("error: ClusterNotFound: ")
            && stderr(&gone).contains("(request "),
        "{}",
        stderr(&gone)
    );
}

/// Exit codes and the one-line errors.
fn errors(backend: Backend) {
    let Some(dev) = Dev::start(backend) else {
        return;
    };
    let missing = dev.run(&["cluster", "get", "nothing-here"]);
    assert_eq!(missing.status.code(), Some(1));
    let line = stderr(&missing);
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(line.starts_with("error: ClusterNotFound: "), "{line}");
    assert!(
        line.trim_end().ends_with(')') && line.contains("(request "),
        "{line}"
    );

    dev.ok(&[
        "cluster",
        "create",
        "dup",
        "--provider",
        "gcp",
        "--region",
        "r",
        "--node-count",
        "1",
    ]);
    let again = dev.run(&[
        "cluster",
        "create",
        "dup",
        "--provider",
        "gcp",
        "--region",
        "r",
        "--node-count",
        "1",
    ]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).starts_with("error: ClusterAlreadyExists: "),
        "{}",
        stderr(&again)
    );

    // Usage errors, clap's and the SDK's refusals alike: exit 2.
    for args in [
        &["cluster", "list", "--bogus"][..],
        &["cluster", "wait", "dup", "--for", "phase=Done"],
        &["cluster", "create", "x", "--provider", "gcp"],
        &["cluster", "list", "-o", "xml"],
        &["nodepool", "get", "workers"],
        &["cluster", "list", "--phase", "Unknown"],
    ] {
        let output = dev.run(args);
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: {}",
            stderr(&output)
        );
    }

    // A wait that cannot succeed: non-zero, with what it last saw.
    dev.ok(&[
        "cluster",
        "wait",
        "dup",
        "--for",
        "phase=Ready",
        "--timeout",
        "60s",
    ]);
    let late = dev.run(&[
        "cluster",
        "wait",
        "dup",
        "--for",
        "phase=Terminating",
        "--timeout",
        "1s",
    ]);
    assert_eq!(late.status.code(), Some(1));
    let text = stderr(&late);
    assert!(text.contains("timed out after 1s"), "{text}");
    assert!(
        text.contains("last seen: phase Ready, generation 1"),
        "{text}"
    );

    let nowhere = Command::new(BIN)
        .args(["cluster", "list", "--server", "http://127.0.0.1:1"])
        .output()
        .expect("hyperfleet runs");
    assert_eq!(nowhere.status.code(), Some(1));
    assert!(stderr(&nowhere).starts_with("error: cannot reach the API"));
}

#[test]
fn completion_scripts_are_printed() {
    for shell in ["bash", "zsh", "fish"] {
        let output = Command::new(BIN)
            .args(["completion", shell])
            .output()
            .expect("hyperfleet runs");
        assert!(output.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&output.stdout);
        assert!(script.contains("nodepool"), "{shell} completes subcommands");
    }
}

mod sqlite {
    #[test]
    fn lifecycle() {
        super::lifecycle(super::Backend::Sqlite);
    }
    #[test]
    fn errors() {
        super::errors(super::Backend::Sqlite);
    }
}

mod postgres {
    #[test]
    fn lifecycle() {
        super::lifecycle(super::Backend::Postgres);
    }
    #[test]
    fn errors() {
        super::errors(super::Backend::Postgres);
    }
}
