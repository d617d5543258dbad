//! `cargo xtask bench`: the fleet-scale benchmark of the list filters.
//!
//! One run, which stops by itself and talks only to 127.0.0.1:
//! 1. builds the release server, creates a fresh PostgreSQL database and
//!    starts `hyperfleet serve` on it (one required adapter, `validation`);
//! 2. seeds the fleet of issue 14 **through the API** (clusters, node pools,
//!    then the reports that set their phases), with no `ANALYZE`: autovacuum
//!    as the machine has it (off here), so the planner has no statistics;
//! 3. for each scenario (GET by name, J3, a one-label list, the unfiltered
//!    page, the sentinel's `Pending,Not Ready` page, node pools across and
//!    within clusters) and each `--clients` count, runs a keep-alive load
//!    generator for `--seconds`, then pgbench with the same SQL statements
//!    the server issues for that request (prepared, bound parameters, same
//!    client count); prints p50/p99/req/s of both as a "cold statistics"
//!    table, then runs `ANALYZE` and prints the same as an "analyzed" table,
//!    each with the targets of issue 14 met or missed;
//! 4. fairness: GET and adapters' reports alone, then beside 32 clients on
//!    the one-label list;
//! 5. stops the server and drops the database, also on failure; then the
//!    same list scenarios on SQLite (`--sqlite-clusters`, API only).
//!
//! The pure parts (percentiles, URL checks, pgbench output parsing, the
//! fleet's shares) are unit tested; the run itself is not part of CI
//! (`--smoke` is a small, one-second-per-run version of it).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::Args;

use crate::local_services::load_average;
use crate::workspace_root;

/// Flags of `cargo xtask bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Clusters to seed on PostgreSQL (through the API).
    #[arg(long, default_value_t = 100_000)]
    clusters: u64,
    /// Clusters that get ten node pools each (PostgreSQL).
    #[arg(long, default_value_t = 10_000)]
    pool_clusters: u64,
    /// Clusters to seed on SQLite (a tenth of them with ten node pools);
    /// 0 skips SQLite.
    #[arg(long, default_value_t = 10_000)]
    sqlite_clusters: u64,
    /// Skip PostgreSQL (SQLite only).
    #[arg(long)]
    no_postgres: bool,
    /// Skip the fairness scenario.
    #[arg(long)]
    no_fairness: bool,
    /// Measured seconds per run (API and pgbench each).
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Concurrent clients of each run (API load generator and pgbench); the
    /// targets are read at 10.
    #[arg(long, value_delimiter = ',', default_values_t = [10, 32])]
    clients: Vec<usize>,
    /// The database to create, seed and drop; it must not exist yet, and
    /// must be on this machine. Parameters after `?` (`sslmode=disable`)
    /// apply to the server, pgbench and psql alike. Default: a fresh
    /// `hyperfleet_bench_*` on postgres://postgres@127.0.0.1:5432.
    #[arg(long)]
    database_url: Option<String>,
    /// Seed through the API and stop, keeping the PostgreSQL database (no
    /// ANALYZE; a `--template` for later runs) and the SQLite file
    /// (target/bench/sqlite/bench.db), to look into with psql or sqlite3.
    #[arg(long, conflicts_with = "template")]
    seed_only: bool,
    /// Copy this already seeded database (same `--clusters` and
    /// `--pool-clusters`) instead of seeding through the API: for trying
    /// changes quickly. A recorded run seeds.
    #[arg(long)]
    template: Option<String>,
    /// `--database-pool-size` of the server under test (default: the
    /// server's own default).
    #[arg(long)]
    server_pool_size: Option<u32>,
    /// `RUST_LOG` of the server under test (`info` logs every request).
    #[arg(long, default_value = "warn")]
    server_log: String,
    /// A quick run: 300 clusters (20 with node pools), 1 second, no warm-up.
    #[arg(long)]
    smoke: bool,
    /// Run only these scenarios (comma-separated: get, j3, one-label,
    /// unfiltered, sentinel, pools-one-label, pools-of-one); default all.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

/// What one run measures, after `--smoke` is applied.
#[derive(Clone, Debug)]
struct Plan {
    clusters: u64,
    pool_clusters: u64,
    sqlite_clusters: u64,
    postgres: bool,
    fairness: bool,
    measure: Duration,
    warm_up: Duration,
    clients: Vec<usize>,
}

impl BenchArgs {
    fn plan(&self) -> Plan {
        let mut plan = Plan {
            clusters: self.clusters,
            pool_clusters: self.pool_clusters,
            sqlite_clusters: self.sqlite_clusters,
            postgres: !self.no_postgres,
            fairness: !self.no_fairness,
            measure: Duration::from_secs(self.seconds),
            warm_up: Duration::from_secs(1),
            clients: self.clients.clone(),
        };
        if self.smoke {
            plan.clusters = 300;
            plan.pool_clusters = 20;
            plan.sqlite_clusters = plan.sqlite_clusters.min(300);
            plan.measure = Duration::from_secs(1);
            plan.warm_up = Duration::ZERO;
        }
        plan
    }
}

/// The issue 14 targets, p99 in ms at 10 clients on PostgreSQL, by
/// scenario name; SQLite's lists have one target of their own.
const PG_TARGETS: &[(&str, f64)] = &[
    ("get", 5.0),
    ("j3", 25.0),
    ("one-label", 60.0),
    ("unfiltered", 15.0),
    ("sentinel", 15.0),
];
const SQLITE_LIST_TARGET_MS: f64 = 20.0;

