//! `cargo xtask bench replicas`: the control loop of issue 18 at a small
//! production shape, with faults, against the single-process figure.
//!
//! One run, which stops by itself and talks only to 127.0.0.1:
//! 1. builds the release `hyperfleet`, creates a fresh PostgreSQL database
//!    and migrates it once (`hyperfleet migrate`);
//! 2. **baseline**: one `hyperfleet serve`, one `hyperfleet sentinel`, the
//!    three reference adapters (`hyperfleet adapter`, 10 ms of simulated
//!    work, 32 events at once) on RabbitMQ; `--clusters` clusters created
//!    32 at a time; the time until every one is Ready;
//! 3. **replicas**: the same on a new database and exchange with three API
//!    replicas and two sentinels; clusters are created round-robin through
//!    the replicas; the sentinels and adapters reach the API through a
//!    round-robin TCP balancer in this process (as they would through a
//!    load balancer), which skips a replica that refuses connections.
//!    Half-way through the creates, one replica and the leading sentinel
//!    (asked through `/metrics`) get SIGKILL; creates go on through the
//!    other replicas; the run waits until every cluster is Ready;
//! 4. prints both times, create-to-Ready percentiles, how long the standby
//!    sentinel took to lead, the events published, the repeats the
//!    adapters dropped (their `/metrics`), and drops the databases (also
//!    on failure).
//!
//! Process logs go to `target/bench-replicas/`. Not part of CI.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::Args;
use tokio::net::{TcpListener, TcpStream};

use crate::local_services::{Database, free_port, metrics, published, sample, wait_ready};
use crate::workspace_root;

/// Flags of `cargo xtask bench replicas`.
#[derive(Args, Debug)]
pub struct ReplicasArgs {
    /// Clusters to create in each scenario.
    #[arg(long, default_value_t = 1000)]
    clusters: usize,
    /// The PostgreSQL server (its `postgres` database): the run creates and
    /// drops databases of its own there.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/postgres")]
    postgres_url: String,
    /// The RabbitMQ broker; the run uses an exchange and queues of its own
    /// that expire after it.
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    broker: String,
    /// Skip the single-process baseline.
    #[arg(long)]
    no_baseline: bool,
    /// Kill nothing in the replicas scenario (to tell the cost of the
    /// faults from the cost of the replicas).
    #[arg(long)]
    no_faults: bool,
    /// Run a debug build of `hyperfleet` (quick to build, for trying the
    /// run out; its figures are not comparable).
    #[arg(long)]
    debug: bool,
}

const ADAPTERS: [&str; 3] = ["validation", "dns", "infrastructure"];
const READY_WITHIN: Duration = Duration::from_secs(900);

pub fn run(args: ReplicasArgs) -> Result<()> {
    ensure!(args.clusters >= 2, "--clusters must be at least 2");
    for url in [&args.postgres_url, &args.broker] {
        ensure!(
            url.contains("@127.0.0.1:") || url.contains("@localhost:"),
            "the benchmark only talks to this machine, not {url}"
        );
    }
    let root = workspace_root();
    let (profile, flags): (&str, &[&str]) = if args.debug {
        ("debug", &[])
    } else {
        ("release", &["--release"])
    };
    println!("== cargo build {} -p hyperfleet", flags.join(" "));
    let status = Command::new("cargo")
        .args(["build", "-p", "hyperfleet"])
        .args(flags)
        .current_dir(&root)
        .status()?;
    ensure!(status.success(), "the build failed");
    let binary = root.join("target").join(profile).join("hyperfleet");
    let logs = root.join("target/bench-replicas");
    std::fs::create_dir_all(&logs)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let baseline = if args.no_baseline {
        None
    } else {
        Some(runtime.block_on(scenario(&args, &binary, &logs, 1, 1, false))?)
    };
    let faults = !args.no_faults;
    let replicas = runtime.block_on(scenario(&args, &binary, &logs, 3, 2, faults))?;
    println!();
    println!(
        "{} clusters, 3 reference adapters (10 ms of work, 32 at once), RabbitMQ, PostgreSQL",
        args.clusters
    );
    println!(
        "{:<44} {:>11} {:>8} {:>8} {:>8} {:>8} {:>10}",
        "scenario", "all Ready s", "p50 ms", "p99 ms", "max ms", "events", "duplicates"
    );
    if let Some(baseline) = &baseline {
        baseline.print("1 API, 1 sentinel");
    }
    replicas.print(if faults {
        "3 APIs, 2 sentinels; 1 API + leader killed"
    } else {
        "3 APIs, 2 sentinels; nothing killed"
    });
    if let Some(takeover) = replicas.takeover {
        println!("standby sentinel leading {takeover:.2?} after the leader's SIGKILL");
    }
    Ok(())
}

