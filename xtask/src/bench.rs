//! `cargo xtask bench`: the fleet-scale benchmark of the list filters.
//!
//! One run, which stops by itself and talks only to 127.0.0.1:
//! 1. builds the release server and creates a fresh PostgreSQL database;
//! 2. migrates it with `hyperfleet migrate`, then seeds N clusters (with
//!    label rows and varied providers, regions, labels and phases) in one
//!    `INSERT ... SELECT generate_series` per table, straight in SQL;
//! 3. starts `hyperfleet serve` on a free port and, for each scenario (get
//!    one cluster, a filtered list of 10, create), runs a keep-alive load
//!    generator at `--connections` concurrent connections for `--seconds`,
//!    recording every request's latency;
//! 4. runs pgbench with the same SQL statements the server issues for that
//!    scenario (prepared, bound parameters, same client count) and prints
//!    both, with the ratio API/pgbench;
//! 5. stops the server and drops the database, also on failure.
//!
//! The pure parts (percentiles, URL checks, pgbench output parsing) are unit
//! tested; the run itself is not part of CI (`--smoke` is a two-second
//! version of it).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::Args;

use crate::workspace_root;

/// Flags of `cargo xtask bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Clusters to seed.
    #[arg(long, default_value_t = 100_000)]
    clusters: u64,
    /// Measured seconds per scenario (API and pgbench each).
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Concurrent connections (API load generator and pgbench clients).
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// The database to create, seed and drop; it must not exist yet, and
    /// must be on this machine. Parameters after `?` (`sslmode=disable`)
    /// apply to the server, pgbench and psql alike. Default: a fresh
    /// `hyperfleet_bench_*` on postgres://postgres@127.0.0.1:5432.
    #[arg(long)]
    database_url: Option<String>,
    /// `--database-pool-size` of the server under test (default: the
    /// server's own default).
    #[arg(long)]
    server_pool_size: Option<u32>,
    /// `RUST_LOG` of the server under test (`info` logs every request).
    #[arg(long, default_value = "warn")]
    server_log: String,
    /// A quick run: 200 clusters, 2 seconds, 4 connections, no warm-up.
    #[arg(long)]
    smoke: bool,
    /// Run only these scenarios (comma-separated: get, list, list-narrow,
    /// create); default all.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

/// What one run measures, after `--smoke` is applied.
#[derive(Clone, Debug)]
struct Plan {
    clusters: u64,
    measure: Duration,
    warm_up: Duration,
    connections: usize,
}

impl BenchArgs {
    fn plan(&self) -> Plan {
        if self.smoke {
            Plan {
                clusters: 200,
                measure: Duration::from_secs(2),
                warm_up: Duration::ZERO,
                connections: 4,
            }
        } else {
            Plan {
                clusters: self.clusters,
                measure: Duration::from_secs(self.seconds),
                warm_up: Duration::from_secs(2),
                connections: self.connections,
            }
        }
    }
}

/// The broad filtered list: about 4 300 matches in 100 000 clusters, all of
/// which the exact `total` has to count.
const LIST_QUERY: &str = "labels=environment:production,team:platform&phase=Ready&size=10";
/// J3's narrow search (production platform clusters on GCP in us-east1 that
/// are Ready): about 240 matches in 100 000 clusters.
const LIST_NARROW_QUERY: &str = "labels=environment:production,team:platform&phase=Ready\
                                 &provider=gcp&region=us-east1&size=10";

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
    ensure!(plan.connections >= 1, "--connections must be at least 1");
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

    step(&format!("create database {}", target.name));
    let database = Database::create(target)?;

    step("hyperfleet migrate");
    let status = Command::new(&binary)
        .args(["migrate", "--database-url", &database.target.url])
        .env("RUST_LOG", "warn")
        .status()?;
    ensure!(status.success(), "hyperfleet migrate failed");

    step(&format!("seed {} clusters", plan.clusters));
    let started = Instant::now();
    database.psql(&seed_sql(plan.clusters))?;
    println!("seeded in {:.1} s", started.elapsed().as_secs_f64());

    let port = free_port()?;
    step(&format!("hyperfleet serve on 127.0.0.1:{port}"));
    let server = Server::start(
        &binary,
        port,
        &database.target.url,
        args.server_pool_size,
        &args.server_log,
        &work_dir,
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(server.wait_ready())?;

    let mut scenarios = scenarios(plan.clusters);
    if !args.only.is_empty() {
        scenarios.retain(|s| args.only.iter().any(|name| name == s.name));
        ensure!(!scenarios.is_empty(), "--only names no scenario");
    }
    let mut rows = Vec::new();
    for scenario in &scenarios {
        println!("load average: {}", load_average());
        step(&format!("API: {}", scenario.title));
        let cpu_before = (server.cpu_seconds(), cpu_seconds("self"));
        let api = runtime.block_on(load(&server.base_url, scenario, &plan))?;
        let cpu_after = (server.cpu_seconds(), cpu_seconds("self"));
        println!("{}", api.summary());
        // Where the two cores went (warm-up included): what the server and
        // the load generator used per request; PostgreSQL and the rest of
        // the machine had what is left.
        if let ((Some(s0), Some(l0)), (Some(s1), Some(l1))) = (cpu_before, cpu_after) {
            let requests = api.requests.max(1) as f64;
            println!(
                "CPU: server {:.1} s ({:.0} us/request), load generator {:.1} s ({:.0} us/request)",
                s1 - s0,
                (s1 - s0) * 1e6 / requests,
                l1 - l0,
                (l1 - l0) * 1e6 / requests
            );
        }
        step(&format!("pgbench: {}", scenario.title));
        let pgbench = pgbench(&database, scenario, &plan, &work_dir)?;
        println!("{}", pgbench.summary());
        rows.push((scenario.title, api, pgbench));
    }
    drop(runtime);
    server.stop()?;

    println!();
    println!(
        "{} clusters seeded, {} s per scenario, {} connections",
        plan.clusters,
        plan.measure.as_secs(),
        plan.connections
    );
    print!("{}", table(&rows));
    drop(database);
    Ok(())
}

