//! The value rules of resources (docs/resources.md), checked before anything
//! is stored.
//!
//! Each check appends to a list instead of returning early, so a 400 names
//! every offending field at once.

use uuid::Uuid;

use crate::cluster::{ClusterCreateRequest, ClusterSpec};
use crate::error::{Error, FieldError};
use crate::nodepool::{NodePoolCreateRequest, NodePoolSpec};
use crate::resource::Labels;
use crate::status::{AdapterStatusReport, REQUIRED_CONDITIONS};

/// Longest name, label name part, label value and spec string.
pub const MAX_NAME_LEN: usize = 63;
/// Longest DNS prefix of a label key.
pub const MAX_LABEL_PREFIX_LEN: usize = 253;
/// Most labels on one resource.
pub const MAX_LABELS: usize = 64;
/// Allowed `nodeCount` values.
pub const NODE_COUNT: std::ops::RangeInclusive<i32> = 1..=1000;

/// Collects the offending fields of one request.
#[derive(Debug, Default)]
pub struct Problems(Vec<FieldError>);

impl Problems {
    fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.into(),
            message: message.into(),
        });
    }

    /// `Ok` when nothing was wrong, else a `ValidationFailed` listing it all.
    pub fn into_result(self) -> Result<(), Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::validation(self.0))
        }
    }
}

/// Check a create-cluster request.
pub fn check_cluster_create(request: &ClusterCreateRequest) -> Result<(), Error> {
    let mut problems = Problems::default();
    check_name(&mut problems, "name", &request.name);
    check_cluster_spec(&mut problems, &request.spec);
    check_labels(&mut problems, "labels", &request.labels);
    problems.into_result()
}

/// Check a create-node-pool request.
pub fn check_nodepool_create(request: &NodePoolCreateRequest) -> Result<(), Error> {
    let mut problems = Problems::default();
    check_name(&mut problems, "name", &request.name);
    check_nodepool_spec(&mut problems, &request.spec);
    check_labels(&mut problems, "labels", &request.labels);
    problems.into_result()
}

/// Check a cluster's spec and labels as a patch would leave them.
pub fn check_cluster_fields(spec: &ClusterSpec, labels: &Labels) -> Result<(), Error> {
    let mut problems = Problems::default();
    check_cluster_spec(&mut problems, spec);
    check_labels(&mut problems, "labels", labels);
    problems.into_result()
}

/// Check a node pool's spec and labels as a patch would leave them.
pub fn check_nodepool_fields(spec: &NodePoolSpec, labels: &Labels) -> Result<(), Error> {
    let mut problems = Problems::default();
    check_nodepool_spec(&mut problems, spec);
    check_labels(&mut problems, "labels", labels);
    problems.into_result()
}

/// Largest `data` of a status report, as JSON bytes.
pub const MAX_DATA_BYTES: usize = 64 * 1024;
/// Largest `metadata` of a status report, as JSON bytes.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
/// Deepest nesting of objects and arrays in `data` and `metadata`.
pub const MAX_JSON_DEPTH: usize = 10;

fn depth(value: &serde_json::Value) -> usize {
    match value {
        serde_json::Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        serde_json::Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

fn check_json_object(
    problems: &mut Problems,
    field: &str,
    map: &serde_json::Map<String, serde_json::Value>,
    max_bytes: usize,
) {
    let bytes = serde_json::to_vec(map)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if bytes > max_bytes {
        problems.add(
            field,
            format!("must be at most {max_bytes} bytes of JSON (is {bytes})"),
        );
    }
    let nesting = 1 + map.values().map(depth).max().unwrap_or(0);
    if nesting > MAX_JSON_DEPTH {
        problems.add(
            field,
            format!("must nest at most {MAX_JSON_DEPTH} levels (is {nesting})"),
        );
    }
}

/// What a string holding U+0000 is told. PostgreSQL stores no NUL in text
/// or `jsonb` (the write fails, which would be a 500) while SQLite stores
/// it, so it is refused up front and both backends answer alike.
const NUL_MESSAGE: &str = "must not contain the NUL character (U+0000)";

fn check_no_nul(problems: &mut Problems, field: &str, text: &str) {
    if text.contains('\0') {
        problems.add(field, NUL_MESSAGE);
    }
}

/// Every string of a JSON value, keys included, at any depth: each offender
/// is named by its path (`data.a.b[2]`; a key by the path it would have).
fn check_json_nul(problems: &mut Problems, field: &str, value: &serde_json::Value) {
    match value {
        serde_json::Value::String(text) => check_no_nul(problems, field, text),
        serde_json::Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                check_json_nul(problems, &format!("{field}[{i}]"), item);
            }
        }
        serde_json::Value::Object(map) => check_map_nul(problems, field, map),
        _ => {}
    }
}

