//! `cargo xtask schemathesis`: property-based tests of a running `hyperfleet
//! serve` against openapi.yaml, with every schemathesis check.
//!
//! Schemathesis comes from PyPI at a pinned version, into a venv under
//! `target/` (made on first use, reused while the version matches). The
//! server is the debug build on a free 127.0.0.1 port and a fresh SQLite
//! file. It runs twice, in the two configurations whose contracts differ:
//!
//! - default required adapters: DELETE answers 202 and the resource stays,
//!   `Terminating`, until adapters finalize (docs/lifecycle.md). Here the
//!   `use_after_free` check ("a resource is gone once DELETE succeeded") is
//!   inapplicable: an asynchronous delete keeps it readable by contract. It
//!   is the only check left out, and only in this run;
//! - no required adapters: DELETE has nothing to wait for and removes the
//!   resource at once, so `use_after_free` applies and runs with the rest.
//!
//! `xtask/schemathesis/hooks.py` teaches schemathesis the rules OpenAPI 3.0
//! cannot state (label key syntax, required condition types); see its header.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::{openapi, workspace_root};

/// The schemathesis release CI uses; bump deliberately, it changes checks.
pub const VERSION: &str = "4.32.5";
/// Test cases per operation and phase: enough to find what the checks
/// find, few enough for a few minutes on two cores.
const MAX_EXAMPLES: &str = "50";
/// A fixed seed, so a CI failure reproduces (`HYPERFLEET_SCHEMATHESIS_SEED`
/// overrides it to explore further).
const DEFAULT_SEED: &str = "20261126";

/// One server configuration and the checks it leaves out, with the reason.
struct Run {
    name: &'static str,
    adapters: Option<&'static str>,
    exclude_checks: &'static [&'static str],
}

const RUNS: [Run; 2] = [
    Run {
        name: "default required adapters (asynchronous delete)",
        adapters: None,
        exclude_checks: &["use_after_free"],
    },
    Run {
        name: "no required adapters (delete completes at once)",
        adapters: Some(""),
        exclude_checks: &[],
    },
];

pub fn run() -> Result<()> {
    let root = workspace_root();
    let work = target_dir().join("schemathesis");
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let schemathesis = install(&work)?;
    let server = build_server()?;
    let mut failed = Vec::new();
    for (index, run) in RUNS.iter().enumerate() {
        println!("==> schemathesis {VERSION}, server with {}", run.name);
        let passed = run_once(&root, &work, &schemathesis, &server, run, index)?;
        if !passed {
            failed.push(run.name);
        }
    }
    if !failed.is_empty() {
        bail!("schemathesis found problems with: {}", failed.join("; "));
    }
    println!("schemathesis: no findings in {} runs", RUNS.len());
    Ok(())
}

pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// The venv's `schemathesis`, installed at [`VERSION`] if it is not yet.
fn install(work: &Path) -> Result<PathBuf> {
    let venv = work.join("venv");
    let bin = venv.join("bin");
    let schemathesis = bin.join("schemathesis");
    let installed = Command::new(&schemathesis)
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains(VERSION))
        .unwrap_or(false);
    if installed {
        return Ok(schemathesis);
    }
    println!("installing schemathesis {VERSION} into {}", venv.display());
    let python = std::env::var("HYPERFLEET_PYTHON").unwrap_or_else(|_| "python3".into());
    status(
        Command::new(&python)
            .args(["-m", "venv", "--clear"])
            .arg(&venv),
        "create the schemathesis venv",
    )?;
    status(
        Command::new(bin.join("pip")).args([
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &format!("schemathesis=={VERSION}"),
        ]),
        "install schemathesis",
    )?;
    Ok(schemathesis)
}

pub(crate) fn build_server() -> Result<PathBuf> {
    status(
        Command::new("cargo")
            .args([
                "build",
                "--quiet",
                "-p",
                "hyperfleet",
                "--bin",
                "hyperfleet",
            ])
            .current_dir(workspace_root()),
        "build the server",
    )?;
    Ok(target_dir().join("debug/hyperfleet"))
}