fn step(what: &str) {
    println!("==> {what}");
}

/// The 1, 5 and 15 minute load averages: on a shared 2-core machine, other
/// work skews every number, so each scenario prints what it ran beside.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".into())
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
            !name.is_empty()
                && name.len() <= 63
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                && name != "postgres",
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

/// The benchmark's database; dropped (with its connections) on drop.
struct Database {
    target: DatabaseTarget,
}

impl Database {
    fn create(target: DatabaseTarget) -> Result<Self> {
        psql(
            &target.admin_url,
            &format!("CREATE DATABASE {}", target.name),
        )
        .with_context(|| format!("cannot create database {}", target.name))?;
        Ok(Self { target })
    }

    fn psql(&self, sql: &str) -> Result<()> {
        psql(&self.target.url, sql)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
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

/// The id of seeded cluster `i`: recomputable on both sides, so the load
/// generator and pgbench can ask for any seeded cluster without a lookup.
fn seeded_id(i: u64) -> String {
    format!("00000000-0000-4000-8000-{i:012x}")
}

/// SQL that seeds `n` clusters and their label rows. Cluster `i`:
/// - provider `i % 4` of gcp, aws, azure, ibm; one of three regions each;
/// - `environment` production (40 %), staging (20 %), development (40 %);
/// - `team` one of seven; `tier` gold or silver on every third cluster;
/// - phase Ready (70 %), Not Ready (20 %), Pending (5 %), Terminating (5 %);
/// - created one second after cluster `i - 1`.
///
/// The moduli are pairwise coprime, so every combination occurs.
fn seed_sql(n: u64) -> String {
    format!(
        "BEGIN;
CREATE TEMPORARY TABLE seed ON COMMIT DROP AS
SELECT i,
       ('00000000-0000-4000-8000-' || lpad(to_hex(i), 12, '0'))::uuid AS id,
       (ARRAY['gcp', 'aws', 'azure', 'ibm'])[1 + i % 4] AS provider,
       (ARRAY[ARRAY['us-east1', 'us-west1', 'europe-west1'],
              ARRAY['us-east-1', 'us-west-2', 'eu-west-1'],
              ARRAY['eastus', 'westus2', 'westeurope'],
              ARRAY['us-south', 'us-east', 'eu-de']])[1 + i % 4][1 + (i / 4) % 3] AS region,
       (ARRAY['production', 'production', 'staging', 'development', 'development'])[1 + i % 5]
           AS environment,
       (ARRAY['platform', 'data', 'ml', 'web', 'payments', 'search', 'infra'])[1 + i % 7] AS team,
       CASE WHEN i % 3 = 0 THEN (ARRAY['gold', 'silver'])[1 + (i / 3) % 2] END AS tier,
       CASE WHEN i % 20 < 14 THEN 'Ready' WHEN i % 20 < 18 THEN 'Not Ready'
            WHEN i % 20 = 18 THEN 'Pending' ELSE 'Terminating' END AS phase,
       timestamptz '2026-01-01 00:00:00+00' + make_interval(secs => i) AS at
FROM generate_series(1, {n}) AS i;
INSERT INTO clusters (id, name, generation, provider, region, node_count, labels, phase,
                      phase_message, phase_changed_at, created_at, updated_at)
SELECT id, 'bench-' || i, 1, provider, region, 1 + i % 10,
       '{{\"environment\":\"' || environment || '\",\"team\":\"' || team || '\"'
           || coalesce(',\"tier\":\"' || tier || '\"', '') || '}}',
       phase, 'seeded', at, at, at
FROM seed;
INSERT INTO cluster_labels (cluster_id, key, value)
SELECT id, 'environment', environment FROM seed
UNION ALL SELECT id, 'team', team FROM seed
UNION ALL SELECT id, 'tier', tier FROM seed WHERE tier IS NOT NULL;
COMMIT;
VACUUM ANALYZE clusters;
VACUUM ANALYZE cluster_labels;"
    )
}

/// One measured operation, for the API and for pgbench.
struct Scenario {
    /// Short name for `--only`.
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
    Get { clusters: u64 },
    List { query: &'static str },
    Create,
}

/// The columns of a cluster row, as the server selects them.
const COLUMNS: &str = r#""clusters"."id", "clusters"."name", "clusters"."generation", "clusters"."provider", "clusters"."region", "clusters"."node_count", "clusters"."labels", "clusters"."phase", "clusters"."phase_message", "clusters"."phase_changed_at", "clusters"."created_at", "clusters"."updated_at""#;

fn scenarios(clusters: u64) -> Vec<Scenario> {
    let filter = r#""clusters"."id" IN (SELECT "cluster_id" FROM "cluster_labels" WHERE "cluster_labels"."key" = :k1 AND "cluster_labels"."value" = :v1) AND "clusters"."id" IN (SELECT "cluster_id" FROM "cluster_labels" WHERE "cluster_labels"."key" = :k2 AND "cluster_labels"."value" = :v2) AND "clusters"."phase" IN (:phase)"#;
    let new_id = "(lpad(to_hex(:hi::bigint), 16, '0') || lpad(to_hex(:lo::bigint), 16, '0'))::uuid";
    let list_vars: Vec<(&'static str, String)> = vec![
        ("k1", "environment".into()),
        ("v1", "production".into()),
        ("k2", "team".into()),
        ("v2", "platform".into()),
        ("phase", "Ready".into()),
        ("size", "10".into()),
        ("offset", "0".into()),
    ];
    vec![
        Scenario {
            name: "get",
            title: "GET /clusters/{id}",
            kind: ScenarioKind::Get { clusters },
            pgbench_script: format!(
                "\\set i random(1, {clusters})\n\
                 SELECT {COLUMNS} FROM \"clusters\" WHERE \"clusters\".\"id\" = \
                 ('00000000-0000-4000-8000-' || lpad(to_hex(:i::bigint), 12, '0'))::uuid LIMIT :one;\n"
            ),
            pgbench_vars: vec![("one", "1".into())],
        },
        Scenario {
            name: "list",
            title: "GET /clusters?labels=..&phase=..&size=10",
            kind: ScenarioKind::List { query: LIST_QUERY },
            pgbench_script: list_script(filter),
            pgbench_vars: list_vars.clone(),
        },
        Scenario {
            name: "list-narrow",
            title: "GET /clusters?labels=..&phase=..&provider=..&region=..&size=10",
            kind: ScenarioKind::List {
                query: LIST_NARROW_QUERY,
            },
            pgbench_script: list_script(&format!(
                "{filter} AND \"clusters\".\"provider\" = :provider \
                 AND \"clusters\".\"region\" = :region"
            )),
            pgbench_vars: [
                list_vars,
                vec![("provider", "gcp".into()), ("region", "us-east1".into())],
            ]
            .concat(),
        },
        Scenario {
            name: "create",
            title: "POST /clusters",
            kind: ScenarioKind::Create,
            pgbench_script: format!(
                "\\set hi random(1, 9223372036854775806)\n\
                 \\set lo random(1, 9223372036854775806)\n\
                 BEGIN;\n\
                 INSERT INTO \"clusters\" (\"id\", \"name\", \"generation\", \"provider\", \
                 \"region\", \"node_count\", \"labels\", \"phase\", \"phase_message\", \
                 \"phase_changed_at\", \"created_at\", \"updated_at\") VALUES ({new_id}, \
                 'pgbench-' || to_hex(:hi::bigint) || to_hex(:lo::bigint), :generation, :provider, :region, \
                 :nodes, :labels, :phase, :message, now(), now(), now());\n\
                 INSERT INTO \"cluster_labels\" (\"cluster_id\", \"key\", \"value\") VALUES \
                 ({new_id}, :k1, :v1), ({new_id}, :k2, :v2);\n\
                 COMMIT;\n"
            ),
            pgbench_vars: vec![
                ("generation", "1".into()),
                ("provider", "gcp".into()),
                ("region", "us-east1".into()),
                ("nodes", "3".into()),
                (
                    "labels",
                    r#"{"environment":"production","team":"platform"}"#.into(),
                ),
                ("phase", "Pending".into()),
                (
                    "message",
                    "waiting for validation, dns, infrastructure".into(),
                ),
                ("k1", "environment".into()),
                ("v1", "production".into()),
                ("k2", "team".into()),
                ("v2", "platform".into()),
            ],
        },
    ]
}

/// The two statements of one list request: the count, then the page.
fn list_script(filter: &str) -> String {
    format!(
        "SELECT COUNT(*) FROM \"clusters\" WHERE {filter};\n\
         SELECT {COLUMNS} FROM \"clusters\" WHERE {filter} ORDER BY \
         \"clusters\".\"created_at\" ASC, \"clusters\".\"id\" ASC LIMIT :size OFFSET :offset;\n"
    )
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
        command.args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            database_url,
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
/// `plan.connections` connections, each a task with its own keep-alive
/// client sending one request after another.
async fn load(base_url: &str, scenario: &Scenario, plan: &Plan) -> Result<Measured> {
    let base_url: Arc<str> = Arc::from(base_url);
    let run_id = std::process::id();
    if !plan.warm_up.is_zero() {
        drive(&base_url, scenario.kind, plan, plan.warm_up, run_id, 0).await?;
    }
    drive(&base_url, scenario.kind, plan, plan.measure, run_id, 1).await
}

async fn drive(
    base_url: &Arc<str>,
    kind: ScenarioKind,
    plan: &Plan,
    duration: Duration,
    run_id: u32,
    round: u32,
) -> Result<Measured> {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::with_capacity(plan.connections);
    for worker in 0..plan.connections {
        let base_url = Arc::clone(base_url);
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .timeout(Duration::from_secs(10))
                .build()?;
            let mut random = XorShift::new(worker as u64 + 1);
            let mut measured = Measured::default();
            let mut sequence = 0u64;
            while Instant::now() < deadline {
                sequence += 1;
                let request = match kind {
                    ScenarioKind::Get { clusters } => {
                        let i = 1 + random.next() % clusters;
                        client.get(format!(
                            "{base_url}/api/hyperfleet/v1/clusters/{}",
                            seeded_id(i)
                        ))
                    }
                    ScenarioKind::List { query } => {
                        client.get(format!("{base_url}/api/hyperfleet/v1/clusters?{query}"))
                    }
                    ScenarioKind::Create => client
                        .post(format!("{base_url}/api/hyperfleet/v1/clusters"))
                        .header("content-type", "application/json")
                        .body(create_body(run_id, round, worker, sequence)),
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

fn create_body(run_id: u32, round: u32, worker: usize, sequence: u64) -> String {
    serde_json::json!({
        "name": format!("load-{run_id}-{round}-{worker}-{sequence}"),
        "spec": { "provider": "gcp", "region": "us-east1", "nodeCount": 3 },
        "labels": { "environment": "production", "team": "platform" },
    })
    .to_string()
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
        .arg(plan.connections.to_string())
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

fn table(rows: &[(&str, Measured, Measured)]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| scenario | API req/s | API p50 ms | API p99 ms | API errors | pgbench tps | pgbench p50 ms | pgbench p99 ms | API/pgbench |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (title, api, pgbench) in rows {
        let ratio = if pgbench.per_second() > 0.0 {
            api.per_second() / pgbench.per_second()
        } else {
            f64::NAN
        };
        let _ = writeln!(
            out,
            "| {title} | {:.0} | {:.2} | {:.2} | {} | {:.0} | {:.2} | {:.2} | {:.2} |",
            api.per_second(),
            api.percentile_ms(50.0),
            api.percentile_ms(99.0),
            api.errors,
            pgbench.per_second(),
            pgbench.percentile_ms(50.0),
            pgbench.percentile_ms(99.0),
            ratio
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
    fn seeded_ids_match_the_seed_sql() {
        assert_eq!(seeded_id(1), "00000000-0000-4000-8000-000000000001");
        assert_eq!(seeded_id(100_000), "00000000-0000-4000-8000-0000000186a0");
        assert!(seed_sql(5).contains("generate_series(1, 5)"));
    }
}
