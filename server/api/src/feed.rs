//! Wire types of the change feed, resource versions, preconditions and
//! idempotent creates (docs/watch.md): the request and response headers,
//! the query of `GET /events`, and their pure parsing.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode, FieldError};
use crate::filter::{LabelSelector, parse_label_selector, parse_name_filter, parse_phases};
use crate::resource::Phase;

/// Longest `Idempotency-Key` accepted, in characters.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 255;
/// How long a watch stream lasts unless `timeout_seconds` says otherwise.
pub const DEFAULT_WATCH_TIMEOUT_SECONDS: u32 = 300;
/// The longest a watch stream may be asked to last.
pub const MAX_WATCH_TIMEOUT_SECONDS: u32 = 3600;

/// The request headers of a PATCH or DELETE.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
pub struct PreconditionHeaders {
    /// Change the resource only if its current `resource_version` is this
    /// one: the `ETag` of an earlier answer, quoted (`"42"`), a
    /// comma-separated list of them, or `*` (any version). Otherwise the
    /// answer is 412 `PreconditionFailed`, whose message names the current
    /// version, and nothing changes. Without the header the change is
    /// unconditional.
    #[serde(rename = "If-Match")]
    pub if_match: Option<String>,
}

/// The request headers of a create.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
pub struct CreateHeaders {
    /// Makes a retried create safe: 1-255 visible ASCII characters chosen by
    /// the client, new for each resource it means to create. A repeat with
    /// the same key and the same body within 24 hours answers as the first
    /// request did (same status and body, plus `Idempotent-Replayed: true`)
    /// and creates nothing; the same key with another body is 422
    /// `IdempotencyKeyReused`; a repeat while the first is still being
    /// answered is 409 `IdempotencyKeyInFlight`. With authentication on,
    /// keys are per caller.
    #[serde(rename = "Idempotency-Key")]
    pub idempotency_key: Option<String>,
}

/// The response headers of an operation that answers with one resource.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct ResourceHeaders {
    /// The resource's `resource_version`, quoted: send it back in `If-Match`
    /// to change the resource only if nobody else has since.
    #[serde(rename = "ETag")]
    pub etag: String,
}

/// The response headers of a create.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct CreatedHeaders {
    /// The new resource's `resource_version`, quoted.
    #[serde(rename = "ETag")]
    pub etag: String,
    /// `true` when this answer is the replay of an earlier request with the
    /// same `Idempotency-Key`; absent otherwise.
    #[serde(
        rename = "Idempotent-Replayed",
        skip_serializing_if = "Option::is_none"
    )]
    pub idempotent_replayed: Option<String>,
}

/// Dropshot describes a streaming answer as "anything": say what it is, a
/// `text/event-stream`, with an example, beside the error answers every
/// operation has.
pub(crate) fn describe_event_stream(document: &mut serde_json::Value) {
    let Some(responses) = document
        .pointer_mut("/paths/~1api~1hyperfleet~1v1~1events/get/responses")
        .and_then(serde_json::Value::as_object_mut)
    else {
        return;
    };
    responses.remove("default");
    let example = concat!(
        ": watching after 41\n\n",
        "id: 42\nevent: MODIFIED\n",
        "data: {\"kind\":\"Cluster\",\"object\":{\"kind\":\"Cluster\",\"id\":\"...\",",
        "\"resource_version\":\"42\",\"status\":{\"phase\":\"Ready\"}}}\n\n",
        ": keep-alive\n\n"
    );
    responses.insert(
        "200".into(),
        serde_json::json!({
            "description": "The stream of events, one per change, until `timeout_seconds`.",
            "content": {
                "text/event-stream": {
                    "schema": { "type": "string" },
                    "example": example,
                }
            }
        }),
    );
    for range in ["4XX", "5XX"] {
        responses.insert(
            range.into(),
            serde_json::json!({ "$ref": "#/components/responses/Error" }),
        );
    }
}

/// The `ETag` value of a resource version.
pub fn etag(resource_version: &str) -> String {
    format!("\"{resource_version}\"")
}

/// A parsed `If-Match`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: any current version.
    Any,
    /// One of these versions.
    Versions(Vec<String>),
}

impl IfMatch {
    /// Whether `current` satisfies the precondition.
    pub fn matches(&self, current: &str) -> bool {
        match self {
            IfMatch::Any => true,
            IfMatch::Versions(versions) => versions.iter().any(|v| v == current),
        }
    }
}

