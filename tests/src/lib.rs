//! The harness of the end-to-end tests: a real `hyperfleet` server bound to
//! 127.0.0.1:0 on a fresh database (a SQLite file in a temp dir, or a new
//! PostgreSQL database), driven only through the generated SDK.
//!
//! PostgreSQL tests need a server at `HYPERFLEET_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). Where there is none they
//! print why and pass without running, unless `HYPERFLEET_REQUIRE_POSTGRES=1`
//! or `CI` is set: then a missing server fails the test, so CI cannot
//! silently skip them.

use std::time::Duration;

use hyperfleet_sdk::{Client, Error as SdkError, types};
use hyperfleet_server::{RunningServer, ServerConfig};
use sea_orm::{ConnectionTrait, Database};

/// Which database a test server runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Run each named `async fn(TestServer)` once per backend, as
/// `sqlite::NAME` and `postgres::NAME`.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(server) = $crate::TestServer::start($crate::Backend::Sqlite).await {
                        super::$name(server).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(server) = $crate::TestServer::start($crate::Backend::Postgres).await {
                        super::$name(server).await;
                    }
                }
            )*
        }
    };
}

/// A running server on its own fresh database, and an SDK client for it.
pub struct TestServer {
    pub client: Client,
    /// `http://127.0.0.1:PORT`, for the few requests the SDK cannot make
    /// (malformed bodies, wrong content types, unknown routes).
    pub base_url: String,
    server: Option<RunningServer>,
    // Dropped after the server, so the database outlives its pool.
    _database: TestDatabase,
}

impl TestServer {
    /// Start a server with the default required adapters, or `None` (with
    /// the reason printed) when the backend is absent and not required.
    pub async fn start(backend: Backend) -> Option<TestServer> {
        let adapters = |list: &str| list.split(',').map(String::from).collect::<Vec<_>>();
        Self::start_with(
            backend,
            adapters(hyperfleet_server::DEFAULT_CLUSTER_ADAPTERS),
            adapters(hyperfleet_server::DEFAULT_NODEPOOL_ADAPTERS),
        )
        .await
    }

    pub async fn start_with(
        backend: Backend,
        cluster_adapters: Vec<String>,
        nodepool_adapters: Vec<String>,
    ) -> Option<TestServer> {
        let database = TestDatabase::create(backend).await?;
        let config = ServerConfig {
            listen: "127.0.0.1:0".parse().expect("a valid socket address"),
            database_url: database.url.clone(),
            database_pool_size: None,
            cluster_adapters,
            nodepool_adapters,
        };
        let server = match hyperfleet_server::start(config).await {
            Ok(server) => server,
            Err(error) => panic!("the server did not start on {backend:?}: {error}"),
        };
        let base_url = format!("http://{}", server.local_addr());
        Some(TestServer {
            client: Client::new(&base_url),
            base_url,
            server: Some(server),
            _database: database,
        })
    }

    /// A plain HTTP client, for requests the SDK refuses to build.
    pub fn http(&self) -> reqwest::Client {
        reqwest::Client::new()
    }

    /// `base_url` joined with `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Stop the server gracefully (the database is removed on drop).
    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop().await.expect("the server stops cleanly");
        }
    }
}

/// The seed's J1 cluster request, with another name.
pub fn cluster_request(name: &str) -> types::builder::ClusterCreateRequest {
    types::ClusterCreateRequest::builder()
        .name(name)
        .spec(
            types::ClusterSpec::builder()
                .provider("gcp")
                .region("us-east1")
                .node_count(3),
        )
        .labels(
            [("environment", "production"), ("team", "platform")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<std::collections::BTreeMap<_, _>>(),
        )
}

/// A node-pool request like the seed's.
pub fn nodepool_request(name: &str) -> types::builder::NodePoolCreateRequest {
    types::NodePoolCreateRequest::builder().name(name).spec(
        types::NodePoolSpec::builder()
            .node_count(5)
            .machine_type("n1-standard-4"),
    )
}

/// The API error of a failed SDK call, with its status; panics on success
/// or on a transport failure, which no test expects.
pub fn api_error<T: std::fmt::Debug>(
    result: Result<hyperfleet_sdk::ResponseValue<T>, SdkError<types::Error>>,
) -> (u16, types::Error) {
    match result {
        Ok(value) => panic!("expected an error, got {:?}", value.into_inner()),
        Err(SdkError::ErrorResponse(response)) => {
            let status = response.status().as_u16();
            (status, response.into_inner())
        }
        Err(other) => panic!("expected an API error, got {other}"),
    }
}

/// Where a test server keeps its data; removed on drop.
struct TestDatabase {
    url: String,
    kind: DatabaseKind,
}

enum DatabaseKind {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn postgres_required() -> bool {
    std::env::var("HYPERFLEET_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
        || std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false")
}

impl TestDatabase {
    async fn create(backend: Backend) -> Option<TestDatabase> {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("a temp dir for SQLite");
                let url = format!("sqlite://{}", dir.path().join("hyperfleet.db").display());
                Some(TestDatabase {
                    url,
                    kind: DatabaseKind::Sqlite(dir),
                })
            }
            Backend::Postgres => {
                let admin_url = std::env::var("HYPERFLEET_TEST_POSTGRES_URL")
                    .unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_string());
                let name = format!("hyperfleet_e2e_{}", uuid::Uuid::new_v4().simple());
                let created = tokio::time::timeout(Duration::from_secs(10), async {
                    let admin = Database::connect(&admin_url).await?;
                    admin
                        .execute_unprepared(&format!("CREATE DATABASE {name}"))
                        .await?;
                    admin.close().await
                })
                .await;
                match created {
                    Ok(Ok(())) => {}
                    Ok(Err(error)) => return postgres_absent(&admin_url, &error.to_string()),
                    Err(_) => return postgres_absent(&admin_url, "timed out after 10 s"),
                }
                let url = match admin_url.rsplit_once('/') {
                    Some((server, _)) => format!("{server}/{name}"),
                    None => panic!("HYPERFLEET_TEST_POSTGRES_URL must end in /DATABASE"),
                };
                Some(TestDatabase {
                    url,
                    kind: DatabaseKind::Postgres { admin_url, name },
                })
            }
        }
    }
}

fn postgres_absent(url: &str, why: &str) -> Option<TestDatabase> {
    if postgres_required() {
        panic!("PostgreSQL is required here but {url} is unusable: {why}");
    }
    eprintln!(
        "skipping: PostgreSQL at {url} is unusable ({why}); set HYPERFLEET_TEST_POSTGRES_URL"
    );
    None
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let DatabaseKind::Postgres { admin_url, name } = &self.kind else {
            return;
        };
        let (admin_url, name) = (admin_url.clone(), name.clone());
        // Drop runs outside any async context we can await in; a thread with
        // its own small runtime removes the database even after a panic.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let admin = Database::connect(&admin_url)
                    .await
                    .map_err(std::io::Error::other)?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .map_err(std::io::Error::other)?;
                admin.close().await.map_err(std::io::Error::other)
            })
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("warning: could not drop test database: {error}");
        }
    }
}