pub fn run(args: BenchArgs) -> Result<()> {
    // `cargo xtask` builds xtask unoptimized, and an unoptimized load
    // generator (reqwest, hyper, tokio) measures itself, not the server:
    // run the same command again from a release build.
    if cfg!(debug_assertions) {
        step("cargo run --release -p xtask -- bench (an optimized load generator)");
        let status = Command::new("cargo")
            .args(["run", "--quiet", "--release", "-p", "xtask", "--"])
            .args(std::env::args_os().skip(1))
            .current_dir(workspace_root())
            .status()?;
        ensure!(status.success(), "the benchmark failed");
        return Ok(());
    }
    let plan = args.plan();
    ensure!(plan.clusters >= 1, "--clusters must be at least 1");
    ensure!(
        !plan.clients.is_empty() && plan.clients.iter().all(|&c| c >= 1),
        "--clients must list counts of at least 1"
    );
    ensure!(!plan.measure.is_zero(), "--seconds must be at least 1");
    let database_url = match &args.database_url {
        Some(url) => url.clone(),
        None => format!(
            "postgres://postgres@127.0.0.1:5432/hyperfleet_bench_{}",
            std::process::id()
        ),
    };
    let target = DatabaseTarget::parse(&database_url)?;

    let root = workspace_root();
    step("cargo build --release -p hyperfleet");
    let status = Command::new("cargo")
        .args(["build", "--release", "-p", "hyperfleet"])
        .current_dir(&root)
        .status()?;
    ensure!(status.success(), "the release build failed");
    let binary = root.join("target/release/hyperfleet");
    let work_dir = root.join("target/bench");
    std::fs::create_dir_all(&work_dir)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;

    if plan.postgres {
        let database = match &args.template {
            Some(template) => {
                ensure!(
                    DatabaseTarget::plain_name(template),
                    "--template {template:?} must be 1-63 of a-z, 0-9 and _"
                );
                step(&format!(
                    "create database {} as a copy of {template} (not seeded)",
                    target.name
                ));
                Database::create(target, Some(template), args.seed_only)?
            }
            None => {
                step(&format!("create database {}", target.name));
                Database::create(target, None, args.seed_only)?
            }
        };
        let port = free_port()?;
        step(&format!(
            "hyperfleet serve on 127.0.0.1:{port} (PostgreSQL)"
        ));
        let server = Server::start(
            &binary,
            port,
            &database.target.url,
            args.server_pool_size,
            &args.server_log,
            &work_dir,
        )?;
        runtime.block_on(server.wait_ready())?;
        let fleet = Fleet::new(plan.clusters, plan.pool_clusters);
        if args.template.is_none() {
            step(&format!(
                "seed {} clusters and {} node pools through the API (no ANALYZE)",
                fleet.clusters,
                fleet.pools()
            ));
            let started = Instant::now();
            let seeded = runtime.block_on(seed(&server.base_url, &fleet))?;
            println!(
                "seeded in {:.1} s ({seeded} requests, {:.0}/s)",
                started.elapsed().as_secs_f64(),
                seeded as f64 / started.elapsed().as_secs_f64()
            );
        }
        if !args.seed_only {
            measure_postgres(
                &runtime, &server, &database, &fleet, &plan, &args.only, &work_dir,
            )?;
        }
        server.stop()?;
        drop(database);
    }

    if plan.sqlite_clusters > 0 {
        let dir = work_dir.join("sqlite");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        let url = format!("sqlite://{}", dir.join("bench.db").display());
        let port = free_port()?;
        step(&format!("hyperfleet serve on 127.0.0.1:{port} (SQLite)"));
        let server = Server::start(&binary, port, &url, None, &args.server_log, &work_dir)?;
        runtime.block_on(server.wait_ready())?;
        let fleet = Fleet::new(plan.sqlite_clusters, plan.sqlite_clusters / 10);
        step(&format!(
            "seed {} clusters and {} node pools through the API",
            fleet.clusters,
            fleet.pools()
        ));
        let started = Instant::now();
        runtime.block_on(seed(&server.base_url, &fleet))?;
        println!("seeded in {:.1} s", started.elapsed().as_secs_f64());
        if args.seed_only {
            server.stop()?;
            println!("kept {}", dir.join("bench.db").display());
            return Ok(());
        }
        let mut rows = Vec::new();
        for scenario in filtered(scenarios(&fleet), &args.only)? {
            let clients = plan.clients[0];
            step(&format!(
                "API (SQLite): {} at {clients} clients",
                scenario.title
            ));
            let api = runtime.block_on(load(&server.base_url, &scenario, &plan, clients))?;
            println!("{}", api.summary());
            rows.push(Row {
                name: scenario.name,
                title: scenario.title,
                clients,
                api,
                pgbench: None,
            });
        }
        server.stop()?;
        println!();
        println!(
            "SQLite: {} clusters, {} node pools, {} s per run",
            fleet.clusters,
            fleet.pools(),
            plan.measure.as_secs()
        );
        print!("{}", table(&rows));
        let lists: Vec<(&str, f64)> = rows
            .iter()
            .filter(|row| row.name != "get")
            .map(|row| (row.name, SQLITE_LIST_TARGET_MS))
            .collect();
        print!("{}", verdicts(&rows, &lists));
        let _ = std::fs::remove_dir_all(&dir);
    }
    drop(runtime);
    Ok(())
}

/// The cold and analyzed tables of every scenario on the seeded fleet, then
/// fairness.
fn measure_postgres(
    runtime: &tokio::runtime::Runtime,
    server: &Server,
    database: &Database,
    fleet: &Fleet,
    plan: &Plan,
    only: &[String],
    work_dir: &Path,
) -> Result<()> {
    let scenarios = filtered(scenarios(fleet), only)?;
    for statistics in ["cold statistics", "analyzed"] {
        if statistics == "analyzed" {
            step("ANALYZE");
            database.psql("ANALYZE")?;
        }
        let mut rows = Vec::new();
        for scenario in &scenarios {
            for &clients in &plan.clients {
                rows.push(measure(
                    runtime, server, database, scenario, plan, clients, work_dir,
                )?);
            }
        }
        println!();
        println!(
            "PostgreSQL, {statistics}: {} clusters, {} node pools, {} s per run",
            fleet.clusters,
            fleet.pools(),
            plan.measure.as_secs()
        );
        print!("{}", table(&rows));
        print!("{}", verdicts(&rows, PG_TARGETS));
    }
    if plan.fairness {
        print!(
            "{}",
            runtime.block_on(fairness(&server.base_url, fleet, plan))?
        );
    }
    Ok(())
}

fn filtered(mut scenarios: Vec<Scenario>, only: &[String]) -> Result<Vec<Scenario>> {
    if !only.is_empty() {
        scenarios.retain(|s| only.iter().any(|name| name == s.name));
        ensure!(!scenarios.is_empty(), "--only names no scenario");
    }
    Ok(scenarios)
}