/// Parse an `If-Match` header: `*`, or entity tags separated by commas.
/// A weak tag (`W/"1"`) never matches (RFC 9110 compares strongly); a bare
/// unquoted version is taken as if quoted.
pub fn parse_if_match(value: &str) -> Result<IfMatch, Error> {
    let value = value.trim();
    if value == "*" {
        return Ok(IfMatch::Any);
    }
    let mut versions = Vec::new();
    for tag in value.split(',').map(str::trim) {
        if tag.is_empty() {
            continue;
        }
        if tag.starts_with("W/") {
            continue;
        }
        let inner = tag
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .unwrap_or(tag);
        if inner.contains('"') {
            return Err(header_error("If-Match", "not a list of entity tags"));
        }
        versions.push(inner.to_string());
    }
    if versions.is_empty() && !value.split(',').any(|t| t.trim().starts_with("W/")) {
        return Err(header_error(
            "If-Match",
            "empty: send a quoted resource_version or *",
        ));
    }
    Ok(IfMatch::Versions(versions))
}

/// Check an `Idempotency-Key`: 1-255 visible ASCII characters.
pub fn check_idempotency_key(key: &str) -> Result<(), Error> {
    let ok = (1..=MAX_IDEMPOTENCY_KEY_LEN).contains(&key.len())
        && key.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(header_error(
            "Idempotency-Key",
            "must be 1-255 visible ASCII characters",
        ))
    }
}

fn header_error(field: &str, message: &str) -> Error {
    Error {
        details: vec![FieldError {
            field: field.into(),
            message: message.into(),
        }],
        ..Error::new(
            ErrorCode::BadRequest,
            format!("bad header {field}: {message}"),
        )
    }
}

/// The request headers of `GET /events`.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
pub struct EventWatchHeaders {
    /// The `id` of the last event received; what a browser's `EventSource`
    /// sends when it reconnects. The same as `since`, which wins when both
    /// are given.
    #[serde(rename = "Last-Event-ID")]
    pub last_event_id: Option<String>,
}

/// Query parameters of `GET /events`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventWatchParams {
    /// Resume right after this position (a `resource_version`: of a list,
    /// of a resource, or the `id` of the last event received), with no gap
    /// and no repeat. Without it the stream starts at the present. A
    /// position older than the retained log is 410 `ResourceVersionTooOld`:
    /// list again and watch from the list's `resource_version`.
    #[schemars(regex(pattern = r"^[0-9]{1,18}$"))]
    pub since: Option<String>,
    /// Only these kinds: `Cluster`, `NodePool`, or both comma-separated
    /// (default both).
    #[schemars(regex(pattern = r"^(Cluster|NodePool)(,(Cluster|NodePool))?$"))]
    pub kinds: Option<String>,
    /// Label selector, as for lists: only resources whose labels (after the
    /// change) match.
    #[schemars(regex(path = "crate::filter::LABEL_SELECTOR_PATTERN"))]
    pub labels: Option<String>,
    /// One phase or a comma-separated set, as for lists: only resources in
    /// one of them after the change.
    #[schemars(regex(path = "crate::filter::PHASE_SET_PATTERN"))]
    pub phase: Option<String>,
    /// Exact name, or a glob when it contains `*`.
    #[schemars(regex(path = "crate::filter::NAME_FILTER_PATTERN"))]
    pub name: Option<String>,
    /// Close the stream after this many seconds, 1 to 3600 (default 300);
    /// reconnect with `since` to go on.
    #[schemars(range(min = 1, max = 3600))]
    pub timeout_seconds: Option<u32>,
}

/// Which kinds a watch wants.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchKinds {
    pub clusters: bool,
    pub nodepools: bool,
}

/// A checked watch request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchQuery {
    /// Resume after this position; `None`: from the present.
    pub since: Option<i64>,
    pub kinds: WatchKinds,
    pub labels: Vec<LabelSelector>,
    /// Empty: every phase.
    pub phases: Vec<Phase>,
    /// An exact name, or a glob (`*`: any run of characters), checked.
    pub name: Option<String>,
    /// How long the stream lasts, in seconds.
    pub timeout_seconds: u32,
}

