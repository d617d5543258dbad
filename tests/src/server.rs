//! The servers under test: a real `hyperfleet` server on 127.0.0.1:0 on a
//! fresh database per test, and the external services (PostgreSQL,
//! RabbitMQ) a test may need, skipped or required by the environment.

use std::time::Duration;

use hyperfleet_sdk::Client;
use hyperfleet_server::aggregation::{AdapterGraph, AggregationConfig};
use hyperfleet_server::auth::Tokens;
use hyperfleet_server::{RunningServer, ServerConfig};
use sea_orm::{ConnectionTrait, Database};

use crate::contract;

/// Which database a test server runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Run each named `async fn(TestServer)` once per backend, as
/// `sqlite::NAME` and `postgres::NAME`, on a server from
/// [`TestServer::start`], or, with `start = PATH;` first, from the given
/// `async fn(Backend) -> Option<TestServer>` (a path from the crate root,
/// such as `crate::start`).
#[macro_export]
macro_rules! on_every_backend {
    (start = $start:path; $($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(server) = $start($crate::Backend::Sqlite).await {
                        super::$name(server).await;
                    }
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(server) = $start($crate::Backend::Postgres).await {
                        super::$name(server).await;
                    }
                }
            )*
        }
    };
    ($($name:ident),* $(,)?) => {
        $crate::on_every_backend!(start = $crate::TestServer::start; $($name),*);
    };
}

/// A running server on its own fresh database, and an SDK client for it.
pub struct TestServer {
    /// A client without a token: all a server without `--auth` needs.
    pub client: Client,
    /// `http://127.0.0.1:PORT`, for the few requests the SDK cannot make
    /// (malformed bodies, wrong content types, unknown routes). It is the
    /// contract proxy's address, so these answers are checked too.
    pub base_url: String,
    /// Checks every response against openapi.yaml on the way to the test.
    pub contract: contract::Proxy,
    /// The database it runs on.
    pub backend: Backend,
    server: Option<RunningServer>,
    // Dropped after the server, so the database outlives its pool.
    _database: TestDatabase,
}

impl TestServer {
    /// Start a server with the default required adapters, or `None` (with
    /// the reason printed) when the backend is absent and not required.
    pub async fn start(backend: Backend) -> Option<TestServer> {
        Self::start_configured(backend, |_| {}).await
    }

    /// Start a server with these required adapters, in no order (as the
    /// `--cluster-adapters`/`--nodepool-adapters` lists give them).
    pub async fn start_with(
        backend: Backend,
        cluster_adapters: Vec<String>,
        nodepool_adapters: Vec<String>,
    ) -> Option<TestServer> {
        let aggregation = AggregationConfig {
            cluster: AdapterGraph::unordered(&cluster_adapters).expect("distinct adapters"),
            nodepool: AdapterGraph::unordered(&nodepool_adapters).expect("distinct adapters"),
        };
        Self::start_with_aggregation(backend, aggregation).await
    }

    /// Start a server with this aggregation configuration.
    pub async fn start_with_aggregation(
        backend: Backend,
        aggregation: AggregationConfig,
    ) -> Option<TestServer> {
        Self::start_configured(backend, |config| config.aggregation = aggregation).await
    }

    /// Start a server with the default required adapters that accepts only
    /// these bearer tokens (`serve --auth`). Its `client` has no token; see
    /// [`TestServer::client_with_token`].
    pub async fn start_with_auth(backend: Backend, tokens: Tokens) -> Option<TestServer> {
        Self::start_configured(backend, |config| config.auth = Some(tokens)).await
    }

