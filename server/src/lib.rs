//! The HyperFleet API server: [`HyperfleetApi`](hyperfleet_api::HyperfleetApi)
//! implemented on sea-orm, started by the `hyperfleet` binary and by the
//! end-to-end tests alike. The control loop is not here: it is a client of
//! this API (`hyperfleet-control-loop`).

pub mod access;
pub mod aggregation;
pub mod auth;
pub mod cluster;
pub mod context;
pub mod db;
pub mod docs;
pub mod error;
pub mod events;
pub mod http_entrypoints;
pub mod list_gate;
pub mod listener;
pub mod logging;
pub mod metrics;
pub mod nodepool;
pub mod resource;
mod routes;
pub mod status;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use dropshot::{ConfigDropshot, HandlerTaskMode, ServerBuilder};
use hyperfleet_api::{MAX_REQUEST_BODY_BYTES, hyperfleet_api_mod};
use sea_orm::DatabaseConnection;

use crate::aggregation::AggregationConfig;
use crate::auth::Tokens;
use crate::context::ServerContext;
pub use crate::events::Retention;
use crate::http_entrypoints::HyperfleetApiImpl;
use crate::list_gate::ListGate;
pub use crate::listener::Limits;
use crate::listener::Listener;
use crate::metrics::Metrics;

/// Everything `serve` needs to know.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub database_url: String,
    /// Most connections of the PostgreSQL pool (`None`: the default).
    pub database_pool_size: Option<u32>,
    /// The longest one statement may run before it is stopped and the
    /// request answered 503 (`serve --statement-timeout`); zero: unbounded.
    pub statement_timeout: Duration,
    /// Which adapters each kind requires, and their order
    /// ([`AggregationConfig::default`]: the seed's).
    pub aggregation: AggregationConfig,
    /// The bearer tokens that may call (`--auth FILE`); `None` leaves the
    /// API open to anyone who can reach it.
    pub auth: Option<Tokens>,
    /// Connection timeouts and the connection cap.
    pub limits: Limits,
    /// How much of the change feed is kept (`serve --watch-retention-*`).
    pub retention: Retention,
    /// How many list queries may run at once (`None`: [`db::list_share`]).
    pub list_concurrency: Option<usize>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the database: {0}")]
    Database(#[source] sea_orm::DbErr),
    #[error("cannot migrate the database: {0}")]
    Migrate(#[source] sea_orm::DbErr),
    #[error("the API description is inconsistent: {0}")]
    Api(String),
    #[error("cannot start the HTTP server: {0}")]
    Http(String),
    #[error("cannot set up authentication: {0}")]
    Auth(String),
}

/// A running server. Dropping it stops accepting and closes connections
/// once their requests are done.
pub struct RunningServer {
    listener: Listener,
    local_addr: SocketAddr,
    db: DatabaseConnection,
    /// Following the feed's head, trimming the feed and, on PostgreSQL,
    /// folding the list totals' deltas (`db::tally`).
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        for task in &self.background {
            task.abort();
        }
    }
}

impl RunningServer {
    /// The address it listens on (useful after binding port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stop accepting, let in-flight requests finish, close the pool.
    pub async fn stop(mut self) -> Result<(), String> {
        for task in self.background.drain(..) {
            task.abort();
        }
        self.listener.stop().await;
        self.db.clone().close().await.map_err(|e| e.to_string())
    }

    /// Resolves when the server has stopped on its own (it does not today:
    /// the accept loop retries every error).
    pub async fn stopped(&self) -> Result<(), String> {
        self.listener.stopped().await;
        Ok(())
    }
}

/// Connect, migrate, and start serving.
pub async fn start(config: ServerConfig) -> Result<RunningServer, StartError> {
    // Migrations run on their own connection, without the timeout.
    db::connect_and_migrate(&config.database_url)
        .await
        .map_err(StartError::Migrate)?;
    let db = db::connect(
        &config.database_url,
        config.database_pool_size,
        Some(config.statement_timeout),
    )
    .await
    .map_err(StartError::Database)?;

    let mut api = hyperfleet_api_mod::api_description::<HyperfleetApiImpl>()
        .map_err(|e| StartError::Api(e.to_string()))?;
    // Built once: the 405 routes and the metrics' route table share it.
    let operations = routes::operations().map_err(StartError::Api)?;
    routes::register_method_not_allowed(&mut api, &operations).map_err(StartError::Api)?;

    match &config.auth {
        Some(tokens) => tracing::info!(
            tokens = tokens.len(),
            "authentication on: every request under {} needs a bearer token",
            hyperfleet_api::BASE_PATH
        ),
        None => tracing::warn!(
            "authentication is OFF: anyone who can reach {} may read and change every \
             resource; start with --auth FILE (HYPERFLEET_AUTH_FILE) to require tokens",
            config.listen
        ),
    }
    let metrics = Arc::new(Metrics::new(operations.clone()));
    let tokens = config.auth.clone();
    let head = events::follow_start(&db).await?;
    let (head_sender, feed_head) = tokio::sync::watch::channel(head);
    let mut background = vec![
        tokio::spawn(events::follow_head(db.clone(), head_sender)),
        tokio::spawn(events::trim(db.clone(), config.retention)),
    ];
    let context = ServerContext {
        db: db.clone(),
        aggregation: config.aggregation,
        metrics: metrics.clone(),
        tokens: config.auth,
        list_gate: ListGate::new(config.list_concurrency.unwrap_or_else(|| {
            db::list_share(
                &config.database_url,
                config.database_pool_size,
                std::thread::available_parallelism().map_or(1, usize::from),
            )
        })),
        // A zero timeout means unbounded, for the database and the wait alike.
        statement_timeout: if config.statement_timeout.is_zero() {
            Duration::MAX
        } else {
            config.statement_timeout
        },
        feed_head,
    };
    let dropshot_config = ConfigDropshot {
        bind_address: config.listen,
        default_request_body_max_bytes: MAX_REQUEST_BODY_BYTES,
        // A client that goes away takes its request with it: the handler is
        // dropped, a list's statement cancelled (`resource::page`), a write's
        // transaction rolled back unless it already committed. Every handler
        // is one transaction or reads only, so dropping it anywhere is safe.
        default_handler_task_mode: HandlerTaskMode::CancelOnDisconnect,
        ..ConfigDropshot::default()
    };
    // Dropshot routes and handles requests; the connections are ours
    // (listener.rs): dropshot's own accept loop has no timeouts or cap.
    let parts = ServerBuilder::new(api, context, logging::dropshot_logger(metrics))
        .config(dropshot_config)
        .build_starter()
        .map_err(|e| StartError::Http(e.to_string()))?
        .into_parts()
        .ok_or_else(|| StartError::Http("TLS is not supported".into()))?;
    let local_addr = parts.local_addr;
    let limits = Limits {
        max_connections: listener::fit_file_limit(config.limits.max_connections),
        ..config.limits
    };
    tracing::info!(
        %local_addr,
        max_connections = limits.max_connections,
        idle_timeout_s = limits.idle_timeout.as_secs_f64(),
        header_timeout_s = limits.header_timeout.as_secs_f64(),
        body_timeout_s = limits.body_timeout.as_secs_f64(),
        "listening"
    );
    if db.get_database_backend() == sea_orm::DbBackend::Postgres {
        background.push(db::tally::spawn_folding(db.clone()));
        background.push(db::vacuum::spawn_vacuuming(config.database_url.clone()));
    }
    let listener = Listener::spawn(parts, limits, tokens, operations);
    Ok(RunningServer {
        listener,
        local_addr,
        db,
        background,
    })
}
