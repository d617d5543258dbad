//! `cargo xtask bench sentinel`: what the sentinel costs the API and
//! itself at fleet scale, for two builds of `hyperfleet` (the polling
//! sentinel before the change feed, and this tree), and how long `dev`
//! takes a cluster to Ready with each.
//!
//! One run, which stops by itself and talks only to 127.0.0.1:
//! 1. builds the baseline (`--baseline-rev`, from `git archive` into
//!    `target/bench-sentinel/`, same target directory so dependencies are
//!    shared) and this tree, release, and keeps both binaries;
//! 2. for each `--clusters` size: a fresh PostgreSQL database, two `serve`
//!    processes on it (one for the load generator, one for the sentinel
//!    alone, logging every request), the fleet seeded through the API and
//!    made Ready with one `validation` report each;
//! 3. for each build: a `sentinel` (default pacing) on an exchange of its
//!    own; once it has published its start-up event for every cluster
//!    (a new leader re-checks everything), `--seconds` are measured while
//!    `--change-percent` of the fleet per minute is PATCHed (spread evenly)
//!    and, 2 s after each, reported Ready again at its new generation (the
//!    adapter's part); the table has the API requests the sentinel sent
//!    (counted in its server's log), the sentinel's CPU and its server's
//!    CPU, and the events published, each per minute;
//! 4. `dev` of each build: `--dev-clusters` clusters created one after the
//!    other, each timed from create to Ready (polled every 20 ms).
//!
//! Process logs go to `target/bench-sentinel/`. Not part of CI.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::Args;

use crate::local_services::{Database, free_port, load_average, published, wait_ready};
use crate::workspace_root;

/// Flags of `cargo xtask bench sentinel`.
#[derive(Args, Debug)]
pub struct SentinelBenchArgs {
    /// Fleet sizes (clusters) to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_values_t = [10_000u64, 100_000])]
    clusters: Vec<u64>,
    /// Share of the fleet changed per minute, in percent.
    #[arg(long, default_value_t = 1.0)]
    change_percent: f64,
    /// Measured seconds per sentinel.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// The git revision whose sentinel is the "before" (the polling one).
    #[arg(long, default_value = "b030012")]
    baseline_rev: String,
    /// Use this `hyperfleet` binary as the baseline instead of building
    /// `--baseline-rev`.
    #[arg(long)]
    baseline_binary: Option<PathBuf>,
    /// Clusters `dev` takes to Ready, one after the other, per build; 0
    /// skips `dev`.
    #[arg(long, default_value_t = 5)]
    dev_clusters: usize,
    /// The PostgreSQL server (its `postgres` database): the run creates and
    /// drops a database of its own there per size.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_url: String,
    /// The RabbitMQ broker; the run uses exchanges and queues of its own
    /// that expire after it.
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    broker: String,
}

