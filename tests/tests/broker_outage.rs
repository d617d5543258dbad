//! Broker faults for real: the control loop (sentinel and the three
//! reference adapters on the SDK's kit) runs on a RabbitMQ node this test
//! starts itself (`rabbitmq-server` as the `rabbitmq` user, with its own
//! node name, port, distribution port and data directory, and no plugins,
//! so it never touches the machine's node), which is stopped under it and
//! started again. Nothing crashes, both sides reconnect and declare their
//! topology again, and every cluster, created before, at and during the
//! outage, reaches Ready.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hyperfleet_control_loop::reference_adapters::{
    REFERENCE_ADAPTERS, SimulatedAdapter, Simulation,
};
use hyperfleet_control_loop::sentinel::{self, Sentinel, SentinelConfig};
use hyperfleet_e2e::calls::create_cluster;
use hyperfleet_e2e::server::unavailable;
use hyperfleet_e2e::wait::{wait_for, wait_for_phase};
use hyperfleet_e2e::{Backend, TestServer};
use hyperfleet_sdk::adapter::AdapterRuntime;
use hyperfleet_sdk::amqp::{AdapterQueue, Topology};
use hyperfleet_sdk::{Client, types};

const SERVER: &str = "/usr/sbin/rabbitmq-server";
const CTL: &str = "/usr/sbin/rabbitmqctl";

/// A RabbitMQ node of the test's own.
struct OwnRabbit {
    dir: tempfile::TempDir,
    node: String,
    port: u16,
    dist_port: u16,
    as_rabbitmq: bool,
    server: Option<Child>,
}

impl OwnRabbit {
    fn create() -> Option<OwnRabbit> {
        if !Path::new(SERVER).exists() || !Path::new(CTL).exists() {
            return absent(&format!("no {SERVER} or {CTL}"));
        }
        // The node refuses to run as root; run it as `rabbitmq`, which must
        // own its directory (and keeps its Erlang cookie there, as HOME).
        let as_rabbitmq = is_root();
        let dir = tempfile::tempdir().expect("a temp dir");
        for sub in ["mnesia", "log"] {
            std::fs::create_dir(dir.path().join(sub)).expect("a directory");
        }
        let port = free_port();
        let dist_port = free_port();
        let write = |name: &str, text: &str| {
            std::fs::write(dir.path().join(name), text).expect("a config file is written");
        };
        // `listeners.tcp.local` replaces the machine's (which pins 5672).
        write(
            "rabbitmq.conf",
            &format!("listeners.tcp.local = 127.0.0.1:{port}\n"),
        );
        write("enabled_plugins", "[].\n");
        // In place of the machine's rabbitmq-env.conf, which names its node.
        write("rabbitmq-env.conf", "");
        if as_rabbitmq {
            run(Command::new("chown")
                .arg("-R")
                .arg("rabbitmq")
                .arg(dir.path()));
            run(Command::new("chmod").arg("755").arg(dir.path()));
        }
        let node = format!("hf-test-{}@localhost", std::process::id());
        Some(OwnRabbit {
            dir,
            node,
            port,
            dist_port,
            as_rabbitmq,
            server: None,
        })
    }

    fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    /// One of RabbitMQ's programs, as the user that may run it, with the
    /// node's environment.
    fn command(&self, program: &str) -> Command {
        let mut command = if self.as_rabbitmq {
            let mut c = Command::new("runuser");
            c.args(["-u", "rabbitmq", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        let path = |name: &str| -> PathBuf { self.dir.path().join(name) };
        command
            .current_dir(self.dir.path())
            .env("HOME", self.dir.path())
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_CONF_ENV_FILE", path("rabbitmq-env.conf"))
            .env("RABBITMQ_CONFIG_FILE", path("rabbitmq.conf"))
            .env("RABBITMQ_ENABLED_PLUGINS_FILE", path("enabled_plugins"))
            .env("RABBITMQ_MNESIA_BASE", path("mnesia"))
            .env("RABBITMQ_LOG_BASE", path("log"))
            .env("RABBITMQ_DIST_PORT", self.dist_port.to_string())
            .env("ERL_EPMD_ADDRESS", "127.0.0.1")
            .env(
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
                "-kernel inet_dist_use_interface {127,0,0,1}",
            );
        command
    }

    /// Start the node and wait until it takes AMQP connections.
    async fn start(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("server.out")).expect("a log file");
        let child = self
            .command(SERVER)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("the log file"))
            .stderr(log)
            .spawn()
            .expect("rabbitmq-server starts");
        self.server = Some(child);
        let url = self.url();
        wait_for(
            "the private RabbitMQ node to take connections",
            Duration::from_secs(90),
            || async {
                let connect =
                    lapin::Connection::connect(&url, lapin::ConnectionProperties::default());
                let connection = tokio::time::timeout(Duration::from_secs(5), connect)
                    .await
                    .ok()?
                    .ok()?;
                let _ = connection.close(200, "probe".into()).await;
                Some(())
            },
        )
        .await;
    }

    /// Stop the node (as an operator would, `rabbitmqctl stop`) and wait
    /// for its process to end.
    fn stop(&mut self) {
        run(self.command(CTL).args(["-n", &self.node, "stop"]));
        if let Some(mut child) = self.server.take() {
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRabbit {
    fn drop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = self.command(CTL).args(["-n", &self.node, "stop"]).output();
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn run(command: &mut Command) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn absent(why: &str) -> Option<OwnRabbit> {
    unavailable(
        "HYPERFLEET_REQUIRE_RABBITMQ",
        &format!("the broker fault test cannot run: {why}"),
    )
}

const READY_WITHIN: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_outage_is_survived_and_every_cluster_becomes_ready() {
    let Some(mut rabbit) = OwnRabbit::create() else {
        return;
    };
    rabbit.start().await;
    let url = rabbit.url();
    let Some(server) = TestServer::start(Backend::Sqlite).await else {
        return;
    };
    let api = server.base_url.clone();
    let topology = Topology {
        adapters: REFERENCE_ADAPTERS
            .iter()
            .map(|(name, kinds)| AdapterQueue::new(*name, kinds))
            .collect(),
        ..Topology::default()
    };
    let simulation = Simulation {
        work: Duration::from_millis(50),
        failure_rate: 0.0,
        fail_first: 0,
    };
    let mut tasks = Vec::new();
    for (name, kinds) in REFERENCE_ADAPTERS {
        let runtime = AdapterRuntime::new(
            Client::new(&api),
            SimulatedAdapter::new(name, kinds, simulation.clone()),
        )
        .retry_delay(Duration::from_millis(500));
        let (url, topology) = (url.clone(), topology.clone());
        tasks.push(tokio::spawn(async move {
            runtime.run_rabbitmq(&url, &topology).await;
        }));
    }
    let config = SentinelConfig {
        poll_interval: Duration::from_millis(200),
        backoff: Duration::from_secs(2),
        ..SentinelConfig::default()
    };
    let sentinel = Sentinel::new(
        Client::new(&api),
        sentinel::rabbitmq(url.clone(), topology.clone()),
        config,
    );
    let sentinel_metrics = sentinel.metrics();
    tasks.push(tokio::spawn(sentinel.run(std::future::pending())));

    let client = &server.client;
    create_cluster(client, "before").await;
    wait_for_phase(client, "before", types::Phase::Ready, 1, READY_WITHIN).await;

    // One cluster whose events are in flight as the broker goes, and some
    // created while it is away.
    create_cluster(client, "at-the-stop").await;
    rabbit.stop();
    for name in ["during-1", "during-2", "during-3"] {
        create_cluster(client, name).await;
    }
    wait_for(
        "the sentinel to notice the broker is gone",
        Duration::from_secs(30),
        || async { (!sentinel_metrics.leader()).then_some(()) },
    )
    .await;
    for task in &tasks {
        assert!(
            !task.is_finished(),
            "nothing stops while the broker is away"
        );
    }

    rabbit.start().await;
    for name in ["before", "at-the-stop", "during-1", "during-2", "during-3"] {
        wait_for_phase(client, name, types::Phase::Ready, 1, READY_WITHIN).await;
    }
    assert!(
        sentinel_metrics.elected() >= 2,
        "the sentinel took the lock again on the new connection"
    );
    for task in tasks {
        assert!(!task.is_finished(), "nothing stopped");
        task.abort();
    }
}