/// Check the query and headers of `GET /events`, collecting every problem.
pub fn check_event_watch(
    params: &EventWatchParams,
    headers: &EventWatchHeaders,
) -> Result<WatchQuery, Error> {
    let mut problems = Vec::new();
    let mut problem = |field: &str, message: String| {
        problems.push(FieldError {
            field: field.into(),
            message,
        })
    };
    let (field, since) = match (&params.since, &headers.last_event_id) {
        (Some(since), _) => ("since", Some(since.trim())),
        (None, Some(last)) => ("Last-Event-ID", Some(last.trim())),
        (None, None) => ("since", None),
    };
    let since = since.and_then(|value| match value.parse::<i64>() {
        Ok(position) if position >= 0 && value.bytes().all(|b| b.is_ascii_digit()) => {
            Some(position)
        }
        _ => {
            problem(field, format!("{value:?} is not a resource_version"));
            None
        }
    });
    let mut kinds = WatchKinds {
        clusters: true,
        nodepools: true,
    };
    if let Some(value) = &params.kinds {
        kinds = WatchKinds {
            clusters: false,
            nodepools: false,
        };
        for kind in value.split(',') {
            match kind {
                "Cluster" => kinds.clusters = true,
                "NodePool" => kinds.nodepools = true,
                other => problem(
                    "kinds",
                    format!("unknown kind {other:?}; known kinds: Cluster, NodePool"),
                ),
            }
        }
    }
    let labels = match params.labels.as_deref().map(parse_label_selector) {
        Some(Ok(labels)) => labels,
        Some(Err(message)) => {
            problem("labels", message);
            Vec::new()
        }
        None => Vec::new(),
    };
    let phases = match params.phase.as_deref().map(parse_phases) {
        Some(Ok(phases)) => phases,
        Some(Err(message)) => {
            problem("phase", message);
            Vec::new()
        }
        None => Vec::new(),
    };
    let name = match params.name.as_deref().map(parse_name_filter) {
        Some(Ok(_)) => params.name.clone(),
        Some(Err(message)) => {
            problem("name", message);
            None
        }
        None => None,
    };
    let timeout_seconds = params
        .timeout_seconds
        .unwrap_or(DEFAULT_WATCH_TIMEOUT_SECONDS);
    if !(1..=MAX_WATCH_TIMEOUT_SECONDS).contains(&timeout_seconds) {
        problem(
            "timeout_seconds",
            format!("must be between 1 and {MAX_WATCH_TIMEOUT_SECONDS}"),
        );
    }
    if !problems.is_empty() {
        let message = match problems.as_slice() {
            [one] => format!("bad query parameter {}: {}", one.field, one.message),
            many => format!("{} query parameters are invalid", many.len()),
        };
        return Err(Error {
            details: problems,
            ..Error::new(ErrorCode::BadRequest, message)
        });
    }
    Ok(WatchQuery {
        since,
        kinds,
        labels,
        phases,
        name,
        timeout_seconds,
    })
}

/// Whether `name` matches the glob `pattern`, where `*` is any run of
/// characters and everything else stands for itself.
pub fn glob_matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let [first, middle @ .., last] = parts.as_slice() else {
        return pattern == name;
    };
    if parts.len() == 1 {
        return pattern == name;
    }
    let Some(mut rest) = name.strip_prefix(first) else {
        return false;
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_lists_star_and_weak_tags() {
        assert_eq!(parse_if_match("*"), Ok(IfMatch::Any));
        assert_eq!(
            parse_if_match("\"3\", \"4\""),
            Ok(IfMatch::Versions(vec!["3".into(), "4".into()]))
        );
        assert_eq!(parse_if_match("7"), Ok(IfMatch::Versions(vec!["7".into()])));
        let weak = parse_if_match("W/\"3\"").expect("weak tags parse");
        assert!(!weak.matches("3"), "a weak tag never matches");
        assert!(parse_if_match("").is_err());
        assert!(parse_if_match("\"a\"b\"").is_err());
    }

    #[test]
    fn idempotency_keys_are_visible_ascii() {
        assert!(check_idempotency_key("retry-1_ABC.~").is_ok());
        assert!(check_idempotency_key("").is_err());
        assert!(check_idempotency_key("has space").is_err());
        assert!(check_idempotency_key("é").is_err());
        assert!(check_idempotency_key(&"k".repeat(255)).is_ok());
        assert!(check_idempotency_key(&"k".repeat(256)).is_err());
    }

    #[test]
    fn globs_match_like_the_list_filter() {
        assert!(glob_matches("my-*", "my-cluster"));
        assert!(glob_matches("*test*", "a-test-b"));
        assert!(glob_matches("a*b*c", "abc"));
        assert!(!glob_matches("a*b*c", "acb"));
        assert!(!glob_matches("ab*ba", "aba"));
        assert!(glob_matches("exact", "exact"));
        assert!(!glob_matches("exact", "exactly"));
    }

    #[test]
    fn a_watch_query_names_every_bad_parameter() {
        let error = check_event_watch(
            &EventWatchParams {
                since: Some("x".into()),
                kinds: Some("Pod".into()),
                timeout_seconds: Some(0),
                ..EventWatchParams::default()
            },
            &EventWatchHeaders::default(),
        )
        .expect_err("three problems");
        let fields: Vec<&str> = error.details.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, ["since", "kinds", "timeout_seconds"]);
        let query = check_event_watch(
            &EventWatchParams::default(),
            &EventWatchHeaders {
                last_event_id: Some("12".into()),
            },
        )
        .expect("a resume point from Last-Event-ID");
        assert_eq!(query.since, Some(12));
        assert_eq!(query.timeout_seconds, DEFAULT_WATCH_TIMEOUT_SECONDS);
    }
}