/// One API run and one pgbench run of `scenario` at `clients`.
fn measure(
    runtime: &tokio::runtime::Runtime,
    server: &Server,
    database: &Database,
    scenario: &Scenario,
    plan: &Plan,
    clients: usize,
    work_dir: &Path,
) -> Result<Row> {
    println!("load average: {}", load_average());
    step(&format!("API: {} at {clients} clients", scenario.title));
    let cpu_before = server.cpu_seconds();
    let own_before = cpu_seconds("self");
    let api = runtime.block_on(load(&server.base_url, scenario, plan, clients))?;
    let cpu_after = server.cpu_seconds();
    let own_after = cpu_seconds("self");
    println!("{}", api.summary());
    // The load generator shares the machine's cores with the server and
    // the database: what it takes is what they do not get.
    let per_request = |before: Option<f64>, after: Option<f64>| {
        before
            .zip(after)
            .map(|(before, after)| (after - before) * 1e6 / api.requests.max(1) as f64)
    };
    if let (Some(server), Some(own)) = (
        per_request(cpu_before, cpu_after),
        per_request(own_before, own_after),
    ) {
        println!("CPU per request: server {server:.0} us, load generator {own:.0} us");
    }
    step(&format!("pgbench: {} at {clients} clients", scenario.title));
    let pgbench = pgbench(database, scenario, plan, clients, work_dir)?;
    println!("{}", pgbench.summary());
    Ok(Row {
        name: scenario.name,
        title: scenario.title,
        clients,
        api,
        pgbench: Some(pgbench),
    })
}

/// One line of a results table.
struct Row {
    name: &'static str,
    title: &'static str,
    clients: usize,
    api: Measured,
    pgbench: Option<Measured>,
}

fn step(what: &str) {
    println!("==> {what}");
}

/// A PostgreSQL database on this machine, named by URL.
#[derive(Clone, Debug, PartialEq, Eq)]
struct DatabaseTarget {
    /// The URL of the database itself.
    url: String,
    /// The same server's `postgres` database, to create and drop it from.
    admin_url: String,
    name: String,
}

impl DatabaseTarget {
    /// A name safe to use unquoted in SQL.
    fn plain_name(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= 63
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    }

    /// Accept only `postgres://[user@]127.0.0.1|localhost|[::1][:port]/name`
    /// with a plain database name: the run may send traffic nowhere else,
    /// and the name goes into `CREATE DATABASE` unquoted.
    fn parse(url: &str) -> Result<Self> {
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
            .context("--database-url must start with postgres://")?;
        let (authority, path) = rest
            .split_once('/')
            .context("--database-url must name a database (…/NAME)")?;
        // Connection parameters (`?sslmode=disable`) apply to every client.
        let (name, params) = path.split_once('?').map_or((path, ""), |(n, p)| (n, p));
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let host = if let Some(v6) = host_port.strip_prefix('[') {
            v6.split_once(']').map_or(v6, |(h, _)| h)
        } else {
            host_port.split_once(':').map_or(host_port, |(h, _)| h)
        };
        ensure!(
            matches!(host, "127.0.0.1" | "localhost" | "::1"),
            "the benchmark only talks to this machine; {host:?} is not 127.0.0.1"
        );
        ensure!(
            Self::plain_name(name) && name != "postgres",
            "the database name {name:?} must be 1-63 of a-z, 0-9 and _ (and not postgres)"
        );
        let base = &url[..url.len() - path.len()];
        let params = if params.is_empty() {
            String::new()
        } else {
            format!("?{params}")
        };
        Ok(Self {
            url: url.to_string(),
            admin_url: format!("{base}postgres{params}"),
            name: name.to_string(),
        })
    }
}

/// The benchmark's database; dropped (with its connections) on drop
/// unless kept.
struct Database {
    target: DatabaseTarget,
    keep: bool,
}

impl Database {
    fn create(target: DatabaseTarget, template: Option<&str>, keep: bool) -> Result<Self> {
        let sql = match template {
            Some(template) => format!("CREATE DATABASE {} TEMPLATE {template}", target.name),
            None => format!("CREATE DATABASE {}", target.name),
        };
        psql(&target.admin_url, &sql)
            .with_context(|| format!("cannot create database {}", target.name))?;
        Ok(Self { target, keep })
    }

    fn psql(&self, sql: &str) -> Result<()> {
        psql(&self.target.url, sql)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if self.keep {
            step(&format!("keep database {}", self.target.name));
            return;
        }
        step(&format!("drop database {}", self.target.name));
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.target.name);
        if let Err(error) = psql(&self.target.admin_url, &sql) {
            eprintln!("warning: {error:#}");
        }
    }
}

/// Run `sql` with psql, statement by statement (through standard input: a
/// `-c` string would be one implicit transaction, where VACUUM may not run).
fn psql(url: &str, sql: &str) -> Result<()> {
    let mut child = Command::new("psql")
        .args([url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-"])
        .env("PGCONNECT_TIMEOUT", "10")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .context("cannot run psql")?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(sql.as_bytes())?;
        stdin.write_all(b"\n")?;
    }
    let status = child.wait()?;
    ensure!(status.success(), "psql failed on: {}", first_line(sql));
    Ok(())
}

fn first_line(text: &str) -> &str {
    text.trim().lines().next().unwrap_or_default()
}

/// The fleet of issue 14, seeded through the API. Cluster `i` (from 1):
/// - name `bench-i`; provider one of 3 (`i % 3`), region one of 4;
/// - `environment` one of 5, `production` for 7 in 25 (28 %), `team` one of 7;
/// - phase from a hash of `i`: Ready 60 %, Not Ready 20 %, Pending 20 %
///   (one required adapter, `validation`: a complete report makes Ready, a
///   running one Not Ready, none Pending).
///
/// The first `pool_clusters` clusters have ten node pools each, labelled
/// and phased the same way by their global index.
struct Fleet {
    clusters: u64,
    pool_clusters: u64,
}

const POOLS_PER_CLUSTER: u64 = 10;
const PROVIDERS: [&str; 3] = ["gcp", "aws", "azure"];
const REGIONS: [&str; 4] = ["us-east1", "us-west1", "europe-west1", "asia-east1"];
const TEAMS: [&str; 7] = [
    "platform", "data", "ml", "web", "payments", "search", "infra",
];
const OTHER_ENVIRONMENTS: [&str; 4] = ["staging", "development", "qa", "sandbox"];

/// What a seeded resource's one adapter reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seeded {
    Ready,
    NotReady,
    Pending,
}

