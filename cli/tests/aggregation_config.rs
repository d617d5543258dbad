//! The aggregation config through the real binary: a config that would
//! leave an adapter waiting forever (a cycle, an unknown `after`, a
//! duplicate) stops `serve`, `dev` and `config check` with exit status 2 and
//! the problem named, before any database is opened, on either backend's
//! URL; a good file passes `config check`.

use std::process::{Command, Output};

const CYCLE: &str = "\
cluster:
  adapters:
    - name: validation
      after: [infrastructure]
    - name: dns
      after: [validation]
    - name: infrastructure
      after: [dns]
";

const UNKNOWN: &str = "\
nodepool:
  adapters:
    - name: validation
    - name: infrastructure
      after: [validaton]
";

const DUPLICATE: &str = "\
cluster:
  adapters:
    - name: dns
    - name: dns
";

fn hyperfleet(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hyperfleet"))
        .args(args)
        // The environment must not change what the flags say.
        .env_remove("HYPERFLEET_AGGREGATION_CONFIG")
        .env_remove("HYPERFLEET_CLUSTER_ADAPTERS")
        .env_remove("HYPERFLEET_NODEPOOL_ADAPTERS")
        .output()
        .expect("hyperfleet runs")
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("the file is written");
    path.display().to_string()
}

fn expect_config_error(output: &Output, problem: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "exit status 2; stderr: {stderr}"
    );
    assert!(stderr.contains(problem), "{problem:?} named in: {stderr}");
}

#[test]
fn bad_configs_stop_every_command_with_status_2() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let cases = [
        (
            write(&dir, "cycle.yaml", CYCLE),
            "cluster: the adapters form a cycle: validation -> infrastructure -> dns -> validation",
        ),
        (
            write(&dir, "unknown.yaml", UNKNOWN),
            "nodepool: adapter \"infrastructure\" comes after \"validaton\", which is not a listed adapter",
        ),
        (
            write(&dir, "duplicate.yaml", DUPLICATE),
            "cluster: adapter \"dns\" is listed twice",
        ),
    ];
    let sqlite = format!("sqlite://{}", dir.path().join("never.db").display());
    let postgres = "postgres://postgres@127.0.0.1:5432/postgres".to_string();
    for (file, problem) in &cases {
        expect_config_error(&hyperfleet(&["config", "check", file]), problem);
        for url in [&sqlite, &postgres] {
            let serve = hyperfleet(&[
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database-url",
                url,
                "--aggregation-config",
                file,
            ]);
            expect_config_error(&serve, problem);
        }
        let dev = hyperfleet(&[
            "dev",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            &sqlite,
            "--aggregation-config",
            file,
        ]);
        expect_config_error(&dev, problem);
    }
    // Checked before anything is opened: no database file was created.
    assert!(!dir.path().join("never.db").exists());
}

#[test]
fn the_environment_variable_names_the_file_too() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = write(&dir, "cycle.yaml", CYCLE);
    let output = Command::new(env!("CARGO_BIN_EXE_hyperfleet"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database-url"])
        .arg(format!(
            "sqlite://{}",
            dir.path().join("never.db").display()
        ))
        .env("HYPERFLEET_AGGREGATION_CONFIG", &file)
        .env_remove("HYPERFLEET_CLUSTER_ADAPTERS")
        .env_remove("HYPERFLEET_NODEPOOL_ADAPTERS")
        .output()
        .expect("hyperfleet runs");
    expect_config_error(&output, "the adapters form a cycle");
}

#[test]
fn a_missing_file_is_a_config_error() {
    let output = hyperfleet(&["config", "check", "/nonexistent/aggregation.yaml"]);
    expect_config_error(&output, "/nonexistent/aggregation.yaml");
}

#[test]
fn a_good_file_passes_and_shows_the_order() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = write(
        &dir,
        "good.yaml",
        "cluster:\n  adapters:\n    - name: validation\n    - name: dns\n      after: [validation]\n",
    );
    let output = hyperfleet(&["config", "check", &file]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        stdout.contains("cluster: validation; dns after validation"),
        "{stdout}"
    );
    // The kind the file leaves out keeps the default order.
    assert!(
        stdout.contains("nodepool: validation; infrastructure after validation"),
        "{stdout}"
    );
}

#[test]
fn the_flags_and_the_file_do_not_mix() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = write(&dir, "good.yaml", "cluster:\n  adapters: []\n");
    let output = hyperfleet(&[
        "serve",
        "--aggregation-config",
        &file,
        "--cluster-adapters",
        "dns",
    ]);
    // clap's usage error: status 2 as well.
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot be used with"));
}