pub fn run(args: SentinelBenchArgs) -> Result<()> {
    for url in [&args.postgres_url, &args.broker] {
        ensure!(
            url.contains("@127.0.0.1:") || url.contains("@localhost:"),
            "the benchmark only talks to this machine, not {url}"
        );
    }
    ensure!(
        args.change_percent > 0.0,
        "--change-percent must be above 0"
    );
    let root = workspace_root();
    let work = root.join("target/bench-sentinel");
    std::fs::create_dir_all(&work)?;
    let baseline = match &args.baseline_binary {
        Some(binary) => binary.clone(),
        None => build_baseline(&root, &work, &args.baseline_rev)?,
    };
    println!("== cargo build --release -p hyperfleet (this tree)");
    let status = Command::new("cargo")
        .args(["build", "--release", "-p", "hyperfleet"])
        .current_dir(&root)
        .status()?;
    ensure!(status.success(), "the build failed");
    let current = work.join("hyperfleet-current");
    std::fs::copy(root.join("target/release/hyperfleet"), &current)?;
    let builds = [
        (format!("before ({})", args.baseline_rev), baseline),
        ("after (this tree)".to_string(), current),
    ];

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut rows = Vec::new();
    for &clusters in &args.clusters {
        rows.extend(runtime.block_on(fleet(&args, clusters, &builds, &work))?);
    }
    let mut dev_rows = Vec::new();
    if args.dev_clusters > 0 {
        for (name, binary) in &builds {
            let times = runtime.block_on(dev(binary, &work, args.dev_clusters))?;
            dev_rows.push((name.clone(), times));
        }
    }

    println!();
    println!(
        "sentinel at default pacing (1 s poll, 10 s back-off, 30 min resync), {} % of the fleet changed per minute, {} s measured",
        args.change_percent, args.seconds
    );
    println!(
        "{:<22} {:>9} {:>13} {:>16} {:>16} {:>11} {:>8} {:>15}",
        "build",
        "clusters",
        "requests/min",
        "sentinel CPU/min",
        "its API CPU/min",
        "events/min",
        "RSS MB",
        "load avg"
    );
    for row in &rows {
        println!(
            "{:<22} {:>9} {:>13.0} {:>15.2}s {:>15.2}s {:>11.0} {:>8.1} {:>15}",
            row.build,
            row.clusters,
            row.requests,
            row.sentinel_cpu,
            row.api_cpu,
            row.events,
            row.rss_mb,
            row.load
        );
    }
    if !dev_rows.is_empty() {
        println!();
        println!("hyperfleet dev, create -> Ready, one cluster at a time");
        println!(
            "{:<22} {:>8} {:>8} {:>8}",
            "build", "min ms", "p50 ms", "max ms"
        );
        for (name, mut times) in dev_rows {
            times.sort_unstable();
            let median = times.get(times.len() / 2).copied().unwrap_or(0);
            println!(
                "{:<22} {:>8} {:>8} {:>8}",
                name,
                times.first().copied().unwrap_or(0),
                median,
                times.last().copied().unwrap_or(0)
            );
        }
    }
    println!("load average at the end: {}", load_average());
    Ok(())
}

/// `git archive REV` into `work`, built release into the workspace's own
/// target directory; returns a copy of the binary (the next build
/// overwrites `target/release/hyperfleet`).
fn build_baseline(root: &Path, work: &Path, rev: &str) -> Result<PathBuf> {
    let source = work.join(format!("baseline-{rev}"));
    if !source.join("Cargo.toml").exists() {
        std::fs::create_dir_all(&source)?;
        println!("== git archive {rev} -> {}", source.display());
        let archive = Command::new("git")
            .args(["archive", rev])
            .current_dir(root)
            .stdout(Stdio::piped())
            .spawn()
            .context("cannot run git archive")?;
        let stdout = archive.stdout.context("git archive has no stdout")?;
        let status = Command::new("tar")
            .args(["-x", "-C"])
            .arg(&source)
            .stdin(stdout)
            .status()
            .context("cannot run tar")?;
        ensure!(status.success(), "cannot unpack {rev}");
    }
    println!("== cargo build --release -p hyperfleet ({rev})");
    let status = Command::new("cargo")
        .args(["build", "--release", "-p", "hyperfleet"])
        .env("CARGO_TARGET_DIR", root.join("target"))
        .current_dir(&source)
        .status()?;
    ensure!(status.success(), "the build of {rev} failed");
    let binary = work.join(format!("hyperfleet-{rev}"));
    std::fs::copy(root.join("target/release/hyperfleet"), &binary)?;
    Ok(binary)
}

/// One measured sentinel.
struct Row {
    build: String,
    clusters: u64,
    /// Per minute.
    requests: f64,
    sentinel_cpu: f64,
    api_cpu: f64,
    events: f64,
    /// The sentinel's resident memory at the end, in MB.
    rss_mb: f64,
    load: String,
}

