//! Dropshot logs through slog; this drain forwards its records to tracing,
//! so request logs and our own come out in one stream and one format
//! (`--log-format pretty|json`), with dropshot's `req_id` and friends as text.

use std::fmt::Write as _;
use std::sync::Arc;

use slog::{Drain, KV, Level, OwnedKVList, Record, Serializer};

use crate::metrics::Metrics;

/// A slog drain that emits every record as a tracing event, and counts
/// dropshot's "request completed" records in the metrics.
pub struct TracingDrain {
    metrics: Arc<Metrics>,
}

impl Drain for TracingDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), slog::Never> {
        // Metrics count every answer, whatever the log level lets through.
        if record.msg().as_str() == Some("request completed") {
            let mut request = Request::default();
            let _ = record.kv().serialize(record, &mut request);
            let _ = values.serialize(record, &mut request);
            if let (Some(method), Some(uri), Some(status), Some(micros)) = (
                request.method,
                request.uri,
                request.status,
                request.latency_us,
            ) {
                self.metrics
                    .observe(&method, &uri, status, micros as f64 / 1_000_000.0);
            }
        }
        // Dropshot logs every request; formatting the fields of a record the
        // subscriber then drops would be paid on every request for nothing.
        let enabled = match record.level() {
            Level::Critical | Level::Error => {
                tracing::enabled!(target: "dropshot", tracing::Level::ERROR)
            }
            Level::Warning => tracing::enabled!(target: "dropshot", tracing::Level::WARN),
            Level::Info => tracing::enabled!(target: "dropshot", tracing::Level::INFO),
            Level::Debug => tracing::enabled!(target: "dropshot", tracing::Level::DEBUG),
            Level::Trace => tracing::enabled!(target: "dropshot", tracing::Level::TRACE),
        };
        if !enabled {
            return Ok(());
        }
        let mut fields = Fields(String::new());
        // Errors here only mean a field could not be formatted; the message
        // is still worth logging.
        let _ = record.kv().serialize(record, &mut fields);
        let _ = values.serialize(record, &mut fields);
        let message = record.msg();
        let fields = fields.0;
        match record.level() {
            Level::Critical | Level::Error => {
                tracing::error!(target: "dropshot", "{message}{fields}")
            }
            Level::Warning => tracing::warn!(target: "dropshot", "{message}{fields}"),
            Level::Info => tracing::info!(target: "dropshot", "{message}{fields}"),
            Level::Debug => tracing::debug!(target: "dropshot", "{message}{fields}"),
            Level::Trace => tracing::trace!(target: "dropshot", "{message}{fields}"),
        }
        Ok(())
    }
}

/// The logger to hand dropshot.
pub fn dropshot_logger(metrics: Arc<Metrics>) -> slog::Logger {
    slog::Logger::root(TracingDrain { metrics }.fuse(), slog::o!())
}

/// The fields of a "request completed" record that metrics need.
#[derive(Default)]
struct Request {
    method: Option<String>,
    uri: Option<String>,
    status: Option<u16>,
    latency_us: Option<u64>,
}

impl Serializer for Request {
    fn emit_arguments(&mut self, key: slog::Key, value: &std::fmt::Arguments<'_>) -> slog::Result {
        match key.as_ref() {
            "method" => self.method = Some(value.to_string()),
            "uri" => self.uri = Some(value.to_string()),
            "response_code" => self.status = value.to_string().parse().ok(),
            "latency_us" => self.latency_us = value.to_string().parse().ok(),
            _ => {}
        }
        Ok(())
    }
}

struct Fields(String);

impl Serializer for Fields {
    fn emit_arguments(&mut self, key: slog::Key, value: &std::fmt::Arguments<'_>) -> slog::Result {
        write!(self.0, " {key}={value}").map_err(|_| slog::Error::Other)
    }
}
