//! Database faults for real: the server runs on a PostgreSQL instance this
//! test starts itself (initdb/pg_ctl, its own port and data directory),
//! which is stopped under it and started again. While the database is gone
//! requests answer 503 `Unavailable` (never hang, never 500) and /readyz
//! fails; when it returns the service recovers by itself with nothing lost.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hyperfleet_e2e::calls::{create_cluster, expect_error, list_clusters, view_cluster};
use hyperfleet_e2e::fixtures::cluster_request;
use hyperfleet_e2e::server::{server_config, unavailable};
use hyperfleet_e2e::wait::wait_for;
use hyperfleet_sdk::{Client, types};

/// A PostgreSQL server of the test's own.
struct OwnPostgres {
    _dir: tempfile::TempDir,
    data: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl OwnPostgres {
    fn create() -> Option<OwnPostgres> {
        let Some(bin) = newest_bindir() else {
            return absent("no PostgreSQL server binaries under /usr/lib/postgresql");
        };
        // initdb and postgres refuse to run as root; run them as `postgres`.
        let as_postgres = is_root();
        let dir = tempfile::tempdir().expect("a temp dir");
        let data = dir.path().join("data");
        if as_postgres {
            run(Command::new("chown")
                .arg("-R")
                .arg("postgres")
                .arg(dir.path()));
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let pg = OwnPostgres {
            _dir: dir,
            data,
            bin,
            port,
            as_postgres,
        };
        pg.pg(
            &["initdb", "-U", "postgres", "--auth=trust", "-D"],
            &[&pg.data],
        );
        Some(pg)
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn start(&self) {
        let socket_dir = self
            .data
            .parent()
            .unwrap_or(Path::new("/tmp"))
            .to_path_buf();
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            socket_dir.display()
        );
        let log = self
            .data
            .parent()
            .unwrap_or(Path::new("/tmp"))
            .join("postgres.log");
        self.pg(
            &["pg_ctl", "-w", "-o", &options, "-l"],
            &[&log, Path::new("-D"), &self.data, Path::new("start")],
        );
    }

    fn stop(&self) {
        self.pg(
            &["pg_ctl", "-w", "-m", "fast", "-D"],
            &[&self.data, Path::new("stop")],
        );
    }

    fn pg(&self, words: &[&str], paths: &[&Path]) {
        let mut command = self.command(words[0]);
        command.args(&words[1..]).args(paths);
        run(&mut command);
    }

    /// One of the server's programs, as the user that may run it.
    fn command(&self, program: &str) -> Command {
        let program = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        }
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .args(["-m", "immediate", "-D"])
            .arg(&self.data)
            .arg("stop")
            .output();
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

fn newest_bindir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

fn absent(why: &str) -> Option<OwnPostgres> {
    unavailable(
        "HYPERFLEET_REQUIRE_POSTGRES",
        &format!("the database fault test cannot run: {why}"),
    )
}

async fn answers(client: &Client, name: &str) -> Option<u16> {
    let result = tokio::time::timeout(
        Duration::from_secs(15),
        client.cluster_view().cluster(name).send(),
    )
    .await
    .expect("an answer within 15 s, not a hang");
    match result {
        Ok(response) => Some(response.status().as_u16()),
        Err(error) => error.status().map(|s| s.as_u16()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_503_and_the_service_recovers() {
    let Some(pg) = OwnPostgres::create() else {
        return;
    };
    pg.start();
    let server = hyperfleet_server::start(server_config(pg.url()))
        .await
        .expect("the server starts on its own PostgreSQL");
    let client = Client::new(&format!("http://{}", server.local_addr()));
    let before = create_cluster(&client, "survivor").await;

    pg.stop();
    assert_eq!(answers(&client, "survivor").await, Some(503));
    let down = types::ErrorCode::Unavailable;
    let lost = client.cluster_create().body(cluster_request("lost"));
    expect_error(lost.send().await, 503, down);
    expect_error(client.health_ready().send().await, 503, down);
    assert!(
        client.health_live().send().await.is_ok(),
        "the process itself is alive"
    );

    pg.start();
    wait_for("/readyz to pass again", Duration::from_secs(30), || async {
        client.health_ready().send().await.ok().map(|_| ())
    })
    .await;
    let after = view_cluster(&client, "survivor").await;
    assert_eq!(after, before, "nothing lost");
    create_cluster(&client, "after").await;
    let list = list_clusters(&client).await;
    let names: Vec<String> = list.items.iter().map(|c| c.name.to_string()).collect();
    assert_eq!(
        names,
        ["survivor", "after"],
        "the create refused during the outage left nothing behind"
    );
    server.stop().await.expect("stops");
}
