//! The harness of the end-to-end tests: a real `hyperfleet` server bound to
//! 127.0.0.1:0 on a fresh database (a SQLite file in a temp dir, or a new
//! PostgreSQL database), driven only through the generated SDK.
//!
//! PostgreSQL tests need a server at `HYPERFLEET_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). Where there is none they
//! print why and pass without running, unless `HYPERFLEET_REQUIRE_POSTGRES=1`
//! or `CI` is set: then a missing server fails the test, so CI cannot
//! silently skip them.
//!
//! Every response a test receives passes through [`contract::Proxy`], which
//! checks it against openapi.yaml; a test fails on any violation.

pub mod contract;

use std::time::Duration;

use hyperfleet_sdk::{Client, Error as SdkError, types};
use hyperfleet_server::auth::Tokens;
use hyperfleet_server::{RunningServer, ServerConfig};
use sea_orm::{ConnectionTrait, Database};

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
    server: Option<RunningServer>,
    // Dropped after the server, so the database outlives its pool.
    _database: TestDatabase,
}

impl TestServer {
    /// Start a server with the default required adapters, or `None` (with
    /// the reason printed) when the backend is absent and not required.
    pub async fn start(backend: Backend) -> Option<TestServer> {
        Self::start_configured(backend, default_adapters(), None).await
    }

    /// Start a server with these required adapters.
    pub async fn start_with(
        backend: Backend,
        cluster_adapters: Vec<String>,
        nodepool_adapters: Vec<String>,
    ) -> Option<TestServer> {
        Self::start_configured(backend, (cluster_adapters, nodepool_adapters), None).await
    }

    /// Start a server with the default required adapters that accepts only
    /// these bearer tokens (`serve --auth`). Its `client` has no token; see
    /// [`TestServer::client_with_token`].
    pub async fn start_with_auth(backend: Backend, tokens: Tokens) -> Option<TestServer> {
        Self::start_configured(backend, default_adapters(), Some(tokens)).await
    }

    async fn start_configured(
        backend: Backend,
        (cluster_adapters, nodepool_adapters): (Vec<String>, Vec<String>),
        auth: Option<Tokens>,
    ) -> Option<TestServer> {
        let database = TestDatabase::create(backend).await?;
        let config = ServerConfig {
            listen: "127.0.0.1:0".parse().expect("a valid socket address"),
            database_url: database.url.clone(),
            database_pool_size: None,
            cluster_adapters,
            nodepool_adapters,
            auth,
        };
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
            server: Some(server),
            _database: database,
        })
    }

    /// An SDK client that sends `token` as its bearer token.
    pub fn client_with_token(&self, token: &str) -> Client {
        Client::new_with_token(&self.base_url, token).expect("a client with a token")
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

/// The required adapters of a server started without a choice.
fn default_adapters() -> (Vec<String>, Vec<String>) {
    let adapters = |list: &str| list.split(',').map(String::from).collect::<Vec<_>>();
    (
        adapters(hyperfleet_server::DEFAULT_CLUSTER_ADAPTERS),
        adapters(hyperfleet_server::DEFAULT_NODEPOOL_ADAPTERS),
    )
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

/// Shorthand for condition statuses in reports.
pub use hyperfleet_sdk::types::ConditionStatus::{False, True, Unknown};

/// Conditions of an adapter that is done: Applied, Available and Health true.
pub const COMPLETE: &[(&str, types::ConditionStatus)] =
    &[("Applied", True), ("Available", True), ("Health", True)];
/// Conditions of an adapter at work: applied, not yet available.
pub const RUNNING: &[(&str, types::ConditionStatus)] =
    &[("Applied", True), ("Available", False), ("Health", True)];
/// Conditions of an adapter that has not started.
pub const PENDING: &[(&str, types::ConditionStatus)] =
    &[("Applied", False), ("Available", False), ("Health", True)];
/// Conditions of an adapter that failed.
pub const FAILED: &[(&str, types::ConditionStatus)] =
    &[("Applied", True), ("Available", False), ("Health", False)];

/// A report of `adapter` at `generation` with the given conditions; each
/// condition's message says what it is, so tests can recognise it.
pub fn report(
    adapter: &str,
    generation: u64,
    conditions: &[(&str, types::ConditionStatus)],
) -> types::builder::AdapterStatusReport {
    let conditions: Vec<types::ConditionReport> = conditions
        .iter()
        .map(|(kind, status)| {
            types::ConditionReport::builder()
                .type_(*kind)
                .status(*status)
                .reason("Test")
                .message(format!("{kind} is {status:?}"))
                .try_into()
                .expect("a valid condition")
        })
        .collect();
    types::AdapterStatusReport::builder()
        .adapter(adapter)
        .observed_generation(std::num::NonZeroU64::new(generation).expect("generation >= 1"))
        .conditions(conditions)
}

/// The RabbitMQ the control-loop tests use (`HYPERFLEET_TEST_AMQP_URL`,
/// default the local broker), or `None` with the reason printed when there
/// is none and it is not required (`HYPERFLEET_REQUIRE_RABBITMQ=1` or `CI`).
pub async fn rabbitmq() -> Option<String> {
    let url = std::env::var("HYPERFLEET_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_string());
    let topology = hyperfleet_sdk::amqp::Topology::default();
    let probe = hyperfleet_sdk::amqp::AmqpPublisher::connect(&url, &topology);
    match tokio::time::timeout(Duration::from_secs(10), probe).await {
        Ok(Ok(_)) => Some(url),
        Ok(Err(error)) => rabbitmq_absent(&url, &error.to_string()),
        Err(_) => rabbitmq_absent(&url, "timed out after 10 s"),
    }
}

fn rabbitmq_absent(url: &str, why: &str) -> Option<String> {
    let required = std::env::var("HYPERFLEET_REQUIRE_RABBITMQ").is_ok_and(|v| v == "1")
        || std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
    if required {
        panic!("RabbitMQ is required here but {url} is unusable: {why}");
    }
    eprintln!("skipping: RabbitMQ at {url} is unusable ({why}); set HYPERFLEET_TEST_AMQP_URL");
    None
}

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