fn check_map_nul(
    problems: &mut Problems,
    field: &str,
    map: &serde_json::Map<String, serde_json::Value>,
) {
    for (key, item) in map {
        // The key goes into the path escaped, so the field itself carries
        // no raw control character into responses or logs.
        let path = format!("{field}.{}", key.escape_debug());
        if key.contains('\0') {
            problems.add(path.clone(), format!("key {NUL_MESSAGE}"));
        }
        check_json_nul(problems, &path, item);
    }
}

/// Longest condition reason, in characters (as the schema's `maxLength` counts).
pub const MAX_REASON_LEN: usize = 256;
/// Longest condition or report message, in characters.
pub const MAX_MESSAGE_LEN: usize = 4096;

/// Most conditions in one report: a report is one adapter's view of one
/// resource, and every stored report is returned by `GET .../statuses`, so
/// its size must be bounded.
pub const MAX_CONDITIONS: usize = 32;
/// Most distinct adapters whose reports one resource keeps. With
/// [`MAX_CONDITIONS`] and the `data`/`metadata` limits this bounds
/// `GET .../statuses` by construction. Room is kept for every required
/// adapter that has not reported yet, so they always fit.
pub const MAX_ADAPTERS: usize = 64;

/// Check an adapter status report.
pub fn check_status_report(report: &AdapterStatusReport) -> Result<(), Error> {
    let mut problems = Problems::default();
    if report.conditions.len() > MAX_CONDITIONS {
        problems.add(
            "conditions",
            format!(
                "at most {MAX_CONDITIONS} conditions per report (has {})",
                report.conditions.len()
            ),
        );
    }
    if !is_dns_label(&report.adapter) {
        problems.add("adapter", "must be 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit");
    }
    if report.observed_generation < 1 {
        problems.add("observed_generation", "must be at least 1");
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, condition) in report.conditions.iter().enumerate() {
        let field = format!("conditions[{i}]");
        let kind = &condition.condition_type;
        let kind_ok = (1..=MAX_NAME_LEN).contains(&kind.len())
            && kind.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && kind.bytes().all(|b| b.is_ascii_alphanumeric());
        if !kind_ok {
            problems.add(
                format!("{field}.type"),
                "must be 1-63 letters and digits, starting with a letter",
            );
        } else if !seen.insert(kind.as_str()) {
            problems.add(
                format!("{field}.type"),
                format!("{kind} appears more than once"),
            );
        }
        if condition.reason.chars().count() > MAX_REASON_LEN {
            problems.add(
                format!("{field}.reason"),
                format!("must be at most {MAX_REASON_LEN} characters"),
            );
        }
        if condition.message.chars().count() > MAX_MESSAGE_LEN {
            problems.add(
                format!("{field}.message"),
                format!("must be at most {MAX_MESSAGE_LEN} characters"),
            );
        }
        check_no_nul(&mut problems, &format!("{field}.reason"), &condition.reason);
        check_no_nul(
            &mut problems,
            &format!("{field}.message"),
            &condition.message,
        );
    }
    let missing: Vec<&str> = REQUIRED_CONDITIONS
        .iter()
        .copied()
        .filter(|t| !seen.contains(t))
        .collect();
    if !missing.is_empty() {
        problems.add(
            "conditions",
            format!("missing required condition types: {}", missing.join(", ")),
        );
    }
    check_map_nul(&mut problems, "data", &report.data);
    check_map_nul(&mut problems, "metadata", &report.metadata);
    check_json_object(&mut problems, "data", &report.data, MAX_DATA_BYTES);
    check_json_object(
        &mut problems,
        "metadata",
        &report.metadata,
        MAX_METADATA_BYTES,
    );
    if report
        .message
        .as_ref()
        .is_some_and(|m| m.chars().count() > MAX_MESSAGE_LEN)
    {
        problems.add(
            "message",
            format!("must be at most {MAX_MESSAGE_LEN} characters"),
        );
    }
    if let Some(message) = &report.message {
        check_no_nul(&mut problems, "message", message);
    }
    problems.into_result()
}