impl Fleet {
    fn new(clusters: u64, pool_clusters: u64) -> Self {
        Self {
            clusters,
            pool_clusters: pool_clusters.min(clusters),
        }
    }

    fn pools(&self) -> u64 {
        self.pool_clusters * POOLS_PER_CLUSTER
    }

    fn environment(i: u64) -> &'static str {
        match i % 25 {
            bucket @ 7.. => OTHER_ENVIRONMENTS[((bucket - 7) % 4) as usize],
            _ => "production",
        }
    }

    fn phase(i: u64) -> Seeded {
        // A multiplicative hash, so the phase does not follow the label
        // moduli and every combination occurs.
        match (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32) % 5 {
            0..=2 => Seeded::Ready,
            3 => Seeded::NotReady,
            _ => Seeded::Pending,
        }
    }

    fn cluster_body(i: u64) -> String {
        serde_json::json!({
            "name": format!("bench-{i}"),
            "spec": {
                "provider": PROVIDERS[(i % 3) as usize],
                "region": REGIONS[((i / 3) % 4) as usize],
                "nodeCount": 3,
            },
            "labels": { "environment": Self::environment(i), "team": TEAMS[(i % 7) as usize] },
        })
        .to_string()
    }

    fn pool_body(k: u64) -> String {
        serde_json::json!({
            "name": format!("pool-{}", k % POOLS_PER_CLUSTER),
            "spec": { "nodeCount": 3, "machineType": "n2-standard-4" },
            "labels": { "environment": Self::environment(k), "team": TEAMS[(k % 7) as usize] },
        })
        .to_string()
    }
}

/// The report that gives a seeded resource its phase, if any.
fn report_body(phase: Seeded) -> Option<String> {
    let available = match phase {
        Seeded::Ready => "True",
        Seeded::NotReady => "False",
        Seeded::Pending => return None,
    };
    Some(
        serde_json::json!({
            "adapter": "validation",
            "observed_generation": 1,
            "conditions": [
                {"type": "Applied", "status": "True", "reason": "Seed", "message": "applied"},
                {"type": "Available", "status": available, "reason": "Seed", "message": "seeded"},
                {"type": "Health", "status": "True", "reason": "Seed", "message": "healthy"},
            ],
        })
        .to_string(),
    )
}

/// Seed `fleet` through the API at 32 connections: clusters, then node
/// pools, then the reports that set their phases. Returns the number of
/// requests; any failure stops the run.
async fn seed(base_url: &str, fleet: &Fleet) -> Result<u64> {
    let api = format!("{base_url}/api/hyperfleet/v1");
    let clusters: Vec<(String, String)> = (1..=fleet.clusters)
        .map(|i| (format!("{api}/clusters"), Fleet::cluster_body(i)))
        .collect();
    let pools: Vec<(String, String)> = (0..fleet.pools())
        .map(|k| {
            let cluster = 1 + k / POOLS_PER_CLUSTER;
            (
                format!("{api}/clusters/bench-{cluster}/nodepools"),
                Fleet::pool_body(k),
            )
        })
        .collect();
    let reports: Vec<(String, String)> = (1..=fleet.clusters)
        .filter_map(|i| {
            let body = report_body(Fleet::phase(i))?;
            Some((format!("{api}/clusters/bench-{i}/statuses"), body))
        })
        .chain((0..fleet.pools()).filter_map(|k| {
            let body = report_body(Fleet::phase(k))?;
            let cluster = 1 + k / POOLS_PER_CLUSTER;
            let pool = k % POOLS_PER_CLUSTER;
            Some((
                format!("{api}/clusters/bench-{cluster}/nodepools/pool-{pool}/statuses"),
                body,
            ))
        }))
        .collect();
    let mut sent = 0;
    sent += send_all(reqwest::Method::POST, clusters).await?;
    sent += send_all(reqwest::Method::POST, pools).await?;
    // A report replaces the adapter's previous one: PUT.
    sent += send_all(reqwest::Method::PUT, reports).await?;
    Ok(sent)
}