/// Seed a fleet of `clusters`, then measure each build's sentinel on it.
async fn fleet(
    args: &SentinelBenchArgs,
    clusters: u64,
    builds: &[(String, PathBuf)],
    work: &Path,
) -> Result<Vec<Row>> {
    let tag = format!("{}_{clusters}", std::process::id());
    println!("== {clusters} clusters (database hyperfleet_sentinel_{tag})");
    let database = Database::create(&args.postgres_url, &format!("hyperfleet_sentinel_{tag}"))?;
    let newest = &builds[builds.len() - 1].1;
    let mut processes = Processes::default();
    let log = |name: &str| work.join(format!("{tag}-{name}.log"));
    let status = Command::new(newest)
        .args(["migrate", "--database-url", &database.url])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .status()?;
    ensure!(status.success(), "migrate failed");
    let writer = free_port()?;
    let reader = free_port()?;
    for (name, port, level, statement_timeout) in [
        // Seeding a large fleet on a busy machine: let statements wait.
        ("api-load", writer, "warn", "30s"),
        ("api-sentinel", reader, "info", "5s"),
    ] {
        let listen = format!("127.0.0.1:{port}");
        processes.start(
            name,
            newest,
            &[
                "serve",
                "--listen",
                &listen,
                "--database-url",
                &database.url,
                "--cluster-adapters",
                "validation",
                "--nodepool-adapters",
                "validation",
                "--statement-timeout",
                statement_timeout,
            ],
            level,
            &log(name),
        )?;
    }
    let http = reqwest::Client::new();
    let load_api = format!("http://127.0.0.1:{writer}");
    let sentinel_api = format!("http://127.0.0.1:{reader}");
    wait_ready(&http, &load_api).await?;
    wait_ready(&http, &sentinel_api).await?;

    let seeding = Instant::now();
    let api = format!("{load_api}/api/hyperfleet/v1");
    let creates = (1..=clusters)
        .map(|i| {
            let body = serde_json::json!({
                "name": format!("bench-{i}"),
                "spec": {"provider": "gcp", "region": "us-east1", "nodeCount": 3},
                "labels": {"bench": "sentinel"},
            });
            (format!("{api}/clusters"), body.to_string())
        })
        .collect();
    send_all(reqwest::Method::POST, creates).await?;
    let reports = (1..=clusters)
        .map(|i| (format!("{api}/clusters/bench-{i}/statuses"), report_body(1)))
        .collect();
    send_all(reqwest::Method::PUT, reports).await?;
    println!(
        "   seeded {clusters} Ready clusters through the API in {:.0?}",
        seeding.elapsed()
    );

    let mut rows = Vec::new();
    let mut cursor = 0u64;
    for (k, (build, binary)) in builds.iter().enumerate() {
        let name = format!("sentinel-{k}");
        let exchange = format!("hyperfleet-bench-sentinel-{tag}-{k}");
        let metrics_port = free_port()?;
        let metrics_addr = format!("127.0.0.1:{metrics_port}");
        processes.start(
            &name,
            binary,
            &[
                "sentinel",
                "--api-url",
                &sentinel_api,
                "--broker",
                &args.broker,
                "--exchange",
                &exchange,
                "--queue-prefix",
                &exchange,
                "--queue-expires",
                "120",
                "--adapters",
                "bench",
                "--metrics-addr",
                &metrics_addr,
            ],
            "warn",
            &log(&name),
        )?;
        // Start-up: a new leader publishes for every cluster once.
        let deadline = Instant::now() + Duration::from_secs(120 + clusters / 100);
        loop {
            let published = published(&http, metrics_port).await.unwrap_or(0);
            if published >= clusters {
                break;
            }
            if Instant::now() > deadline {
                bail!("{build}: only {published} of {clusters} start-up events published");
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
        let pid = processes.pid(&name)?;
        let api_pid = processes.pid("api-sentinel")?;
        let before = Sample::take(pid, api_pid, &log("api-sentinel"), &http, metrics_port).await?;
        let window = Duration::from_secs(args.seconds);
        change(&api, clusters, args.change_percent, window, &mut cursor).await?;
        let after = Sample::take(pid, api_pid, &log("api-sentinel"), &http, metrics_port).await?;
        let minutes = after.at.duration_since(before.at).as_secs_f64() / 60.0;
        let row = Row {
            build: build.clone(),
            clusters,
            requests: (after.requests - before.requests) as f64 / minutes,
            sentinel_cpu: (after.cpu - before.cpu) / minutes,
            api_cpu: (after.api_cpu - before.api_cpu) / minutes,
            events: (after.published - before.published) as f64 / minutes,
            rss_mb: rss_mb(pid).unwrap_or(0.0),
            load: load_average(),
        };
        println!(
            "   {build}: {:.0} requests/min, sentinel {:.2} s CPU/min, its API {:.2} s CPU/min, {:.0} events/min",
            row.requests, row.sentinel_cpu, row.api_cpu, row.events
        );
        processes.kill(&name)?;
        rows.push(row);
    }
    drop(processes);
    drop(database);
    Ok(rows)
}

/// Counters at one moment.
struct Sample {
    at: Instant,
    cpu: f64,
    api_cpu: f64,
    /// Requests the sentinel's server has finished so far.
    requests: u64,
    published: u64,
}

impl Sample {
    async fn take(
        pid: u32,
        api_pid: u32,
        api_log: &Path,
        http: &reqwest::Client,
        metrics_port: u16,
    ) -> Result<Sample> {
        let log = std::fs::read_to_string(api_log)
            .with_context(|| format!("cannot read {}", api_log.display()))?;
        Ok(Sample {
            at: Instant::now(),
            cpu: cpu_seconds(pid).context("cannot read the sentinel's CPU time")?,
            api_cpu: cpu_seconds(api_pid).context("cannot read the API's CPU time")?,
            requests: log.matches("request completed").count() as u64,
            published: published(http, metrics_port).await.unwrap_or(0),
        })
    }
}

/// For `window`: PATCH `percent` of the fleet per minute, evenly spread,
/// each cluster reported Ready at its new generation 2 s later.
async fn change(
    api: &str,
    clusters: u64,
    percent: f64,
    window: Duration,
    cursor: &mut u64,
) -> Result<()> {
    let per_minute = (clusters as f64 * percent / 100.0).max(1.0);
    let gap = Duration::from_secs_f64(60.0 / per_minute);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let started = Instant::now();
    let mut reports = Vec::new();
    let mut n = 0u32;
    while started.elapsed() < window {
        let i = 1 + *cursor % clusters;
        *cursor += 1;
        let url = format!("{api}/clusters/bench-{i}");
        let body = serde_json::json!({"spec": {"nodeCount": 3 + (*cursor % 5) + 1}});
        let cluster: serde_json::Value = http
            .patch(&url)
            .json(&body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let generation = cluster["generation"].as_i64().context("a generation")?;
        let http = http.clone();
        reports.push(tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            http.put(format!("{url}/statuses"))
                .header("content-type", "application/json")
                .body(report_body(generation))
                .send()
                .await?
                .error_for_status()?;
            anyhow::Ok(())
        }));
        n += 1;
        let next = started + gap * n;
        tokio::time::sleep_until(next.into()).await;
    }
    for report in reports {
        report.await??;
    }
    Ok(())
}

/// A `validation` report: done, at `generation`.
fn report_body(generation: i64) -> String {
    serde_json::json!({
        "adapter": "validation",
        "observed_generation": generation,
        "conditions": [
            {"type": "Applied", "status": "True", "reason": "Bench", "message": "applied"},
            {"type": "Available", "status": "True", "reason": "Bench", "message": "done"},
            {"type": "Health", "status": "True", "reason": "Bench", "message": "healthy"},
        ],
    })
    .to_string()
}

/// `hyperfleet dev` of `binary` on a fresh SQLite file: create -> Ready
/// of `count` clusters, one after the other, in ms.
async fn dev(binary: &Path, work: &Path, count: usize) -> Result<Vec<u64>> {
    let port = free_port()?;
    let name = binary
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let file = work.join(format!("{}-dev-{name}.db", std::process::id()));
    let _ = std::fs::remove_file(&file);
    let database_url = format!("sqlite://{}", file.display());
    let listen = format!("127.0.0.1:{port}");
    let mut processes = Processes::default();
    processes.start(
        "dev",
        binary,
        &["dev", "--listen", &listen, "--database-url", &database_url],
        "warn",
        &work.join(format!("{}-dev-{name}.log", std::process::id())),
    )?;
    let http = reqwest::Client::new();
    let base = format!("http://{listen}");
    wait_ready(&http, &base).await?;
    let mut times = Vec::new();
    for i in 0..count {
        let cluster = format!("dev-{i}");
        let body = serde_json::json!({
            "name": cluster,
            "spec": {"provider": "gcp", "region": "us-east1", "nodeCount": 3},
        });
        let started = Instant::now();
        http.post(format!("{base}/api/hyperfleet/v1/clusters"))
            .json(&body)
            .send()
            .await?
            .error_for_status()?;
        let deadline = started + Duration::from_secs(120);
        loop {
            let seen: serde_json::Value = http
                .get(format!("{base}/api/hyperfleet/v1/clusters/{cluster}"))
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            if seen["status"]["phase"] == "Ready" {
                times.push(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
                break;
            }
            ensure!(
                Instant::now() < deadline,
                "{cluster} not Ready within 120 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    drop(processes);
    let _ = std::fs::remove_file(&file);
    Ok(times)
}

/// Send every `(url, body)` with `method` at 32 connections; each must
/// succeed.
async fn send_all(method: reqwest::Method, requests: Vec<(String, String)>) -> Result<()> {
    let requests = Arc::new(requests);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (requests, next) = (Arc::clone(&requests), Arc::clone(&next));
        let method = method.clone();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .timeout(Duration::from_secs(30))
                .build()?;
            loop {
                let index = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some((url, body)) = requests.get(index) else {
                    return anyhow::Ok(());
                };
                // A busy server may stop a statement at its timeout (503,
                // rolled back): send it again; a 409 on a repeat means the
                // earlier try was stored after all.
                let mut tries = 0;
                loop {
                    tries += 1;
                    let response = client
                        .request(method.clone(), url)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await?;
                    let status = response.status();
                    let text = response.text().await?;
                    if status.is_success() || (tries > 1 && status.as_u16() == 409) {
                        break;
                    }
                    if status.as_u16() == 503 && tries < 10 {
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                    bail!("{method} {url}: {status} {text}");
                }
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// User plus system CPU seconds of `pid`, from `/proc/PID/stat` (fields
/// 14 and 15, in 1/100 s; the name in field 2 may hold spaces).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// Resident memory of `pid` in MB (`VmRSS` of `/proc/PID/status`).
fn rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// The child processes of a run, killed on drop.
#[derive(Default)]
struct Processes {
    children: Vec<(String, Child)>,
}

impl Processes {
    fn start(
        &mut self,
        name: &str,
        binary: &Path,
        args: &[&str],
        level: &str,
        log: &Path,
    ) -> Result<()> {
        let file = std::fs::File::create(log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let child = Command::new(binary)
            .args(args)
            .env("RUST_LOG", level)
            .env_remove("HYPERFLEET_TOKEN")
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        self.children.push((name.to_string(), child));
        Ok(())
    }

    fn pid(&self, name: &str) -> Result<u32> {
        self.children
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, child)| child.id())
            .with_context(|| format!("no process {name}"))
    }

    fn kill(&mut self, name: &str) -> Result<()> {
        let index = self
            .children
            .iter()
            .position(|(n, _)| n == name)
            .with_context(|| format!("no process {name}"))?;
        let (_, mut child) = self.children.remove(index);
        child.kill()?;
        child.wait()?;
        Ok(())
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
