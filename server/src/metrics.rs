//! Prometheus metrics, served as text at `/metrics`: requests by operation
//! and status with a latency histogram, database pool use, and resources by
//! phase.
//!
//! Requests are counted from dropshot's own "request completed" log record
//! (see `logging.rs`), the one place that sees every answer, including the
//! router's 404s and extractor failures, without wrapping each handler.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

use http::Method;
use hyperfleet_api::Phase;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{DatabaseConnection, EntityTrait, QuerySelect};

use crate::auth::Caller;
use crate::db::entities::{cluster, nodepool};
use crate::error::ServiceError;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Default)]
struct Series {
    count: u64,
    sum_seconds: f64,
    /// Per bucket, not cumulative; made cumulative when rendered.
    buckets: [u64; BUCKETS.len()],
}

/// A route of the API: method, path template split in segments, operation.
struct Route {
    method: Method,
    segments: Vec<String>,
    operation: String,
}

/// The registry of request metrics.
pub struct Metrics {
    routes: Vec<Route>,
    series: Mutex<BTreeMap<(String, u16), Series>>,
}

impl Metrics {
    /// `operations`: (method, path template, operation id) of every route.
    pub fn new(operations: Vec<(Method, String, String)>) -> Self {
        let routes = operations
            .into_iter()
            .map(|(method, template, operation)| Route {
                method,
                segments: template.split('/').map(String::from).collect(),
                operation,
            })
            .collect();
        Metrics {
            routes,
            series: Mutex::new(BTreeMap::new()),
        }
    }

    /// The operation a request went to, `unknown` when no route matches.
    fn operation(&self, method: &str, path: &str) -> String {
        let segments: Vec<&str> = path.split('/').collect();
        self.routes
            .iter()
            .find(|route| {
                route.method.as_str() == method
                    && route.segments.len() == segments.len()
                    && route
                        .segments
                        .iter()
                        .zip(&segments)
                        .all(|(template, actual)| template.starts_with('{') || template == actual)
            })
            .map(|route| route.operation.clone())
            .unwrap_or_else(|| "unknown".to_string())
    }

    /// Count one answered request.
    pub fn observe(&self, method: &str, uri: &str, status: u16, latency_seconds: f64) {
        let path = uri.split('?').next().unwrap_or(uri);
        let operation = self.operation(method, path);
        let mut series = self
            .series
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = series.entry((operation, status)).or_default();
        entry.count += 1;
        entry.sum_seconds += latency_seconds;
        if let Some(bucket) = BUCKETS.iter().position(|bound| latency_seconds <= *bound) {
            entry.buckets[bucket] += 1;
        }
    }

    /// The whole exposition: request series, pool use and phase counts.
    pub async fn render(&self, db: &DatabaseConnection) -> Result<String, sea_orm::DbErr> {
        let mut out = String::new();
        self.render_requests(&mut out);
        render_pool(&mut out, db);
        render_phases(&mut out, db).await?;
        Ok(out)
    }

    fn render_requests(&self, out: &mut String) {
        let series = self
            .series
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let _ = writeln!(
            out,
            "# HELP hyperfleet_http_requests_total Requests answered, by operation and status."
        );
        let _ = writeln!(out, "# TYPE hyperfleet_http_requests_total counter");
        for ((operation, status), s) in series.iter() {
            let _ = writeln!(
                out,
                "hyperfleet_http_requests_total{{operation=\"{operation}\",status=\"{status}\"}} {}",
                s.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP hyperfleet_http_request_duration_seconds Time to answer, by operation and status."
        );
        let _ = writeln!(
            out,
            "# TYPE hyperfleet_http_request_duration_seconds histogram"
        );
        for ((operation, status), s) in series.iter() {
            let labels = format!("operation=\"{operation}\",status=\"{status}\"");
            let mut cumulative = 0;
            for (bound, count) in BUCKETS.iter().zip(s.buckets) {
                cumulative += count;
                let _ = writeln!(
                    out,
                    "hyperfleet_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "hyperfleet_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "hyperfleet_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum_seconds
            );
            let _ = writeln!(
                out,
                "hyperfleet_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
    }
}

fn render_pool(out: &mut String, db: &DatabaseConnection) {
    // Only the getter of the backend in use may be called (the other panics).
    let (size, idle) = if db.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        let pool = db.get_postgres_connection_pool();
        (
            pool.size(),
            u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
        )
    } else {
        let pool = db.get_sqlite_connection_pool();
        (
            pool.size(),
            u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
        )
    };
    let _ = writeln!(
        out,
        "# HELP hyperfleet_db_pool_connections Database connections, by state."
    );
    let _ = writeln!(out, "# TYPE hyperfleet_db_pool_connections gauge");
    let _ = writeln!(
        out,
        "hyperfleet_db_pool_connections{{state=\"idle\"}} {idle}"
    );
    let _ = writeln!(
        out,
        "hyperfleet_db_pool_connections{{state=\"in_use\"}} {}",
        size.saturating_sub(idle)
    );
}

/// The text of `/metrics`, for a caller who may read it (see
/// [`Caller::check_admin`]). Takes the metrics and the database rather than
/// the server context, which holds the metrics: no import cycle.
pub async fn view(
    metrics: &Metrics,
    db: &DatabaseConnection,
    caller: &Caller,
) -> Result<String, ServiceError> {
    caller.check_admin()?;
    Ok(metrics.render(db).await?)
}

async fn render_phases(out: &mut String, db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    let clusters: Vec<(String, i64)> = cluster::Entity::find()
        .select_only()
        .column(cluster::Column::Phase)
        .column_as(Expr::col(cluster::Column::Id).count(), "n")
        .group_by(cluster::Column::Phase)
        .into_tuple()
        .all(db)
        .await?;
    let nodepools: Vec<(String, i64)> = nodepool::Entity::find()
        .select_only()
        .column(nodepool::Column::Phase)
        .column_as(Expr::col(nodepool::Column::Id).count(), "n")
        .group_by(nodepool::Column::Phase)
        .into_tuple()
        .all(db)
        .await?;
    let _ = writeln!(
        out,
        "# HELP hyperfleet_resources Clusters and node pools, by kind and phase."
    );
    let _ = writeln!(out, "# TYPE hyperfleet_resources gauge");
    for (kind, counts) in [("cluster", clusters), ("nodepool", nodepools)] {
        // Every phase, zeros included, so a dashboard's series never vanish.
        for phase in Phase::ALL {
            let n = counts
                .iter()
                .find(|(p, _)| p == phase.as_str())
                .map(|(_, n)| *n)
                .unwrap_or(0);
            let _ = writeln!(
                out,
                "hyperfleet_resources{{kind=\"{kind}\",phase=\"{phase}\"}} {n}"
            );
        }
    }
    Ok(())
}
