//! What the process benches (`bench replicas`, `bench sentinel`) start and
//! ask on 127.0.0.1: a PostgreSQL database of their own, free ports, a
//! server's readiness, a process's `/metrics`, and the machine's load.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

/// A database of the run's own, dropped (with its connections) on drop.
pub struct Database {
    admin_url: String,
    name: String,
    pub url: String,
}

impl Database {
    pub fn create(admin_url: &str, name: &str) -> Result<Self> {
        let (server, _) = admin_url
            .rsplit_once('/')
            .context("--postgres-url must end in /DATABASE")?;
        psql(admin_url, &format!("CREATE DATABASE {name}"))?;
        Ok(Database {
            admin_url: admin_url.to_string(),
            name: name.to_string(),
            url: format!("{server}/{name}"),
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(error) = psql(&self.admin_url, &sql) {
            eprintln!("warning: {error:#}");
        }
    }
}

fn psql(url: &str, sql: &str) -> Result<()> {
    let status = Command::new("psql")
        .args([url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGCONNECT_TIMEOUT", "10")
        .stdout(Stdio::null())
        .status()
        .context("cannot run psql")?;
    ensure!(status.success(), "psql failed on: {sql}");
    Ok(())
}

pub async fn metrics(http: &reqwest::Client, port: u16) -> Option<String> {
    let url = format!("http://127.0.0.1:{port}/metrics");
    http.get(url).send().await.ok()?.text().await.ok()
}

pub fn sample(text: &str, name: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

pub async fn wait_ready(http: &reqwest::Client, base: &str) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(response) = http.get(format!("{base}/readyz")).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("{base} was not ready within 60 s")
}

pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// The 1, 5 and 15 minute load averages: on a shared 2-core machine, other
/// work skews every number, so each scenario prints what it ran beside.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".into())
}

pub async fn published(http: &reqwest::Client, port: u16) -> Option<u64> {
    sample(
        &metrics(http, port).await?,
        "hyperfleet_sentinel_events_published_total",
    )
}