/// Send every `(url, body)` with `method` at 32 connections; each must
/// succeed.
async fn send_all(method: reqwest::Method, requests: Vec<(String, String)>) -> Result<u64> {
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
                let response = client
                    .request(method.clone(), url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await?;
                let status = response.status();
                let text = response.text().await?;
                ensure!(status.is_success(), "{method} {url}: {status} {text}");
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(requests.len() as u64)
}

/// One measured operation, for the API and for pgbench.
struct Scenario {
    /// Short name for `--only` and the targets.
    name: &'static str,
    title: &'static str,
    kind: ScenarioKind,
    /// The pgbench script: the statements the server runs for one request.
    pgbench_script: String,
    /// `-D NAME=VALUE` variables of the script (bound as parameters, as the
    /// server binds its values).
    pgbench_vars: Vec<(&'static str, String)>,
}

#[derive(Clone, Copy)]
enum ScenarioKind {
    /// GET one random cluster by name.
    Get { clusters: u64 },
    /// GET this path and query under the base path.
    List { path: &'static str },
    /// A `validation` report on a random cluster (the control loop).
    Report { clusters: u64 },
}

/// The columns of a cluster row, as the server selects them.
const COLUMNS: &str = r#""clusters"."id", "clusters"."name", "clusters"."generation", "clusters"."provider", "clusters"."region", "clusters"."node_count", "clusters"."labels", "clusters"."phase", "clusters"."phase_message", "clusters"."phase_changed_at", "clusters"."created_at", "clusters"."updated_at", "clusters"."conditions", "clusters"."resource_version""#;
/// The columns of a node-pool row, as the server selects them.
const POOL_COLUMNS: &str = r#""nodepools"."id", "nodepools"."cluster_id", "nodepools"."name", "nodepools"."generation", "nodepools"."node_count", "nodepools"."machine_type", "nodepools"."labels", "nodepools"."phase", "nodepools"."phase_message", "nodepools"."phase_changed_at", "nodepools"."created_at", "nodepools"."updated_at", "nodepools"."conditions", "nodepools"."resource_version""#;

const J3: &str = "clusters?labels=environment:production,team:platform&phase=Ready\
                  &provider=gcp&region=us-east1&size=10";
const ONE_LABEL: &str = "clusters?labels=environment:production&size=10";
const UNFILTERED: &str = "clusters?size=10";
const SENTINEL: &str = "clusters?phase=Pending,Not%20Ready&size=10";
const POOLS_ONE_LABEL: &str = "nodepools?labels=environment:production&size=10";
const POOLS_OF_ONE: &str = "clusters/bench-7/nodepools?labels=environment:production&size=10";

fn scenarios(fleet: &Fleet) -> Vec<Scenario> {
    let contains = |table: &str| format!(r#""{table}"."search" @> (CAST(:terms AS text[]))"#);
    // Among many matches the server walks the list order, the terms
    // written so the search index cannot serve them (`page::Kept`).
    let walked = |table: &str| {
        format!(r#"(("{table}"."search" || '{{}}'::text[])) @> (CAST(:terms AS text[]))"#)
    };
    let overlap = r#"(("clusters"."search" || '{}'::text[])) && (CAST(:any AS text[]))"#;
    // One cluster's pools: the terms checked on its rows, off the index
    // (`filter::Search::OnRows`).
    let on_rows = r#"(("nodepools"."search" || '{}'::text[])) @> (CAST(:terms AS text[]))"#;
    let of_bench_7 =
        r#""nodepools"."cluster_id" = (SELECT id FROM clusters WHERE name = 'bench-7')"#;
    let clusters = fleet.clusters;
    let mut all = vec![
        Scenario {
            name: "get",
            title: "GET /clusters/{name}",
            kind: ScenarioKind::Get { clusters },
            pgbench_script: format!(
                "\\set i random(1, {clusters})\n\
                 SELECT {COLUMNS} FROM \"clusters\" WHERE \"clusters\".\"name\" = \
                 'bench-' || :i LIMIT :one;\n"
            ),
            pgbench_vars: vec![("one", "1".into())],
        },
        Scenario {
            name: "j3",
            title: "J3 labels=environment:production,team:platform&phase=Ready&provider=gcp&region=us-east1",
            kind: ScenarioKind::List { path: J3 },
            pgbench_script: list_with_ids_script("clusters", COLUMNS, &contains("clusters")),
            pgbench_vars: vec![(
                "terms",
                r#"{"label:environment=production|phase:Ready|provider:gcp|region:us-east1","label:team=platform|phase:Ready|provider:gcp|region:us-east1"}"#
                    .into(),
            )],
        },
        Scenario {
            name: "one-label",
            title: "labels=environment:production (28 %)",
            kind: ScenarioKind::List { path: ONE_LABEL },
            pgbench_script: list_script(
                "clusters",
                COLUMNS,
                &walked("clusters"),
                ScriptTotal::Kept("Cluster", ":terms"),
            ),
            pgbench_vars: vec![("terms", r#"{"label:environment=production"}"#.into())],
        },
        Scenario {
            name: "unfiltered",
            title: "unfiltered page",
            kind: ScenarioKind::List { path: UNFILTERED },
            pgbench_script: list_script(
                "clusters",
                COLUMNS,
                "TRUE",
                ScriptTotal::Kept("Cluster", ":every"),
            ),
            pgbench_vars: vec![("every", "{*}".into())],
        },
        Scenario {
            name: "sentinel",
            title: "sentinel phase=Pending,Not Ready",
            kind: ScenarioKind::List { path: SENTINEL },
            pgbench_script: list_script(
                "clusters",
                COLUMNS,
                overlap,
                ScriptTotal::Kept("Cluster", ":any"),
            ),
            pgbench_vars: vec![("any", r#"{"phase:Pending","phase:Not Ready"}"#.into())],
        },
    ];
    if fleet.pools() > 0 {
        all.push(Scenario {
            name: "pools-one-label",
            title: "/nodepools?labels=environment:production",
            kind: ScenarioKind::List {
                path: POOLS_ONE_LABEL,
            },
            pgbench_script: list_script(
                "nodepools",
                POOL_COLUMNS,
                &walked("nodepools"),
                ScriptTotal::Kept("NodePool", ":terms"),
            ),
            pgbench_vars: vec![("terms", r#"{"label:environment=production"}"#.into())],
        });
        all.push(Scenario {
            name: "pools-of-one",
            title: "/clusters/bench-7/nodepools?labels=environment:production",
            kind: ScenarioKind::List { path: POOLS_OF_ONE },
            pgbench_script: format!(
                "SELECT {COLUMNS} FROM \"clusters\" WHERE \"clusters\".\"name\" = 'bench-7' LIMIT 1;\n{}",
                list_script(
                    "nodepools",
                    POOL_COLUMNS,
                    &format!("{on_rows} AND {of_bench_7}"),
                    ScriptTotal::Counted,
                )
            ),
            pgbench_vars: vec![("terms", r#"{"label:environment=production"}"#.into())],
        });
    }
    all
}

/// How a scripted list finds its total, as the server does (`page::Total`).
enum ScriptTotal {
    /// The sum PostgreSQL keeps (`db::tally`) for the kind and the terms in
    /// a pgbench variable (`:name`), read in the opening statement.
    Kept(&'static str, &'static str),
    /// `COUNT(*)` of the filter, after the opening statement.
    Counted,
}

/// The first statement of a list's transaction (`page::Opening`): who the
/// transaction is, the feed head, and the kept totals (the filter's, the
/// table's) or none.
fn opening(totals: &str) -> String {
    format!(
        "SELECT pg_backend_pid() AS pid, now() AS xact_start, (SELECT position FROM \
         feed_position WHERE id = 1) AS head, {totals};\n"
    )
}

/// The server's read of a total PostgreSQL keeps (`db::tally`) for the
/// terms in `terms` (a pgbench variable, `:name`, or a literal).
fn kept_total(kind: &str, terms: &str) -> String {
    format!(
        "(SELECT coalesce(sum((SELECT s.n FROM search_totals s WHERE s.kind = '{kind}' \
         AND s.term = t.term)), 0) + coalesce(sum((SELECT sum(d.delta) FROM search_tally d \
         WHERE d.kind = '{kind}' AND d.term = t.term)), 0) \
         FROM (SELECT DISTINCT unnest(CAST({terms} AS text[])) AS term) t)::bigint"
    )
}

/// The statements of one list request on PostgreSQL: an opening statement
/// that reads a kept total too, then the page, without a transaction (as
/// the server runs a list whose total is kept); else the transaction whose
/// backend a disconnect would cancel, with a count before the page.
fn list_script(table: &str, columns: &str, filter: &str, total: ScriptTotal) -> String {
    let (begin, opening, count, commit) = match total {
        ScriptTotal::Kept(kind, terms) => (
            "",
            opening(&format!(
                "{} AS total, {} AS every",
                kept_total(kind, terms),
                kept_total(kind, "'{*}'")
            )),
            String::new(),
            "",
        ),
        ScriptTotal::Counted => (
            "BEGIN;\n",
            opening("NULL::bigint AS total, NULL::bigint AS every"),
            format!("SELECT COUNT(*) FROM \"{table}\" WHERE {filter};\n"),
            "COMMIT;\n",
        ),
    };
    format!(
        "{begin}\
         {opening}\
         {count}\
         SELECT {columns} FROM \"{table}\" WHERE {filter} ORDER BY \
         \"{table}\".\"created_at\" ASC, \"{table}\".\"id\" ASC LIMIT 10 OFFSET 0;\n\
         {commit}"
    )
}

/// The statements of a list whose matches are counted in the statement
/// that reads the page's rows (an intersection of search terms,
/// `page::counted_with_rows`), in the transaction a disconnect would
/// cancel.
fn list_with_ids_script(table: &str, columns: &str, filter: &str) -> String {
    format!(
        "BEGIN;\n\
         {}\
         WITH matches AS MATERIALIZED (SELECT \"{table}\".\"id\", \"{table}\".\"created_at\" \
         FROM \"{table}\" WHERE {filter}), page AS (SELECT id, created_at FROM matches \
         ORDER BY created_at, id LIMIT 10 OFFSET 0) SELECT {columns}, counted.total \
         FROM (SELECT COUNT(*) AS total FROM matches) AS counted \
         LEFT JOIN (page JOIN \"{table}\" USING (id)) ON true \
         ORDER BY page.created_at, page.id;\n\
         COMMIT;\n",
        opening("NULL::bigint AS total, NULL::bigint AS every")
    )
}

/// Fairness (issue 14, item 3): GET by name and adapters' reports alone,
/// then each beside 32 clients on the one-label list.
async fn fairness(base_url: &str, fleet: &Fleet, plan: &Plan) -> Result<String> {
    let get = ScenarioKind::Get {
        clusters: fleet.clusters,
    };
    let report = ScenarioKind::Report {
        clusters: fleet.clusters,
    };
    let lists = ScenarioKind::List { path: ONE_LABEL };
    let base: Arc<str> = Arc::from(base_url);
    step("fairness: GET and reports alone, 4 clients each");
    let get_idle = drive(&base, get, 4, plan.measure).await?;
    let report_idle = drive(&base, report, 4, plan.measure).await?;
    step("fairness: GET, then reports, beside 32 clients on the one-label list");
    let (get_busy, list_busy) = tokio::try_join!(
        drive(&base, get, 4, plan.measure),
        drive(&base, lists, 32, plan.measure)
    )?;
    let (report_busy, _) = tokio::try_join!(
        drive(&base, report, 4, plan.measure),
        drive(&base, lists, 32, plan.measure)
    )?;
    let mut out = String::new();
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Fairness (PostgreSQL, 4 clients each, 32 on the one-label list)"
    );
    let _ = writeln!(
        out,
        "| measure | alone | beside 32 list clients | target | held |"
    );
    let _ = writeln!(out, "|---|---:|---:|---|---|");
    let get_ok = get_busy.percentile_ms(99.0) <= 5.0 * get_idle.percentile_ms(99.0);
    let _ = writeln!(
        out,
        "| GET p99 ms | {:.2} | {:.2} | ≤ 5 × alone | {} |",
        get_idle.percentile_ms(99.0),
        get_busy.percentile_ms(99.0),
        yes_no(get_ok)
    );
    let report_ok = report_busy.per_second() >= 0.5 * report_idle.per_second();
    let _ = writeln!(
        out,
        "| reports req/s | {:.0} | {:.0} | ≥ ½ alone | {} |",
        report_idle.per_second(),
        report_busy.per_second(),
        yes_no(report_ok)
    );
    let _ = writeln!(
        out,
        "| one-label list beside GET | | {} | errors {} | |",
        list_busy.summary(),
        list_busy.errors
    );
    let _ = writeln!(
        out,
        "errors: GET {} / {}, reports {} / {}",
        get_idle.errors, get_busy.errors, report_idle.errors, report_busy.errors
    );
    Ok(out)
}

fn yes_no(held: bool) -> &'static str {
    if held { "**met**" } else { "**missed**" }
}

/// Each scenario with a target: its p99 at the first client count against
/// the target.
fn verdicts(rows: &[Row], targets: &[(&str, f64)]) -> String {
    let mut out = String::new();
    for row in rows {
        let Some((_, target)) = targets.iter().find(|(name, _)| *name == row.name) else {
            continue;
        };
        if row.clients != 10 {
            continue;
        }
        let p99 = row.api.percentile_ms(99.0);
        let _ = writeln!(
            out,
            "target {}: p99 {p99:.2} ms at 10 clients, target ≤ {target} ms: {}",
            row.name,
            yes_no(p99 <= *target && row.api.errors == 0)
        );
    }
    out
}

/// User plus system CPU seconds a process has used so far (`pid` or
/// `self`), from `/proc/PID/stat`; `None` where that cannot be read.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_cpu_seconds(&stat)
}

/// Fields 14 and 15 of `/proc/PID/stat` (utime, stime), in clock ticks of
/// 1/100 s (USER_HZ on Linux). The command name (field 2) may contain
/// spaces, so count from its closing parenthesis.
fn parse_cpu_seconds(stat: &str) -> Option<f64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

/// The server under test: a child process, stopped with SIGTERM.
struct Server {
    child: Option<Child>,
    base_url: String,
}

impl Server {
    fn start(
        binary: &Path,
        port: u16,
        database_url: &str,
        pool_size: Option<u32>,
        log: &str,
        work_dir: &Path,
    ) -> Result<Self> {
        let log_path = work_dir.join("server.log");
        let log_file = std::fs::File::create(&log_path)
            .with_context(|| format!("cannot create {}", log_path.display()))?;
        let mut command = Command::new(binary);
        // One required adapter, so the seed sets phases with one report.
        command.args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            database_url,
            "--cluster-adapters",
            "validation",
            "--nodepool-adapters",
            "validation",
        ]);
        if let Some(size) = pool_size {
            command.args(["--database-pool-size", &size.to_string()]);
        }
        let child = command
            .env("RUST_LOG", log)
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        println!("server log: {}", log_path.display());
        Ok(Self {
            child: Some(child),
            base_url: format!("http://127.0.0.1:{port}"),
        })
    }

    fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds(&self.child.as_ref()?.id().to_string())
    }

    async fn wait_ready(&self) -> Result<()> {
        let client = reqwest::Client::new();
        let url = format!("{}/readyz", self.base_url);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(response) = client.get(&url).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("the server was not ready within 30 s")
    }

    /// SIGTERM, then up to 10 s for a graceful exit, then SIGKILL.
    fn stop(mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait()? {
                ensure!(status.success(), "the server exited with {status}");
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.kill()?;
        child.wait()?;
        bail!("the server did not stop within 10 s of SIGTERM")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// What one measurement found.
#[derive(Debug, Default)]
struct Measured {
    requests: u64,
    errors: u64,
    elapsed: Duration,
    /// Every successful request's latency, in microseconds, sorted.
    latencies_us: Vec<u64>,
}

impl Measured {
    fn per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.requests as f64 / seconds
        } else {
            0.0
        }
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        percentile(&self.latencies_us, p).map_or(f64::NAN, |us| us as f64 / 1000.0)
    }

    fn summary(&self) -> String {
        format!(
            "{:.0}/s over {:.1} s, p50 {:.2} ms, p99 {:.2} ms, {} errors",
            self.per_second(),
            self.elapsed.as_secs_f64(),
            self.percentile_ms(50.0),
            self.percentile_ms(99.0),
            self.errors
        )
    }
}

/// The nearest-rank `p`th percentile (0 < p <= 100) of sorted samples.
fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() || !(p > 0.0 && p <= 100.0) {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

/// Run `scenario` against the server: a warm-up, then `plan.measure` at
/// `clients` connections, each a task with its own keep-alive client
/// sending one request after another.
async fn load(
    base_url: &str,
    scenario: &Scenario,
    plan: &Plan,
    clients: usize,
) -> Result<Measured> {
    let base_url: Arc<str> = Arc::from(base_url);
    if !plan.warm_up.is_zero() {
        drive(&base_url, scenario.kind, clients, plan.warm_up).await?;
    }
    drive(&base_url, scenario.kind, clients, plan.measure).await
}

async fn drive(
    base_url: &Arc<str>,
    kind: ScenarioKind,
    clients: usize,
    duration: Duration,
) -> Result<Measured> {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(clients);
    for worker in 0..clients {
        let base_url = Arc::clone(base_url);
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .timeout(Duration::from_secs(10))
                .build()?;
            let mut random = XorShift::new(worker as u64 + 1);
            let mut measured = Measured::default();
            let api = format!("{base_url}/api/hyperfleet/v1");
            let report = report_body(Seeded::Ready).unwrap_or_default();
            while Instant::now() < deadline {
                let request = match kind {
                    ScenarioKind::Get { clusters } => {
                        let i = 1 + random.next() % clusters;
                        client.get(format!("{api}/clusters/bench-{i}"))
                    }
                    ScenarioKind::List { path } => client.get(format!("{api}/{path}")),
                    ScenarioKind::Report { clusters } => {
                        let i = 1 + random.next() % clusters;
                        client
                            .put(format!("{api}/clusters/bench-{i}/statuses"))
                            .header("content-type", "application/json")
                            .body(report.clone())
                    }
                };
                let sent = Instant::now();
                let ok = match request.send().await {
                    Ok(response) => {
                        let ok = response.status().is_success();
                        // Read the body: the request is not done before it is.
                        ok && response.bytes().await.is_ok()
                    }
                    Err(_) => false,
                };
                let latency = sent.elapsed();
                measured.requests += 1;
                if ok {
                    measured
                        .latencies_us
                        .push(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
                } else {
                    measured.errors += 1;
                }
            }
            anyhow::Ok(measured)
        }));
    }
    let mut total = Measured::default();
    for task in tasks {
        let measured = task.await??;
        total.requests += measured.requests;
        total.errors += measured.errors;
        total.latencies_us.extend(measured.latencies_us);
    }
    total.elapsed = started.elapsed();
    total.latencies_us.sort_unstable();
    Ok(total)
}

/// A small deterministic generator: which cluster to get next need not be
/// cryptographic, only spread.
struct XorShift(u64);

impl XorShift {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

/// Run pgbench with the scenario's script, logging every transaction's
/// latency so its percentiles can be printed too.
fn pgbench(
    database: &Database,
    scenario: &Scenario,
    plan: &Plan,
    clients: usize,
    work_dir: &Path,
) -> Result<Measured> {
    let script = work_dir.join("script.sql");
    std::fs::write(&script, &scenario.pgbench_script)?;
    let log_dir = work_dir.join("pgbench-log");
    let _ = std::fs::remove_dir_all(&log_dir);
    std::fs::create_dir_all(&log_dir)?;
    let mut command = Command::new("pgbench");
    command
        .arg(&database.target.url)
        .args(["-n", "-M", "prepared", "-j", "2"])
        .arg("-c")
        .arg(clients.to_string())
        .arg("-T")
        .arg(plan.measure.as_secs().to_string())
        .arg("-f")
        .arg(&script)
        .arg("-l")
        .arg("--log-prefix")
        .arg(log_dir.join("tx"));
    for (name, value) in &scenario.pgbench_vars {
        command.arg("-D").arg(format!("{name}={value}"));
    }
    let output = command
        .env("PGCONNECT_TIMEOUT", "10")
        .output()
        .context("cannot run pgbench")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    ensure!(
        output.status.success(),
        "pgbench failed: {}{}",
        stdout,
        String::from_utf8_lossy(&output.stderr)
    );
    let tps = parse_pgbench_tps(&stdout).context("pgbench printed no tps")?;
    let failed = parse_pgbench_failed(&stdout).unwrap_or(0);
    let mut latencies_us = Vec::new();
    for entry in std::fs::read_dir(&log_dir)? {
        let text = std::fs::read_to_string(entry?.path())?;
        latencies_us.extend(parse_pgbench_log(&text));
    }
    latencies_us.sort_unstable();
    Ok(Measured {
        requests: (tps * plan.measure.as_secs_f64()).round() as u64,
        errors: failed,
        elapsed: plan.measure,
        latencies_us,
    })
}

/// `tps = 1234.5 (without initial connection time)`.
fn parse_pgbench_tps(stdout: &str) -> Option<f64> {
    stdout.lines().find_map(|line| {
        line.strip_prefix("tps = ")?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

/// `number of failed transactions: 0 (0.000%)`.
fn parse_pgbench_failed(stdout: &str) -> Option<u64> {
    stdout.lines().find_map(|line| {
        line.strip_prefix("number of failed transactions: ")?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    })
}

/// Latencies (µs) of a pgbench `-l` log: `client_id transaction_no time
/// script_no time_epoch time_us`, `time` being the latency.
fn parse_pgbench_log(text: &str) -> impl Iterator<Item = u64> + '_ {
    text.lines()
        .filter_map(|line| line.split_whitespace().nth(2)?.parse().ok())
}

fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| scenario | clients | API req/s | API p50 ms | API p99 ms | API errors | pgbench tps | pgbench p50 ms | pgbench p99 ms |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let api = &row.api;
        let pgbench = match &row.pgbench {
            Some(p) => format!(
                "{:.0} | {:.2} | {:.2}",
                p.per_second(),
                p.percentile_ms(50.0),
                p.percentile_ms(99.0)
            ),
            None => "– | – | –".to_string(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.2} | {:.2} | {} | {pgbench} |",
            row.title,
            row.clients,
            api.per_second(),
            api.percentile_ms(50.0),
            api.percentile_ms(99.0),
            api.errors,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&samples, 50.0), Some(50));
        assert_eq!(percentile(&samples, 99.0), Some(99));
        assert_eq!(percentile(&samples, 100.0), Some(100));
        assert_eq!(percentile(&samples, 0.1), Some(1));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[1, 2, 3], 50.0), Some(2));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&samples, 0.0), None);
    }

    #[test]
    fn only_local_databases_with_plain_names() -> Result<()> {
        let target = DatabaseTarget::parse("postgres://postgres@127.0.0.1:5432/bench_1")?;
        assert_eq!(target.name, "bench_1");
        assert_eq!(
            target.admin_url,
            "postgres://postgres@127.0.0.1:5432/postgres"
        );
        assert!(DatabaseTarget::parse("postgres://u@localhost/b").is_ok());
        assert!(DatabaseTarget::parse("postgres://u@[::1]:5432/b").is_ok());
        let plain = DatabaseTarget::parse("postgres://u@127.0.0.1/b?sslmode=disable")?;
        assert_eq!(plain.name, "b");
        assert_eq!(
            plain.admin_url,
            "postgres://u@127.0.0.1/postgres?sslmode=disable"
        );
        for bad in [
            "postgres://postgres@10.0.0.5:5432/bench",
            "postgres://postgres@db.example.com/bench",
            "postgres://postgres@127.0.0.1:5432/",
            "postgres://postgres@127.0.0.1:5432/postgres",
            "postgres://postgres@127.0.0.1:5432/x;drop",
            "mysql://127.0.0.1/bench",
        ] {
            assert!(DatabaseTarget::parse(bad).is_err(), "{bad}");
        }
        Ok(())
    }

    #[test]
    fn reads_pgbench_output() {
        let stdout = "number of failed transactions: 3 (0.010%)\n\
                      latency average = 2.5 ms\n\
                      tps = 12775.347 (without initial connection time)\n";
        assert_eq!(parse_pgbench_tps(stdout), Some(12775.347));
        assert_eq!(parse_pgbench_failed(stdout), Some(3));
        let log = "0 1 812 0 1764130000 123456\n1 1 1040 0 1764130000 123999\n";
        assert_eq!(parse_pgbench_log(log).collect::<Vec<_>>(), [812, 1040]);
    }

    #[test]
    fn reads_cpu_time_from_proc_stat() {
        let stat = "4242 (tokio runtime) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 130 0 0 20 0 3";
        assert_eq!(parse_cpu_seconds(stat), Some(3.8));
        assert_eq!(parse_cpu_seconds("garbage"), None);
        assert!(cpu_seconds("self").is_some_and(|s| s >= 0.0));
    }

    #[test]
    fn the_fleet_has_the_issues_shares() {
        let n = 100_000u64;
        let production = (1..=n)
            .filter(|&i| Fleet::environment(i) == "production")
            .count();
        assert_eq!(production, 28_000);
        let ready = (1..=n)
            .filter(|&i| Fleet::phase(i) == Seeded::Ready)
            .count() as f64;
        assert!((ready / n as f64 - 0.6).abs() < 0.01, "{ready}");
        assert!(report_body(Seeded::Pending).is_none());
        assert_eq!(Fleet::new(5, 10).pools(), 50);
    }
}