fn check_cluster_spec(problems: &mut Problems, spec: &ClusterSpec) {
    check_token(problems, "spec.provider", &spec.provider);
    check_token(problems, "spec.region", &spec.region);
    check_node_count(problems, spec.node_count);
}

fn check_nodepool_spec(problems: &mut Problems, spec: &NodePoolSpec) {
    check_node_count(problems, spec.node_count);
    check_token(problems, "spec.machineType", &spec.machine_type);
}

fn check_node_count(problems: &mut Problems, node_count: i32) {
    if !NODE_COUNT.contains(&node_count) {
        problems.add(
            "spec.nodeCount",
            format!(
                "must be between {} and {}",
                NODE_COUNT.start(),
                NODE_COUNT.end()
            ),
        );
    }
}

/// A resource name: RFC 1123 label that cannot be mistaken for an id.
pub fn check_name(problems: &mut Problems, field: &str, name: &str) {
    if !is_dns_label(name) {
        problems.add(
            field,
            "must be 1-63 lowercase letters, digits or '-', starting and ending with a letter or digit",
        );
    } else if Uuid::parse_str(name).is_ok() {
        problems.add(
            field,
            "must not be a UUID: names and ids share the same path segment",
        );
    }
}

/// Is `value` a name that could belong to a resource? Used to tell a bad
/// path segment from a missing resource.
pub fn is_valid_name(value: &str) -> bool {
    is_dns_label(value) && Uuid::parse_str(value).is_err()
}

fn check_token(problems: &mut Problems, field: &str, value: &str) {
    let ok = (1..=MAX_NAME_LEN).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !ok {
        problems.add(field, "must be 1-63 lowercase letters, digits or '-'");
    }
}

/// Labels in Kubernetes syntax.
pub fn check_labels(problems: &mut Problems, field: &str, labels: &Labels) {
    if labels.len() > MAX_LABELS {
        problems.add(field, format!("at most {MAX_LABELS} labels are allowed"));
    }
    for (key, value) in labels {
        // An invalid key may hold control characters; the field names it
        // escaped, as the message's `{:?}` does.
        let path = format!("{field}.{}", key.escape_debug());
        if let Err(message) = check_label_key(key) {
            problems.add(path.clone(), message);
        }
        if let Err(message) = check_label_value(value) {
            problems.add(path, message);
        }
    }
}

/// A label key: `[prefix/]name`, prefix a DNS subdomain, name at most 63
/// characters of letters, digits, `-`, `_` and `.`, alphanumeric at both ends.
pub fn check_label_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        let ok = !prefix.is_empty()
            && prefix.len() <= MAX_LABEL_PREFIX_LEN
            && prefix.split('.').all(is_dns_label);
        if !ok {
            return Err(format!(
                "label key prefix {prefix:?} must be a DNS subdomain of at most 253 characters"
            ));
        }
    }
    if name.is_empty() || !is_label_word(name) {
        return Err(format!(
            "label key {key:?} must be at most 63 letters, digits, '-', '_' or '.', \
             starting and ending with a letter or digit, with an optional DNS prefix and '/'"
        ));
    }
    Ok(())
}

/// A label value: empty, or like the name part of a key.
pub fn check_label_value(value: &str) -> Result<(), String> {
    if value.is_empty() || is_label_word(value) {
        Ok(())
    } else {
        Err(format!(
            "label value {value:?} must be at most 63 letters, digits, '-', '_' or '.', \
             starting and ending with a letter or digit"
        ))
    }
}

