//! `cargo xtask docs-check`: render `/docs` of a running `hyperfleet serve`
//! in headless Chromium, as a reader's browser would, and check from the
//! DOM that every operation of openapi.yaml is there: a section
//! `id="op-<operationId>"` that shows its path.
//!
//! The server runs with `--auth` and Chromium sends no token, so this also
//! checks that the page is open while the API is not. Chromium is the
//! Debian package (`.ci/run` installs it when missing), or the binary
//! `HYPERFLEET_CHROMIUM` names; it runs with a fresh profile and every
//! background fetch off, and the page itself loads nothing else.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::schemathesis::{
    Server, build_server, free_port, mint_admin_token, print_tail, target_dir, wait_until_healthy,
};
use crate::{openapi, workspace_root};

pub fn run() -> Result<()> {
    let expected = operations(&openapi::path())?;
    let server_bin = build_server()?;
    let work = target_dir().join("docs-check");
    std::fs::create_dir_all(&work).with_context(|| format!("cannot create {}", work.display()))?;
    let data = tempfile::tempdir().context("cannot make a temp dir")?;
    let (_token, auth_file) = mint_admin_token(&server_bin, data.path())?;
    let port = free_port()?;
    let log_path = work.join("server.log");
    let log = std::fs::File::create(&log_path)
        .with_context(|| format!("cannot create {}", log_path.display()))?;
    let mut server = Server(
        Command::new(&server_bin)
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
            .stderr(log)
            .current_dir(workspace_root())
            .spawn()
            .context("cannot start the server")?,
    );
    wait_until_healthy(&mut server.0, port, &log_path)?;
    let dom = dump_dom(&format!("http://127.0.0.1:{port}/docs"), data.path());
    let stopped = server.stop();
    let dom = match dom {
        Ok(dom) => dom,
        Err(error) => {
            print_tail(&log_path);
            return Err(error);
        }
    };
    stopped?;
    let missing = missing(&dom, &expected);
    if !missing.is_empty() {
        bail!(
            "/docs as Chromium renders it lacks {} operation(s):\n{}",
            missing.len(),
            missing.join("\n")
        );
    }
    println!(
        "docs-check: /docs shows all {} operations of openapi.yaml",
        expected.len()
    );
    Ok(())
}

/// `(operationId, path)` of every operation in the document.
pub fn operations(path: &Path) -> Result<Vec<(String, String)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let document: Value =
        yaml_serde::from_str(&text).with_context(|| format!("{} is not YAML", path.display()))?;
    let mut operations = Vec::new();
    for (path, item) in document
        .get("paths")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        for operation in item.as_object().into_iter().flat_map(|o| o.values()) {
            if let Some(id) = operation.get("operationId").and_then(Value::as_str) {
                operations.push((id.to_string(), path.clone()));
            }
        }
    }
    if operations.is_empty() {
        bail!("{} has no operations", path.display());
    }
    Ok(operations)
}

/// The operations the DOM does not show: no section of that id, or one
/// whose text lacks the path.
pub fn missing(dom: &str, expected: &[(String, String)]) -> Vec<String> {
    let mut missing = Vec::new();
    for (id, path) in expected {
        let marker = format!("id=\"op-{id}\"");
        let Some(start) = dom.find(&marker) else {
            missing.push(format!("{id} ({path}): no section"));
            continue;
        };
        let section = &dom[start..];
        let end = section.find("</section>").unwrap_or(section.len());
        if !section[..end].contains(&format!(">{path}<")) {
            missing.push(format!("{id} ({path}): the section does not show the path"));
        }
    }
    missing
}

/// The DOM after Chromium loaded and laid out `url`.
fn dump_dom(url: &str, scratch: &Path) -> Result<String> {
    let chromium = std::env::var("HYPERFLEET_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let profile = scratch.join("chromium-profile");
    let output = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .with_context(|| {
            format!("cannot run {chromium} (the Debian package `chromium`; .ci/run installs it)")
        })?;
    if !output.status.success() {
        bail!(
            "{chromium} failed with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let dom = String::from_utf8(output.stdout).context("the DOM is not UTF-8")?;
    if !dom.contains("<main>") {
        bail!("{chromium} did not render the reference page; it printed:\n{dom}");
    }
    Ok(dom)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_missing_sections_and_paths() {
        let expected = vec![
            ("a_view".to_string(), "/a/{a}".to_string()),
            ("b_view".to_string(), "/b".to_string()),
            ("c_view".to_string(), "/c".to_string()),
        ];
        let dom = "<section id=\"op-a_view\"><code>/a/{a}</code></section>\
                   <section id=\"op-b_view\"><code>/elsewhere</code></section><p>/b</p>";
        assert_eq!(
            missing(dom, &expected),
            vec![
                "b_view (/b): the section does not show the path".to_string(),
                "c_view (/c): no section".to_string(),
            ]
        );
    }

    #[test]
    fn reads_every_operation_of_the_contract() -> Result<()> {
        let operations = operations(&openapi::path())?;
        assert!(
            operations
                .iter()
                .any(|(id, path)| id == "cluster_create" && path == "/api/hyperfleet/v1/clusters")
        );
        Ok(())
    }
}
