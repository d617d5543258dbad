//! Log injection: a value from a request that holds
//! control characters cannot forge a log line or write a NUL, in either log
//! format, through a real `hyperfleet serve` process. The database does not
//! take part in logging, so SQLite suffices.

use std::process::{Command, Stdio};
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A body field name that would forge a line, clear a terminal and carry
/// a NUL, DEL and a C1 control; serde quotes unknown field names raw in its
/// message, which the request log records.
const HOSTILE: &str =
    "a\n2026-01-01T00:00:00.000000Z ERROR hyperfleet: FORGED\r\u{0}\u{7f}\u{9b}2J\u{1b}[2Jz";

/// Run `serve --log-format <format>`, send the hostile request, stop the
/// server, and return what it logged.
async fn log_of_hostile_request(format: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("a temp dir");
    let url = format!("sqlite://{}", dir.path().join("logs.db").display());
    let log_path = dir.path().join("stderr.log");
    let log = std::fs::File::create(&log_path).expect("the log file");
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_hyperfleet"))
        .args(["serve", "--log-format", format, "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--database-url", &url])
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("the server starts");
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    let mut ready = false;
    for _ in 0..100 {
        if http.get(format!("{base}/readyz")).send().await.is_ok() {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut body = serde_json::json!({
        "name": "x",
        "spec": {"provider": "gcp", "region": "r", "nodeCount": 1},
    });
    body[HOSTILE] = serde_json::json!(1);
    let status = if ready {
        http.post(format!("{base}/api/hyperfleet/v1/clusters"))
            .json(&body)
            .send()
            .await
            .map(|r| r.status().as_u16())
            .ok()
    } else {
        None
    };
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    for _ in 0..50 {
        if child.try_wait().ok().flatten().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(ready, "the server answered /readyz");
    assert_eq!(status, Some(400), "the hostile body is refused");
    std::fs::read(&log_path).expect("the log is read")
}

/// What every format must hold: the value is in the log, on the request's
/// own line, and no raw control but line ends (and the pretty format's own
/// colours) was written.
fn check_common(log: &[u8]) {
    let text = String::from_utf8_lossy(log);
    assert!(text.contains("FORGED"), "the value is logged:\n{text}");
    for line in text.lines() {
        assert!(
            !line.trim_start().starts_with("2026-01-01"),
            "a forged line:\n{text}"
        );
    }
    for (i, b) in log.iter().enumerate() {
        let raw_control = (*b < 0x20 && *b != b'\n' && *b != 0x1b) || *b == 0x7f;
        let raw_c1 = *b == 0xc2 && log.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n));
        assert!(
            !raw_control && !raw_c1,
            "raw control byte {b:#04x} at {i}:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pretty_log_escapes_control_characters() {
    let log = log_of_hostile_request("pretty").await;
    check_common(&log);
    let text = String::from_utf8_lossy(&log);
    let line = text
        .lines()
        .find(|l| l.contains("FORGED"))
        .expect("the request's line");
    assert!(line.contains("request completed"), "{line}");
    assert!(line.contains(r"a\n2026-01-01"), "{line}");
    assert!(!line.contains("\u{1b}[2J"), "no raw screen clear: {line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_log_escapes_control_characters_and_stays_json() {
    let log = log_of_hostile_request("json").await;
    check_common(&log);
    let text = String::from_utf8_lossy(&log);
    let mut found = false;
    for line in text.lines() {
        let value: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        let message = value["fields"]["message"].as_str().unwrap_or_default();
        // Read back, the value is what was sent, every character of it.
        found |= message.contains(HOSTILE);
    }
    assert!(
        found,
        "the hostile value, decoded, is in a message:\n{text}"
    );
}