fn is_label_word(value: &str) -> bool {
    let bytes = value.as_bytes();
    let middle_ok = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
    !bytes.is_empty()
        && bytes.len() <= MAX_NAME_LEN
        && bytes.iter().all(middle_ok)
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

fn is_dns_label(value: &str) -> bool {
    let bytes = value.as_bytes();
    let edge_ok = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !bytes.is_empty()
        && bytes.len() <= MAX_NAME_LEN
        && bytes.iter().all(|b| edge_ok(b) || *b == b'-')
        && bytes.first().is_some_and(edge_ok)
        && bytes.last().is_some_and(edge_ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(result: Result<(), Error>) -> Vec<String> {
        match result {
            Ok(()) => Vec::new(),
            Err(error) => error.details.into_iter().map(|d| d.field).collect(),
        }
    }

    #[test]
    fn the_seed_request_is_valid() {
        assert_eq!(
            fields(check_cluster_create(&ClusterCreateRequest::example())),
            Vec::<String>::new()
        );
        assert_eq!(
            fields(check_nodepool_create(&NodePoolCreateRequest::example())),
            Vec::<String>::new()
        );
    }

    #[test]
    fn lists_every_offending_field() {
        let mut request = ClusterCreateRequest::example();
        request.name = "Bad_Name".into();
        request.spec.node_count = 0;
        request.spec.region = "US East".into();
        request.labels.insert("bad key".into(), "ok".into());
        assert_eq!(
            fields(check_cluster_create(&request)),
            ["name", "spec.region", "spec.nodeCount", "labels.bad key"]
        );
    }

    #[test]
    fn names() {
        for good in ["a", "my-test-cluster", "0abc", &"x".repeat(63)] {
            assert!(is_valid_name(good), "{good}");
        }
        let uuid = Uuid::new_v4();
        for bad in [
            String::new(),
            "-a".into(),
            "a-".into(),
            "A".into(),
            "a_b".into(),
            "x".repeat(64),
            uuid.to_string(),
            uuid.simple().to_string(),
        ] {
            assert!(!is_valid_name(&bad), "{bad}");
        }
    }

    #[test]
    fn labels() {
        for good in ["team", "example.io/tier", "a.b_c-d", &"k".repeat(63)] {
            assert_eq!(check_label_key(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "/x",
            "x/",
            "a:b",
            "a,b",
            "-a",
            "Ex.io/a",
            &"k".repeat(64),
        ] {
            assert!(check_label_key(bad).is_err(), "{bad}");
        }
        for good in ["", "production", "v1.2_3"] {
            assert_eq!(check_label_value(good), Ok(()), "{good}");
        }
        for bad in ["a b", "a:b", "a,b", "-x", &"v".repeat(64)] {
            assert!(check_label_value(bad).is_err(), "{bad}");
        }
        let many: Labels = (0..65).map(|i| (format!("k{i}"), String::new())).collect();
        assert_eq!(
            fields({
                let mut p = Problems::default();
                check_labels(&mut p, "labels", &many);
                p.into_result()
            }),
            ["labels"]
        );
    }

    #[test]
    fn status_reports() {
        assert_eq!(
            fields(check_status_report(&AdapterStatusReport::example())),
            Vec::<String>::new()
        );
        let mut report = AdapterStatusReport::example();
        report.adapter = "DNS".into();
        report.observed_generation = 0;
        report.conditions.remove(2);
        report.conditions.push(report.conditions[0].clone());
        report.conditions[1].condition_type = "not ok".into();
        assert_eq!(
            fields(check_status_report(&report)),
            [
                "adapter",
                "observed_generation",
                "conditions[1].type",
                "conditions[2].type",
                "conditions"
            ]
        );
    }

    #[test]
    fn nul_is_refused_in_every_string_of_a_report() {
        let mut report = AdapterStatusReport::example();
        report.message = Some("a\0b".into());
        report.conditions[0].reason = "\0".into();
        report.conditions[1].message = "x\0".into();
        report.data = serde_json::json!({
            "ok": "fine",
            "deep": {"list": [1, "clean", {"k": "v\0"}]},
            "key\0": 1
        })
        .as_object()
        .cloned()
        .unwrap_or_default();
        report.metadata = serde_json::json!({"a": ["\0"]})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let error = check_status_report(&report).expect_err("NUL is refused");
        let mut named: Vec<String> = error.details.iter().map(|d| d.field.clone()).collect();
        named.sort();
        assert_eq!(
            named,
            [
                "conditions[0].reason",
                "conditions[1].message",
                "data.deep.list[2].k",
                "data.key\\0",
                "message",
                "metadata.a[0]",
            ]
        );
        assert!(error.details.iter().all(|d| d.message.contains("U+0000")));
        // Other control characters are text like any other.
        let mut fine = AdapterStatusReport::example();
        fine.message = Some("tab\tnewline\n".into());
        assert!(check_status_report(&fine).is_ok());
    }
}
