//! Dropshot logs through slog; this drain forwards its records to tracing,
//! so request logs and our own come out in one stream and one format
//! (`--log-format pretty|json`), with dropshot's `req_id` and friends as text.

use std::fmt::Write as _;
use std::io;
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

/// A log writer that escapes control characters, so no logged value (a
/// label key, a path, a header) can start a forged line, hide text behind a
/// carriage return, or put a NUL into the log. The formatter writes each
/// event whole, ending in the one newline that is kept; every other C0
/// control, DEL and C1 control (U+0080-U+009F, which some terminals obey)
/// is written as `\n`, `\r`, `\t` or `\u00XX`: escapes that JSON reads
/// as the same character, so a JSON log line stays valid JSON (serde_json
/// leaves DEL and C1 raw in strings).
///
/// ESC is the exception: the pretty format colours its own output with
/// escape sequences, and tracing-subscriber already escapes ESC inside
/// values (since 0.3.20), so here it passes through.
#[derive(Debug)]
pub struct Escaping<W>(pub W);

impl<W: io::Write> io::Write for Escaping<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(&escape_controls(buf))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// `buf` with its control characters escaped, but for a final newline.
pub fn escape_controls(buf: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let (body, end) = match buf.split_last() {
        Some((b'\n', body)) => (body, &b"\n"[..]),
        _ => (buf, &b""[..]),
    };
    let is_c1 =
        |i: usize| body[i] == 0xC2 && body.get(i + 1).is_some_and(|b| (0x80..=0x9F).contains(b));
    let needs = |i: usize| {
        let b = body[i];
        (b < 0x20 && b != 0x1B) || b == 0x7F || is_c1(i)
    };
    if !(0..body.len()).any(needs) {
        return std::borrow::Cow::Borrowed(buf);
    }
    let mut out = Vec::with_capacity(buf.len() + 16);
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        match b {
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ if needs(i) && is_c1(i) => {
                out.extend_from_slice(format!("\\u{:04x}", body[i + 1]).as_bytes());
                i += 1;
            }
            _ if needs(i) => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
        i += 1;
    }
    out.extend_from_slice(end);
    std::borrow::Cow::Owned(out)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn escaped(text: &str) -> String {
        String::from_utf8(escape_controls(text.as_bytes()).into_owned()).expect("still UTF-8")
    }

    #[test]
    fn controls_in_a_line_are_escaped_and_its_end_kept() {
        assert_eq!(escaped("plain line\n"), "plain line\n");
        assert_eq!(
            escaped("key=a\n2026-01-01T00:00:00Z ERROR FORGED\n"),
            "key=a\\n2026-01-01T00:00:00Z ERROR FORGED\n"
        );
        assert_eq!(escaped("a\0b\rc\td\n"), "a\\u0000b\\rc\\td\n");
        assert_eq!(escaped("bell\u{7}del\u{7f}\n"), "bell\\u0007del\\u007f\n");
        assert_eq!(escaped("csi\u{9b}2J\n"), "csi\\u009b2J\n");
        // A JSON line stays JSON, and reads back as what was logged.
        let value = serde_json::json!({"message": "del\u{7f} csi\u{9b}"});
        let line = format!("{value}\n");
        let read: serde_json::Value =
            serde_json::from_str(&escaped(&line)).expect("still a JSON line");
        assert_eq!(read, value);
        // Colours of the pretty format, and text beyond ASCII, pass.
        assert_eq!(
            escaped("\u{1b}[32m INFO\u{1b}[0m \u{430}lpha é\n"),
            "\u{1b}[32m INFO\u{1b}[0m \u{430}lpha é\n"
        );
        // No final newline: nothing is kept back.
        assert_eq!(escaped("x\ny"), "x\\ny");
    }

    #[test]
    fn the_writer_reports_the_whole_buffer_written() {
        use std::io::Write as _;
        let mut sink = Escaping(Vec::new());
        let line = b"a\nb\n";
        assert_eq!(sink.write(line).expect("written"), line.len());
        assert_eq!(sink.0, b"a\\nb\n");
    }
}