    /// Start a server with settings changed by `configure` (the statement
    /// timeout, the pool size, ...).
    pub async fn start_configured(
        backend: Backend,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> Option<TestServer> {
        let database = TestDatabase::create(backend).await?;
        let mut config = server_config(database.url.clone());
        configure(&mut config);
        let server = match hyperfleet_server::start(config).await {
            Ok(server) => server,
            Err(error) => panic!("the server did not start on {backend:?}: {error}"),
        };
        let contract = contract::Proxy::start(format!("http://{}", server.local_addr())).await;
        let base_url = contract.base_url.clone();
        Some(TestServer {
            client: Client::new(&base_url),
            base_url,
            contract,
            backend,
            server: Some(server),
            _database: database,
        })
    }

    /// The URL of the server itself, bypassing the contract proxy: for a
    /// client whose disconnection the server must see.
    pub fn direct_url(&self, path: &str) -> String {
        let server = self.server.as_ref().expect("the server is running");
        format!("http://{}{path}", server.local_addr())
    }

    /// The URL of the server's database, for a second server on it.
    pub fn database_url(&self) -> &str {
        &self._database.url
    }

    /// A connection of the test's own to the server's database.
    pub async fn database(&self) -> sea_orm::DatabaseConnection {
        Database::connect(&self._database.url)
            .await
            .expect("the test connects to the server's database")
    }

    /// How many of the server's statements on `table` PostgreSQL is running
    /// now (waiting for a lock counts), seen from `watcher`.
    pub async fn running_statements(watcher: &sea_orm::DatabaseConnection, table: &str) -> i64 {
        let row = watcher
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                format!(
                    "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() \
                     AND pid <> pg_backend_pid() AND state = 'active' \
                     AND query LIKE '%FROM \"{table}\"%'"
                ),
            ))
            .await
            .expect("pg_stat_activity is readable")
            .expect("a count");
        row.try_get("", "n").expect("a number")
    }

    /// Hold a lock that stops the server's statements on `table` until the
    /// returned transaction ends: on PostgreSQL `ACCESS EXCLUSIVE` on the
    /// table (reads and writes wait), on SQLite the database's write lock
    /// (writes wait; WAL readers never do).
    pub async fn lock_table(&self, table: &str) -> sea_orm::DatabaseTransaction {
        use sea_orm::TransactionTrait;
        let db = self.database().await;
        match self.backend {
            Backend::Postgres => {
                let txn = db.begin().await.expect("a transaction");
                txn.execute_unprepared(&format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"))
                    .await
                    .expect("the table is locked");
                txn
            }
            Backend::Sqlite => db
                .begin_with_options(sea_orm::TransactionOptions {
                    sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
                    ..sea_orm::TransactionOptions::default()
                })
                .await
                .expect("the write lock is taken"),
        }
    }

    /// An SDK client that sends `token` as its bearer token.
    pub fn client_with_token(&self, token: &str) -> Client {
        Client::new_with_token(&self.base_url, token).expect("a client with a token")
    }

    /// The server's own address, past the contract proxy: for connection
    /// tests, which must talk to the server's sockets themselves.
    pub fn server_addr(&self) -> std::net::SocketAddr {
        match &self.server {
            Some(server) => server.local_addr(),
            None => panic!("the server was stopped"),
        }
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

impl Drop for TestServer {
    /// A test fails when any response it received broke the contract
    /// (unless it is failing already: a second panic would abort).
    fn drop(&mut self) {
        let violations = self.contract.violations();
        if !violations.is_empty() && !std::thread::panicking() {
            panic!(
                "{} response(s) did not conform to openapi.yaml:\n{}",
                violations.len(),
                violations.join("\n")
            );
        }
    }
}

/// The settings of a server on `database_url` as the tests (and benches)
/// run it: any free port on 127.0.0.1, the default required adapters, the
/// default pool, no `--auth`. Change fields with struct update syntax.
pub fn server_config(database_url: String) -> ServerConfig {
    ServerConfig {
        listen: "127.0.0.1:0".parse().expect("a valid socket address"),
        database_url,
        database_pool_size: None,
        statement_timeout: hyperfleet_server::db::DEFAULT_STATEMENT_TIMEOUT,
        aggregation: AggregationConfig::default(),
        auth: None,
        limits: hyperfleet_server::Limits::default(),
        retention: hyperfleet_server::Retention::default(),
        list_concurrency: None,
    }
}

/// `None`, with `why` printed, so that a test without its external service
/// passes without running; but a panic where that service is required
/// (`variable` is `1`, or `CI` is set), so CI cannot silently skip it.
pub fn unavailable<T>(variable: &str, why: &str) -> Option<T> {
    let required = std::env::var(variable).is_ok_and(|v| v == "1")
        || std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
    if required {
        panic!("required here ({variable} or CI is set), but {why}");
    }
    eprintln!("skipping: {why}");
    None
}

/// The RabbitMQ the control-loop tests use (`HYPERFLEET_TEST_AMQP_URL`,
/// default the local broker), or `None` with the reason printed when there
/// is none and it is not required (`HYPERFLEET_REQUIRE_RABBITMQ=1` or `CI`).
pub async fn rabbitmq() -> Option<String> {
    let url = std::env::var("HYPERFLEET_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_string());
    let topology = hyperfleet_sdk::amqp::Topology::default();
    let probe = hyperfleet_sdk::amqp::AmqpPublisher::connect(&url, &topology);
    let why = match tokio::time::timeout(Duration::from_secs(10), probe).await {
        Ok(Ok(_)) => return Some(url),
        Ok(Err(error)) => error.to_string(),
        Err(_) => "timed out after 10 s".to_string(),
    };
    unavailable(
        "HYPERFLEET_REQUIRE_RABBITMQ",
        &format!("RabbitMQ at {url} is unusable ({why}); set HYPERFLEET_TEST_AMQP_URL"),
    )
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

impl TestDatabase {
    /// PostgreSQL tests need a server at `HYPERFLEET_TEST_POSTGRES_URL`
    /// (default `postgres://postgres@127.0.0.1:5432/postgres`); see
    /// [`unavailable`] for what happens where there is none.
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
                let why = match created {
                    Ok(Ok(())) => None,
                    Ok(Err(error)) => Some(error.to_string()),
                    Err(_) => Some("timed out after 10 s".to_string()),
                };
                if let Some(why) = why {
                    return unavailable(
                        "HYPERFLEET_REQUIRE_POSTGRES",
                        &format!(
                            "PostgreSQL at {admin_url} is unusable ({why}); \
                             set HYPERFLEET_TEST_POSTGRES_URL"
                        ),
                    );
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
