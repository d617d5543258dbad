//! The spec-diff corpus: every directory under `tests/spec_diff/` holds an
//! `old.yaml`, a `new.yaml` and the `expected.json` classification of the
//! changes between them, written by hand. Each rule has a breaking and a
//! compatible case (or a request and a response one, where direction is
//! what flips the class).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use xtask::spec_diff;

/// The corpus must not shrink below what the contract tooling promises.
const MIN_CASES: usize = 40;

fn corpus() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/spec_diff");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", root.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_dir())
        .collect();
    cases.sort();
    cases
}

/// (class, rule, path) of each change, sorted.
fn triples(changes: &[Value]) -> Vec<(String, String, String)> {
    let field = |c: &Value, k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let mut out: Vec<_> = changes
        .iter()
        .map(|c| (field(c, "class"), field(c, "rule"), field(c, "path")))
        .collect();
    out.sort();
    out
}

fn run(case: &Path) -> Result<(), String> {
    let load = |name: &str| {
        let path = case.join(name);
        spec_diff::load(&path.to_string_lossy()).map_err(|e| format!("{name}: {e:#}"))
    };
    let report = spec_diff::diff(&load("old.yaml")?, &load("new.yaml")?)
        .map_err(|e| format!("diff failed: {e:#}"))?;
    let expected_path = case.join("expected.json");
    let expected: Value = std::fs::read_to_string(&expected_path)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))?;
    let actual = serde_json::to_value(&report).map_err(|e| e.to_string())?;
    let empty = Vec::new();
    let want = triples(expected["changes"].as_array().unwrap_or(&empty));
    let got = triples(actual["changes"].as_array().unwrap_or(&empty));
    if want != got {
        return Err(format!(
            "expected:\n  {}\ngot:\n  {}\n(human output:\n{})",
            want.iter()
                .map(|t| format!("{t:?}"))
                .collect::<Vec<_>>()
                .join("\n  "),
            got.iter()
                .map(|t| format!("{t:?}"))
                .collect::<Vec<_>>()
                .join("\n  "),
            report.human()
        ));
    }
    if expected["breaking"].as_bool() != Some(report.is_breaking()) {
        return Err(format!(
            "expected breaking = {}, got {}",
            expected["breaking"],
            report.is_breaking()
        ));
    }
    Ok(())
}

#[test]
fn every_corpus_pair_is_classified_as_expected() {
    let cases = corpus();
    assert!(
        cases.len() >= MIN_CASES,
        "the corpus has {} pairs, fewer than {MIN_CASES}",
        cases.len()
    );
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            run(case).err().map(|why| {
                let name = case.file_name().unwrap_or_default().to_string_lossy();
                format!("--- {name}\n{why}")
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} pairs differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Each rule family appears as breaking in some pair and as compatible in
/// another (a family is a rule id without its request-/response- prefix).
#[test]
fn every_rule_is_covered_both_ways() {
    let mut breaking = BTreeSet::new();
    let mut compatible = BTreeSet::new();
    for case in corpus() {
        let text = std::fs::read_to_string(case.join("expected.json")).unwrap_or_default();
        let expected: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        for change in expected["changes"].as_array().into_iter().flatten() {
            let rule = change["rule"].as_str().unwrap_or("");
            let family = rule
                .strip_prefix("request-")
                .or_else(|| rule.strip_prefix("response-"))
                .unwrap_or(rule)
                .to_string();
            match change["class"].as_str() {
                Some("breaking") => breaking.insert(family),
                Some("compatible") => compatible.insert(family),
                _ => false,
            };
        }
    }
    // Families that are one-sided by nature, with their counterpart family.
    let counterparts = [
        ("operation-removed", "operation-added"),
        ("operation-id-changed", "path-parameter-renamed"),
        ("parameter-removed", "parameter-added-optional"),
        ("parameter-added-required", "parameter-added-optional"),
        ("parameter-became-required", "parameter-became-optional"),
        ("parameter-location-changed", "parameter-added-optional"),
        ("body-added-required", "body-added-optional"),
        ("body-became-required", "body-became-optional"),
        ("body-removed", "body-added-optional"),
        ("success-status-removed", "error-status-removed"),
        ("success-status-removed", "status-added"),
        ("header-removed", "header-added"),
        ("header-became-optional", "header-became-required"),
        ("type-changed", "type-widened"),
        ("default-changed", "property-added"),
        ("enum-value-removed", "enum-value-added"),
        ("media-type-removed", "media-type-added"),
        ("variant-removed", "variant-added"),
        ("pattern-changed", "constraint-loosened"),
        ("security-added", "security-removed"),
        ("security-requirement-removed", "security-requirement-added"),
        (
            "security-scheme-required",
            "security-scheme-no-longer-required",
        ),
        ("security-scope-added", "security-scope-removed"),
        ("security-scheme-removed", "security-scheme-added"),
        ("security-scheme-type-changed", "security-scheme-added"),
        ("security-http-scheme-changed", "security-scheme-added"),
        ("security-api-key-moved", "security-scheme-added"),
        ("security-bearer-format-changed", "security-scheme-added"),
        ("security-flow-removed", "security-flow-added"),
        ("security-flow-scope-removed", "security-flow-scope-added"),
    ];
    let mut uncovered = Vec::new();
    for family in breaking.union(&compatible) {
        let both = breaking.contains(family) && compatible.contains(family);
        let paired = counterparts.iter().any(|(b, c)| {
            (family == b || family == c) && breaking.contains(*b) && compatible.contains(*c)
        });
        if !both && !paired {
            uncovered.push(family.clone());
        }
    }
    assert!(
        uncovered.is_empty(),
        "rules covered one way only: {uncovered:?}"
    );
}

/// The checked-in contract compared with itself has nothing to report.
#[test]
fn the_contract_equals_itself() {
    let path = xtask::workspace_root().join("openapi.yaml");
    let document = spec_diff::load(&path.to_string_lossy()).expect("openapi.yaml loads");
    let report = spec_diff::diff(&document, &document).expect("diff runs");
    assert!(report.changes.is_empty(), "{}", report.human());
}