/// What one scenario measured.
struct Outcome {
    elapsed: Duration,
    latencies_ms: Vec<u64>,
    events: u64,
    /// Repeats the adapters acknowledged without running.
    duplicates: u64,
    takeover: Option<Duration>,
}

impl Outcome {
    fn print(&self, name: &str) {
        let at = |p: f64| {
            let rank = (p / 100.0 * self.latencies_ms.len() as f64).ceil() as usize;
            self.latencies_ms
                .get(rank.clamp(1, self.latencies_ms.len().max(1)) - 1)
                .copied()
                .unwrap_or(0)
        };
        println!(
            "{:<44} {:>11.2} {:>8} {:>8} {:>8} {:>8} {:>10}",
            name,
            self.elapsed.as_secs_f64(),
            at(50.0),
            at(99.0),
            at(100.0),
            self.events,
            self.duplicates
        );
    }
}

/// Run one scenario on a database and exchange of its own.
async fn scenario(
    args: &ReplicasArgs,
    binary: &Path,
    logs: &Path,
    apis: usize,
    sentinels: usize,
    faults: bool,
) -> Result<Outcome> {
    let tag = format!("{}_{apis}x{sentinels}", std::process::id());
    println!("== scenario {tag}: {apis} API replica(s), {sentinels} sentinel(s)");
    let database = Database::create(&args.postgres_url, &format!("hyperfleet_replicas_{tag}"))?;
    let mut processes = Processes::default();
    let log = |name: &str| logs.join(format!("{tag}-{name}.log"));
    processes.run_to_end(
        binary,
        &["migrate", "--database-url", &database.url],
        &log("migrate"),
    )?;

    let mut api_addrs = Vec::new();
    for i in 0..apis {
        let port = free_port()?;
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let listen = addr.to_string();
        processes.start(
            &format!("api-{i}"),
            binary,
            &[
                "serve",
                "--listen",
                &listen,
                "--database-url",
                &database.url,
            ],
            &log(&format!("api-{i}")),
        )?;
        api_addrs.push(addr);
    }
    let http = reqwest::Client::new();
    for addr in &api_addrs {
        wait_ready(&http, &format!("http://{addr}")).await?;
    }
    let balancer = Balancer::start(api_addrs.clone()).await?;
    let api_url = format!("http://{}", balancer.addr);
    let exchange = format!("hyperfleet-replicas-{tag}");
    let broker = [
        "--broker",
        &args.broker,
        "--exchange",
        &exchange,
        "--queue-prefix",
        &exchange,
        "--queue-expires",
        "120",
        "--api-url",
        &api_url,
    ];
    let mut metrics_ports = Vec::new();
    for i in 0..sentinels {
        let port = free_port()?;
        let metrics = format!("127.0.0.1:{port}");
        let mut sentinel_args = vec!["sentinel", "--poll-interval", "200ms"];
        sentinel_args.extend(["--metrics-addr", &metrics]);
        sentinel_args.extend(broker);
        processes.start(
            &format!("sentinel-{i}"),
            binary,
            &sentinel_args,
            &log(&format!("sentinel-{i}")),
        )?;
        metrics_ports.push(port);
    }
    let mut adapter_ports = Vec::new();
    for name in ADAPTERS {
        let port = free_port()?;
        let metrics = format!("127.0.0.1:{port}");
        adapter_ports.push(port);
        let mut adapter_args = vec!["adapter", "--name", name, "--work", "10ms"];
        adapter_args.extend(["--retry-delay", "500ms", "--concurrency", "32"]);
        adapter_args.extend(["--metrics-addr", &metrics]);
        adapter_args.extend(broker);
        processes.start(
            &format!("adapter-{name}"),
            binary,
            &adapter_args,
            &log(&format!("adapter-{name}")),
        )?;
    }
    let leader = wait_for_leader(&http, &metrics_ports).await?;

    let started = Instant::now();
    let mut live: Vec<String> = api_addrs.iter().map(|a| format!("http://{a}")).collect();
    let mut created: HashMap<String, Instant> = HashMap::new();
    let mut events_of_killed = 0;
    let mut takeover = None;
    let mut next = 0usize;
    for batch in (0..args.clusters).collect::<Vec<_>>().chunks(32) {
        if faults && takeover.is_none() && created.len() >= args.clusters / 2 {
            println!(
                "   {} created: SIGKILL api-0 and sentinel-{leader}",
                created.len()
            );
            events_of_killed = published(&http, metrics_ports[leader]).await.unwrap_or(0);
            processes.kill("api-0")?;
            processes.kill(&format!("sentinel-{leader}"))?;
            live.remove(0);
            balancer.remove(api_addrs[0]);
            let killed = Instant::now();
            let others: Vec<u16> = metrics_ports
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != leader)
                .map(|(_, p)| *p)
                .collect();
            wait_for_leader(&http, &others).await?;
            takeover = Some(killed.elapsed());
        }
        let mut tasks = Vec::new();
        for &i in batch {
            let base = live[next % live.len()].clone();
            next += 1;
            let fallback = live.clone();
            let http = http.clone();
            tasks.push(tokio::spawn(async move {
                create(&http, &base, &fallback, &format!("bench-{i}")).await
            }));
        }
        for task in tasks {
            let (name, at) = task.await??;
            created.insert(name, at);
        }
    }

    println!("   {} created; waiting for Ready", created.len());
    let mut ready: HashMap<String, Duration> = HashMap::new();
    let deadline = Instant::now() + READY_WITHIN;
    while ready.len() < created.len() {
        if Instant::now() > deadline {
            bail!(
                "only {} of {} clusters Ready after {READY_WITHIN:?}",
                ready.len(),
                created.len()
            );
        }
        let now = Instant::now();
        for name in ready_names(&http, &live[0]).await? {
            if let Some(at) = created.get(&name) {
                ready.entry(name).or_insert_with(|| now.duration_since(*at));
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let elapsed = started.elapsed();
    let mut events = events_of_killed;
    for (i, port) in metrics_ports.iter().enumerate() {
        if !(faults && i == leader) {
            events += published(&http, *port).await.unwrap_or(0);
        }
    }
    let mut duplicates = 0;
    for port in &adapter_ports {
        if let Some(text) = metrics(&http, *port).await {
            duplicates += text
                .lines()
                .find_map(|l| {
                    let rest = l.strip_prefix("hyperfleet_adapter_events_duplicate_total{")?;
                    rest.rsplit_once(' ')?.1.parse::<u64>().ok()
                })
                .unwrap_or(0);
        }
    }
    let mut latencies_ms: Vec<u64> = ready
        .values()
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .collect();
    latencies_ms.sort_unstable();
    drop(processes);
    drop(balancer);
    drop(database);
    Ok(Outcome {
        elapsed,
        latencies_ms,
        events,
        duplicates,
        takeover,
    })
}

/// Create cluster `name` through `base`, or, when that replica is gone,
/// through the others; a create that was stored before its answer was lost
/// comes back 409 on the retry, which counts as created.
async fn create(
    http: &reqwest::Client,
    base: &str,
    fallback: &[String],
    name: &str,
) -> Result<(String, Instant)> {
    let body = serde_json::json!({
        "name": name,
        "spec": {"provider": "gcp", "region": "us-east1", "nodeCount": 3},
        "labels": {"bench": "replicas"},
    });
    let targets = std::iter::once(base).chain(fallback.iter().map(String::as_str));
    let mut last = String::new();
    for target in targets {
        let sent = http
            .post(format!("{target}/api/hyperfleet/v1/clusters"))
            .json(&body)
            .send()
            .await;
        match sent {
            Ok(response)
                if response.status().as_u16() == 201 || response.status().as_u16() == 409 =>
            {
                return Ok((name.to_string(), Instant::now()));
            }
            Ok(response) => last = format!("{} from {target}", response.status()),
            Err(error) => last = format!("{error} from {target}"),
        }
    }
    bail!("cannot create {name}: {last}")
}

/// The names of every Ready cluster.
async fn ready_names(http: &reqwest::Client, base: &str) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut page = 1;
    loop {
        let list: serde_json::Value = http
            .get(format!("{base}/api/hyperfleet/v1/clusters"))
            .query(&[
                ("phase", "Ready"),
                ("size", "1000"),
                ("page", &page.to_string()),
            ])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        names.extend(
            items
                .iter()
                .filter_map(|c| c["name"].as_str().map(str::to_string)),
        );
        let total = list["total"].as_u64().unwrap_or(0);
        if page * 1000 >= total {
            return Ok(names);
        }
        page += 1;
    }
}

/// The index (in `ports`) of the one sentinel that leads, once exactly one
/// does.
async fn wait_for_leader(http: &reqwest::Client, ports: &[u16]) -> Result<usize> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let mut leaders = Vec::new();
        let mut answered = 0;
        for (i, port) in ports.iter().enumerate() {
            if let Some(text) = metrics(http, *port).await {
                answered += 1;
                if sample(&text, "hyperfleet_sentinel_leader") == Some(1) {
                    leaders.push(i);
                }
            }
        }
        if answered == ports.len() && leaders.len() == 1 {
            return Ok(leaders[0]);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("no single sentinel led within 60 s")
}

/// The child processes of a scenario, killed on drop.
#[derive(Default)]
struct Processes {
    children: Vec<(String, Child)>,
}

impl Processes {
    fn command(binary: &Path, args: &[&str], log: &PathBuf) -> Result<Command> {
        let file = std::fs::File::create(log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let mut command = Command::new(binary);
        command
            .args(args)
            .env("RUST_LOG", "warn")
            .env_remove("HYPERFLEET_TOKEN")
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file);
        Ok(command)
    }

    fn start(&mut self, name: &str, binary: &Path, args: &[&str], log: &PathBuf) -> Result<()> {
        let child = Self::command(binary, args, log)?
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        self.children.push((name.to_string(), child));
        Ok(())
    }

    fn run_to_end(&mut self, binary: &Path, args: &[&str], log: &PathBuf) -> Result<()> {
        let status = Self::command(binary, args, log)?.status()?;
        ensure!(status.success(), "{args:?} failed; see {}", log.display());
        Ok(())
    }

    /// SIGKILL `name`.
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

/// A round-robin TCP balancer over the API replicas, for the sentinels and
/// adapters: each new connection goes to the next replica that accepts it.
struct Balancer {
    addr: SocketAddr,
    backends: Arc<std::sync::Mutex<Vec<SocketAddr>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Balancer {
    async fn start(backends: Vec<SocketAddr>) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let backends = Arc::new(std::sync::Mutex::new(backends));
        let shared = backends.clone();
        let turn = Arc::new(AtomicUsize::new(0));
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let candidates = shared.lock().map(|b| b.clone()).unwrap_or_default();
                let first = turn.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    for k in 0..candidates.len() {
                        let backend = candidates[(first + k) % candidates.len()];
                        if let Ok(mut outbound) = TcpStream::connect(backend).await {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                            return;
                        }
                    }
                });
            }
        });
        Ok(Balancer {
            addr,
            backends,
            task,
        })
    }

    /// Stop sending new connections to `backend` (a health check would
    /// notice the refused connections; this is quicker).
    fn remove(&self, backend: SocketAddr) {
        if let Ok(mut backends) = self.backends.lock() {
            backends.retain(|b| *b != backend);
        }
    }
}

impl Drop for Balancer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