/// One schemathesis run against a fresh server; `Ok(false)` on findings.
fn run_once(
    root: &Path,
    work: &Path,
    schemathesis: &Path,
    server_bin: &Path,
    run: &Run,
    index: usize,
) -> Result<bool> {
    let data = tempfile::tempdir().context("cannot make a temp dir for SQLite")?;
    let port = free_port()?;
    let log_path = work.join(format!("server-{index}.log"));
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    // The contract declares bearer auth, so the server runs with it on (or
    // schemathesis' ignored_auth check rightly fails); schemathesis calls
    // with an admin token minted for this run.
    let (token, auth_file) = mint_admin_token(server_bin, data.path())?;
    let mut command = Command::new(server_bin);
    command
        .arg("serve")
        .arg("--auth")
        .arg(&auth_file)
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--database-url")
        .arg(format!(
            "sqlite://{}?mode=rwc",
            data.path().join("hyperfleet.db").display()
        ))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    if let Some(adapters) = run.adapters {
        command
            .arg("--cluster-adapters")
            .arg(adapters)
            .arg("--nodepool-adapters")
            .arg(adapters);
    }
    let mut server = Server(command.spawn().context("cannot start the server")?);
    wait_until_healthy(&mut server.0, port, &log_path)?;

    let seed = std::env::var("HYPERFLEET_SCHEMATHESIS_SEED").unwrap_or(DEFAULT_SEED.into());
    let mut st = Command::new(schemathesis);
    st.arg("run")
        .arg(openapi::path())
        .args(["--url", &format!("http://127.0.0.1:{port}")])
        .args(["--checks", "all"])
        .args(["--max-examples", MAX_EXAMPLES])
        .args(["--seed", &seed])
        // One worker: schemathesis' worker threads parse Python source
        // concurrently, which trips a CPython 3.11 bug ("AST constructor
        // recursion depth mismatch") as a random runtime error.
        .args(["--workers", "1"])
        .args(["--request-timeout", "30"])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .env(
            "SCHEMATHESIS_HOOKS",
            root.join("xtask/schemathesis/hooks.py"),
        )
        .env("NO_COLOR", "1")
        .current_dir(work)
        .stdin(Stdio::null());
    if !run.exclude_checks.is_empty() {
        st.args(["--exclude-checks", &run.exclude_checks.join(",")]);
    }
    let outcome = st.status().context("cannot run schemathesis")?;
    let stopped = server.stop();
    if !outcome.success() {
        print_tail(&log_path);
    }
    stopped?;
    Ok(outcome.success())
}

/// `hyperfleet token new` for an admin; returns the token and an auth file
/// holding its line.
pub(crate) fn mint_admin_token(server_bin: &Path, dir: &Path) -> Result<(String, PathBuf)> {
    let output = Command::new(server_bin)
        .args([
            "token",
            "new",
            "--subject",
            "schemathesis",
            "--role",
            "admin",
        ])
        .output()
        .context("cannot run `hyperfleet token new`")?;
    if !output.status.success() {
        bail!(
            "`hyperfleet token new` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    let [token, entry] = lines.as_slice() else {
        bail!("unexpected output of `hyperfleet token new`: {text}");
    };
    let file = dir.join("auth.json");
    std::fs::write(&file, format!("{{{entry}}}\n"))
        .with_context(|| format!("cannot write {}", file.display()))?;
    Ok((token.trim().to_string(), file))
}

/// A port that was free a moment ago (the server binds it right after).
pub(crate) fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("cannot find a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Poll `GET /healthz` until it answers 200, the server exits, or 60 s pass.
pub(crate) fn wait_until_healthy(server: &mut Child, port: u16, log: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = server.try_wait()? {
            print_tail(log);
            bail!("the server exited before it was ready: {status}");
        }
        if healthz(port).unwrap_or(false) {
            return Ok(());
        }
        if Instant::now() > deadline {
            print_tail(log);
            bail!("the server did not answer /healthz within 60 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn healthz(port: u16) -> std::io::Result<bool> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.write_all(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"))
}

/// The server process; stopped (SIGTERM, then kill) when dropped too, so an
/// error on the way never leaves it running.
pub(crate) struct Server(pub(crate) Child);

impl Server {
    /// SIGTERM, as an orchestrator would stop it; kill after 10 s.
    pub(crate) fn stop(&mut self) -> Result<()> {
        if self.0.try_wait()?.is_some() {
            return Ok(());
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.0.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.0.kill()?;
        self.0.wait()?;
        bail!("the server did not stop within 10 s of SIGTERM")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

pub(crate) fn print_tail(log: &Path) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(40);
    println!("--- last lines of {}:", log.display());
    for line in &lines[start..] {
        println!("{line}");
    }
}

fn status(command: &mut Command, what: &str) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot {what}: {command:?}"))?;
    if !status.success() {
        bail!("could not {what}: {command:?} exited with {status}");
    }
    Ok(())
}
