//! The subcommands of `hyperfleet`, one module per group: running the
//! control plane (`server`, `control_loop`), talking to it as a user
//! (`cluster`, `nodepool`, on the SDK through `api`, printing with
//! `output` and `statuses`, polling with `poll`), and shell completions.

pub mod api;
pub mod cluster;
pub mod completion;
pub mod control_loop;
pub mod nodepool;
pub mod output;
pub mod poll;
pub mod server;
pub mod statuses;

use std::time::Duration;

/// `500ms`, `2s`, `30m`, `1h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?}: expected a number and a unit, like 2s"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(number)),
        "s" => Ok(Duration::from_secs(number)),
        "m" => Ok(Duration::from_secs(number * 60)),
        "h" => Ok(Duration::from_secs(number * 3600)),
        _ => Err(format!("{text:?}: the unit must be ms, s, m or h")),
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => return ctrl_c.await.unwrap_or_default(),
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    ctrl_c.await.unwrap_or_default();
}
