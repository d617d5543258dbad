//! List filters: the query parameters of the list
//! operations, and their parsing into checked filters the server turns into
//! SQL.
//!
//! Parsing is pure and collects every offending parameter, so a 400 names
//! them all at once. Query-string problems are `BadRequest` (like an unknown
//! or repeated parameter, which the extractor rejects before this runs),
//! with `details[].field` the parameter's name.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, ErrorCode, FieldError};
use crate::resource::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, Phase, ResourceConditionType};
use crate::status::ConditionStatus;
use crate::validation::{MAX_LABELS, MAX_NAME_LEN, check_label_key, check_label_value};

/// A label selector as the query string carries it: up to 64
/// comma-separated terms, each a label key (optional DNS prefix), optionally
/// `:value`. Published in the contract so generated requests are valid.
pub(crate) const LABEL_SELECTOR_PATTERN: &str = r"^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?(:([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?)?(,([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?(:([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?)?){0,63}$";
/// One phase or a comma-separated set of phases.
pub(crate) const PHASE_SET_PATTERN: &str =
    r"^(Pending|Not Ready|Ready|Terminating)(,(Pending|Not Ready|Ready|Terminating))*$";
/// One `Type:Status` condition term or a comma-separated list of them.
const CONDITION_FILTER_PATTERN: &str = r"^(Reconciled|LastKnownReconciled|AllAdaptersReady|ValidationPassed|Degraded):(True|False|Unknown)(,(Reconciled|LastKnownReconciled|AllAdaptersReady|ValidationPassed|Degraded):(True|False|Unknown))*$";
/// A name, or a glob of one (`*` for any run of characters).
pub(crate) const NAME_FILTER_PATTERN: &str = r"^[a-z0-9*-]{1,63}$";
/// A provider or region, as the spec allows them.
const SPEC_VALUE_PATTERN: &str = r"^[a-z0-9-]{1,63}$";

/// Query parameters of `GET /clusters`. Filters combine with AND; items come
/// oldest first (`created_at`, then `id`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterListParams {
    /// Page number, from 1 (default 1).
    #[schemars(range(min = 1, max = 4_294_967_295u32))]
    pub page: Option<u32>,
    /// Items per page, 1 to 1000 (default 100).
    #[schemars(range(min = 1, max = 1000))]
    pub size: Option<u32>,
    /// Label selector: comma-separated `key:value` pairs, each of which must
    /// match; a bare `key` matches resources that have the key, whatever its
    /// value. Example: `environment:production,team:platform`.
    #[schemars(regex(path = "LABEL_SELECTOR_PATTERN"))]
    pub labels: Option<String>,
    /// One phase, or a comma-separated set of phases of which any matches:
    /// `Pending`, `Not Ready`, `Ready`, `Terminating`. Example:
    /// `Pending,Not Ready`.
    #[schemars(regex(path = "PHASE_SET_PATTERN"))]
    pub phase: Option<String>,
    /// Exact cloud provider, such as `gcp`.
    #[schemars(regex(path = "SPEC_VALUE_PATTERN"))]
    pub provider: Option<String>,
    /// Exact region, such as `us-east1`.
    #[schemars(regex(path = "SPEC_VALUE_PATTERN"))]
    pub region: Option<String>,
    /// Resource conditions: comma-separated `Type:Status` terms, each of
    /// which must hold. Types: `Reconciled`, `LastKnownReconciled`,
    /// `AllAdaptersReady`, `ValidationPassed`, `Degraded`; statuses: `True`,
    /// `False`, `Unknown`. Example: `Reconciled:False`.
    #[schemars(regex(path = "CONDITION_FILTER_PATTERN"))]
    pub condition: Option<String>,
    /// Exact name, or a glob when it contains `*` (any run of characters):
    /// `my-*` for a prefix, `*test*` for a partial match.
    #[schemars(regex(path = "NAME_FILTER_PATTERN"))]
    pub name: Option<String>,
}

/// Query parameters of `GET /clusters/{cluster}/nodepools`. Filters combine
/// with AND; items come oldest first (`created_at`, then `id`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodePoolListParams {
    /// Page number, from 1 (default 1).
    #[schemars(range(min = 1, max = 4_294_967_295u32))]
    pub page: Option<u32>,
    /// Items per page, 1 to 1000 (default 100).
    #[schemars(range(min = 1, max = 1000))]
    pub size: Option<u32>,
    /// Label selector: comma-separated `key:value` pairs, each of which must
    /// match; a bare `key` matches node pools that have the key.
    #[schemars(regex(path = "LABEL_SELECTOR_PATTERN"))]
    pub labels: Option<String>,
    /// One phase, or a comma-separated set of phases of which any matches:
    /// `Pending`, `Not Ready`, `Ready`, `Terminating`.
    #[schemars(regex(path = "PHASE_SET_PATTERN"))]
    pub phase: Option<String>,
    /// Resource conditions: comma-separated `Type:Status` terms, each of
    /// which must hold. Types: `Reconciled`, `LastKnownReconciled`,
    /// `AllAdaptersReady`, `ValidationPassed`, `Degraded`; statuses: `True`,
    /// `False`, `Unknown`. Example: `Reconciled:False`.
    #[schemars(regex(path = "CONDITION_FILTER_PATTERN"))]
    pub condition: Option<String>,
    /// Exact name, or a glob when it contains `*` (any run of characters).
    #[schemars(regex(path = "NAME_FILTER_PATTERN"))]
    pub name: Option<String>,
}

/// Query parameters of `GET /nodepools`, the node pools of every cluster.
/// Filters combine with AND; items come oldest first (`created_at`, then
/// `id`).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodePoolListAllParams {
    /// Page number, from 1 (default 1).
    #[schemars(range(min = 1, max = 4_294_967_295u32))]
    pub page: Option<u32>,
    /// Items per page, 1 to 1000 (default 100).
    #[schemars(range(min = 1, max = 1000))]
    pub size: Option<u32>,
    /// Only the node pools of the cluster with this id.
    pub cluster_id: Option<Uuid>,
    /// Label selector: comma-separated `key:value` pairs, each of which must
    /// match; a bare `key` matches node pools that have the key.
    #[schemars(regex(path = "LABEL_SELECTOR_PATTERN"))]
    pub labels: Option<String>,
    /// One phase, or a comma-separated set of phases of which any matches:
    /// `Pending`, `Not Ready`, `Ready`, `Terminating`.
    #[schemars(regex(path = "PHASE_SET_PATTERN"))]
    pub phase: Option<String>,
    /// Resource conditions: comma-separated `Type:Status` terms, each of
    /// which must hold. Types: `Reconciled`, `LastKnownReconciled`,
    /// `AllAdaptersReady`, `ValidationPassed`, `Degraded`; statuses: `True`,
    /// `False`, `Unknown`. Example: `Reconciled:False`.
    #[schemars(regex(path = "CONDITION_FILTER_PATTERN"))]
    pub condition: Option<String>,
    /// Exact name, or a glob when it contains `*` (any run of characters).
    #[schemars(regex(path = "NAME_FILTER_PATTERN"))]
    pub name: Option<String>,
}

/// One term of a label selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LabelSelector {
    /// The resource has the key, with any value.
    Exists { key: String },
    /// The resource has the key with exactly this value.
    Equals { key: String, value: String },
}

/// A checked `name` filter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameFilter {
    /// The name is exactly this.
    Exact(String),
    /// The name matches this SQL `LIKE` pattern, written with `\` as the
    /// escape character (use `ESCAPE '\'`).
    Like(String),
}

/// The filters every list shares.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommonFilter {
    /// Every selector must match.
    pub labels: Vec<LabelSelector>,
    /// Any of these phases matches; empty means every phase.
    pub phases: Vec<Phase>,
    /// The name filter, if any.
    pub name: Option<NameFilter>,
    /// Every `(type, status)` must hold.
    pub conditions: Vec<(ResourceConditionType, ConditionStatus)>,
}

/// A checked cluster list request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterQuery {
    /// Labels, phases and name.
    pub common: CommonFilter,
    /// Exact provider.
    pub provider: Option<String>,
    /// Exact region.
    pub region: Option<String>,
    /// Which page.
    pub page: Page,
}

/// A checked node-pool list request (one cluster's or every cluster's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodePoolQuery {
    /// Labels, phases and name.
    pub common: CommonFilter,
    /// Only this cluster's node pools (`GET /nodepools?cluster_id=`).
    pub cluster_id: Option<Uuid>,
    /// Which page.
    pub page: Page,
}

/// Check the query of `GET /clusters`.
pub fn check_cluster_list(params: &ClusterListParams) -> Result<ClusterQuery, Error> {
    let mut problems = QueryProblems::default();
    let page = problems.page(params.page, params.size);
    let common = problems.common(
        &params.labels,
        &params.phase,
        &params.name,
        &params.condition,
    );
    let provider = problems.token("provider", &params.provider);
    let region = problems.token("region", &params.region);
    problems.into_result(ClusterQuery {
        common,
        provider,
        region,
        page,
    })
}

/// Check the query of `GET /clusters/{cluster}/nodepools`.
pub fn check_nodepool_list(params: &NodePoolListParams) -> Result<NodePoolQuery, Error> {
    let mut problems = QueryProblems::default();
    let page = problems.page(params.page, params.size);
    let common = problems.common(
        &params.labels,
        &params.phase,
        &params.name,
        &params.condition,
    );
    problems.into_result(NodePoolQuery {
        common,
        cluster_id: None,
        page,
    })
}

/// Check the query of `GET /nodepools`.
pub fn check_nodepool_list_all(params: &NodePoolListAllParams) -> Result<NodePoolQuery, Error> {
    let mut problems = QueryProblems::default();
    let page = problems.page(params.page, params.size);
    let common = problems.common(
        &params.labels,
        &params.phase,
        &params.name,
        &params.condition,
    );
    problems.into_result(NodePoolQuery {
        common,
        cluster_id: params.cluster_id,
        page,
    })
}

/// Check paging parameters and fill in the defaults.
pub fn check_page(page: Option<u32>, size: Option<u32>) -> Result<Page, Error> {
    let mut problems = QueryProblems::default();
    let page = problems.page(page, size);
    problems.into_result(page)
}

/// The offending query parameters of one request.
#[derive(Debug, Default)]
struct QueryProblems(Vec<FieldError>);

impl QueryProblems {
    fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            field: field.to_string(),
            message: message.into(),
        });
    }

    fn into_result<T>(self, value: T) -> Result<T, Error> {
        if self.0.is_empty() {
            return Ok(value);
        }
        let mut names: Vec<&str> = self.0.iter().map(|d| d.field.as_str()).collect();
        names.dedup();
        let mut error = Error::new(
            ErrorCode::BadRequest,
            format!("invalid query parameter {}", names.join(", ")),
        );
        error.details = self.0;
        Err(error)
    }

    /// The page asked for. A bad value is reported and the default stands
    /// in, so the other parameters are still checked.
    fn page(&mut self, page: Option<u32>, size: Option<u32>) -> Page {
        let page = page.unwrap_or(1);
        let size = size.unwrap_or(DEFAULT_PAGE_SIZE);
        if page < 1 {
            self.add("page", "must be at least 1");
        }
        if !(1..=MAX_PAGE_SIZE).contains(&size) {
            self.add("size", format!("must be between 1 and {MAX_PAGE_SIZE}"));
        }
        Page {
            page: page.max(1),
            size: size.clamp(1, MAX_PAGE_SIZE),
        }
    }

    fn common(
        &mut self,
        labels: &Option<String>,
        phase: &Option<String>,
        name: &Option<String>,
        condition: &Option<String>,
    ) -> CommonFilter {
        CommonFilter {
            labels: labels
                .as_deref()
                .map(|value| self.labels(value))
                .unwrap_or_default(),
            phases: phase
                .as_deref()
                .map(|value| self.phases(value))
                .unwrap_or_default(),
            name: name.as_deref().and_then(|value| self.name(value)),
            conditions: condition
                .as_deref()
                .map(|value| self.conditions(value))
                .unwrap_or_default(),
        }
    }

    fn conditions(&mut self, value: &str) -> Vec<(ResourceConditionType, ConditionStatus)> {
        match parse_conditions(value) {
            Ok(conditions) => conditions,
            Err(message) => {
                self.add("condition", message);
                Vec::new()
            }
        }
    }

    fn labels(&mut self, value: &str) -> Vec<LabelSelector> {
        match parse_label_selector(value) {
            Ok(selectors) => selectors,
            Err(message) => {
                self.add("labels", message);
                Vec::new()
            }
        }
    }

    fn phases(&mut self, value: &str) -> Vec<Phase> {
        match parse_phases(value) {
            Ok(phases) => phases,
            Err(message) => {
                self.add("phase", message);
                Vec::new()
            }
        }
    }

    fn name(&mut self, value: &str) -> Option<NameFilter> {
        match parse_name_filter(value) {
            Ok(filter) => Some(filter),
            Err(message) => {
                self.add("name", message);
                None
            }
        }
    }

    /// An exact `provider` or `region`: the same rule as in a spec.
    fn token(&mut self, field: &str, value: &Option<String>) -> Option<String> {
        let value = value.as_deref()?;
        let ok = (1..=MAX_NAME_LEN).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Some(value.to_string())
        } else {
            self.add(field, "must be 1-63 lowercase letters, digits or '-'");
            None
        }
    }
}

/// Split a comma-separated list, refusing empty elements (`a,,b`, a
/// trailing comma, an empty value): they are typos, not "match anything".
fn split_list(value: &str) -> Result<Vec<&str>, String> {
    let elements: Vec<&str> = value.split(',').collect();
    if elements.iter().any(|element| element.is_empty()) {
        return Err(format!(
            "{value:?} has an empty element: use a comma only between elements"
        ));
    }
    Ok(elements)
}

/// Parse a label selector: `key:value` pairs and bare keys, comma-separated.
pub fn parse_label_selector(value: &str) -> Result<Vec<LabelSelector>, String> {
    let elements = split_list(value)?;
    if elements.len() > MAX_LABELS {
        return Err(format!("at most {MAX_LABELS} label selectors are allowed"));
    }
    elements
        .into_iter()
        .map(|element| {
            let (key, value) = match element.split_once(':') {
                Some((key, value)) => (key, Some(value)),
                None => (element, None),
            };
            if value.is_some_and(|v| v.contains(':')) {
                return Err(format!(
                    "{element:?} must be `key:value` or `key`, with one ':' at most"
                ));
            }
            check_label_key(key)?;
            match value {
                None => Ok(LabelSelector::Exists {
                    key: key.to_string(),
                }),
                Some(value) => {
                    check_label_value(value)?;
                    Ok(LabelSelector::Equals {
                        key: key.to_string(),
                        value: value.to_string(),
                    })
                }
            }
        })
        .collect()
}

/// Parse one phase or a comma-separated set of them, without repeats.
pub fn parse_phases(value: &str) -> Result<Vec<Phase>, String> {
    let mut phases = Vec::new();
    for element in split_list(value)? {
        let phase = Phase::parse(element).ok_or_else(|| {
            let known: Vec<&str> = Phase::ALL.iter().map(|p| p.as_str()).collect();
            format!(
                "unknown phase {element:?}; known phases: {}",
                known.join(", ")
            )
        })?;
        if !phases.contains(&phase) {
            phases.push(phase);
        }
    }
    Ok(phases)
}

/// Parse a condition filter: comma-separated `Type:Status` terms, each of
/// which must hold (repeats are dropped).
pub fn parse_conditions(
    value: &str,
) -> Result<Vec<(ResourceConditionType, ConditionStatus)>, String> {
    let mut terms = Vec::new();
    for element in split_list(value)? {
        let Some((kind, status)) = element.split_once(':') else {
            return Err(format!(
                "{element:?} must be `Type:Status`, like Reconciled:False"
            ));
        };
        let kind = ResourceConditionType::parse(kind).ok_or_else(|| {
            let known: Vec<&str> = ResourceConditionType::ALL
                .iter()
                .map(|t| t.as_str())
                .collect();
            format!(
                "unknown condition type {kind:?}; known types: {}",
                known.join(", ")
            )
        })?;
        let status = match status {
            "True" => ConditionStatus::True,
            "False" => ConditionStatus::False,
            "Unknown" => ConditionStatus::Unknown,
            _ => {
                return Err(format!(
                    "unknown condition status {status:?}; it must be True, False or Unknown"
                ));
            }
        };
        if !terms.contains(&(kind, status)) {
            terms.push((kind, status));
        }
    }
    Ok(terms)
}

/// Parse a name filter: name characters (lowercase letters, digits, `-`)
/// and `*`, at most 63 of them. With a `*` it is a glob.
pub fn parse_name_filter(value: &str) -> Result<NameFilter, String> {
    let ok = (1..=MAX_NAME_LEN).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'*');
    if !ok {
        return Err(
            "must be 1-63 lowercase letters, digits, '-' or '*' (a '*' matches any run of \
             characters)"
                .to_string(),
        );
    }
    if value.contains('*') {
        Ok(NameFilter::Like(glob_to_like(value)))
    } else {
        Ok(NameFilter::Exact(value.to_string()))
    }
}

/// Translate a glob (`*` = any run of characters) into a `LIKE` pattern with
/// `\` as the escape character: the pattern characters `%`, `_` and `\`
/// itself match only themselves. (Names cannot contain them today; the
/// escaping keeps that a validation rule rather than a SQL-injection-shaped
/// assumption.)
pub fn glob_to_like(glob: &str) -> String {
    let mut pattern = String::with_capacity(glob.len() + 4);
    for c in glob.chars() {
        match c {
            '*' => pattern.push('%'),
            '%' | '_' | '\\' => {
                pattern.push('\\');
                pattern.push(c);
            }
            other => pattern.push(other),
        }
    }
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_query;

    fn exists(key: &str) -> LabelSelector {
        LabelSelector::Exists { key: key.into() }
    }

    fn equals(key: &str, value: &str) -> LabelSelector {
        LabelSelector::Equals {
            key: key.into(),
            value: value.into(),
        }
    }

    /// The fields named by the error of checking `query` on `/clusters`.
    fn cluster_problems(query: &str) -> Vec<String> {
        let checked =
            parse_query::<ClusterListParams>(query).and_then(|params| check_cluster_list(&params));
        match checked {
            Ok(query) => panic!("accepted: {query:?}"),
            Err(error) => {
                assert_eq!(error.error, ErrorCode::BadRequest);
                error.details.into_iter().map(|d| d.field).collect()
            }
        }
    }

    #[test]
    fn the_design_example_parses() {
        let params = parse_query::<ClusterListParams>(
            "labels=environment:production,team:platform&phase=Ready&provider=gcp\
             &region=us-east1&name=my-*&page=1&size=100",
        )
        .expect("well-formed");
        let query = check_cluster_list(&params).expect("valid");
        assert_eq!(
            query,
            ClusterQuery {
                common: CommonFilter {
                    labels: vec![
                        equals("environment", "production"),
                        equals("team", "platform")
                    ],
                    phases: vec![Phase::Ready],
                    name: Some(NameFilter::Like("my-%".into())),
                    conditions: vec![],
                },
                provider: Some("gcp".into()),
                region: Some("us-east1".into()),
                page: Page { page: 1, size: 100 },
            }
        );
    }

    #[test]
    fn condition_filters() {
        use ConditionStatus::{False, True};
        use ResourceConditionType::{Degraded, Reconciled};
        assert_eq!(
            parse_conditions("Reconciled:False,Degraded:True,Reconciled:False"),
            Ok(vec![(Reconciled, False), (Degraded, True)])
        );
        for bad in [
            "Reconciled",
            "Ready:True",
            "Reconciled:Yes",
            "Reconciled:True,",
            "",
        ] {
            assert!(parse_conditions(bad).is_err(), "{bad:?}");
        }
        let params =
            parse_query::<ClusterListParams>("condition=Reconciled:Maybe").expect("well-formed");
        let error = check_cluster_list(&params).expect_err("a bad status");
        assert_eq!(error.details[0].field, "condition");
    }

    #[test]
    fn no_parameters_means_no_filter_and_the_first_page() {
        let query = check_cluster_list(&ClusterListParams::default()).expect("valid");
        assert_eq!(query.common, CommonFilter::default());
        assert_eq!((query.provider, query.region), (None, None));
        assert_eq!(query.page, Page { page: 1, size: 100 });
    }

    #[test]
    fn label_selectors() {
        assert_eq!(
            parse_label_selector("team"),
            Ok(vec![exists("team")]),
            "a bare key means has-the-key"
        );
        assert_eq!(
            parse_label_selector("example.io/tier:gold,team,empty:"),
            Ok(vec![
                equals("example.io/tier", "gold"),
                exists("team"),
                equals("empty", "")
            ])
        );
        for bad in [
            "a:b:c",
            "bad key",
            "a:b,",
            ",a:b",
            "a:b,,c:d",
            "",
            ":b",
            "a:bad value",
            "-a:b",
        ] {
            assert!(parse_label_selector(bad).is_err(), "{bad:?}");
        }
        let many = (0..65)
            .map(|i| format!("k{i}"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(parse_label_selector(&many).is_err());
    }

    #[test]
    fn phases() {
        assert_eq!(parse_phases("Not Ready"), Ok(vec![Phase::NotReady]));
        assert_eq!(
            parse_phases("Pending,Not Ready,Pending"),
            Ok(vec![Phase::Pending, Phase::NotReady])
        );
        for bad in [
            "Unknown",
            "ready",
            "NotReady",
            "Ready,",
            "",
            "Ready,,Pending",
        ] {
            assert!(parse_phases(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn names_and_globs() {
        assert_eq!(
            parse_name_filter("my-cluster"),
            Ok(NameFilter::Exact("my-cluster".into()))
        );
        assert_eq!(
            parse_name_filter("my-*"),
            Ok(NameFilter::Like("my-%".into()))
        );
        assert_eq!(
            parse_name_filter("*test*"),
            Ok(NameFilter::Like("%test%".into()))
        );
        for bad in ["Bad_Name", "", "a%b", "a_b", "a b", &"x".repeat(64)] {
            assert!(parse_name_filter(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn globs_escape_like_metacharacters() {
        assert_eq!(glob_to_like("a*b"), "a%b");
        assert_eq!(glob_to_like("100%_done\\*"), "100\\%\\_done\\\\%");
        assert_eq!(glob_to_like("**"), "%%");
    }

    #[test]
    fn every_bad_parameter_is_named() {
        for (query, fields) in [
            ("labels=a:b:c", vec!["labels"]),
            ("labels=bad%20key", vec!["labels"]),
            ("labels=a:b,", vec!["labels"]),
            ("phase=Unknown", vec!["phase"]),
            ("phase=Ready,", vec!["phase"]),
            ("name=Bad_Name", vec!["name"]),
            ("provider=GCP", vec!["provider"]),
            ("region=", vec!["region"]),
            ("size=0", vec!["size"]),
            ("page=0", vec!["page"]),
            ("provider=gcp&provider=aws", vec!["provider"]),
            ("colour=red", vec!["colour"]),
            (
                "labels=a:b:c&phase=Unknown&name=Bad_Name&size=0",
                vec!["size", "labels", "phase", "name"],
            ),
        ] {
            assert_eq!(cluster_problems(query), fields, "{query}");
        }
    }

    #[test]
    fn pages() {
        assert_eq!(
            check_page(None, None).ok(),
            Some(Page { page: 1, size: 100 })
        );
        assert_eq!(
            check_page(Some(3), Some(1000)).ok(),
            Some(Page {
                page: 3,
                size: 1000
            })
        );
        for (page, size) in [(Some(0), None), (None, Some(0)), (None, Some(1001))] {
            assert!(check_page(page, size).is_err(), "{page:?} {size:?}");
        }
    }

    #[test]
    fn node_pool_queries() {
        let id = Uuid::new_v4();
        let params = parse_query::<NodePoolListAllParams>(&format!(
            "cluster_id={id}&labels=workload&phase=Pending&name=*pool"
        ))
        .expect("well-formed");
        let query = check_nodepool_list_all(&params).expect("valid");
        assert_eq!(query.cluster_id, Some(id));
        assert_eq!(query.common.labels, vec![exists("workload")]);
        assert_eq!(query.common.phases, vec![Phase::Pending]);
        assert_eq!(query.common.name, Some(NameFilter::Like("%pool".into())));

        let bad =
            parse_query::<NodePoolListAllParams>("cluster_id=not-a-uuid").expect_err("not a uuid");
        assert_eq!(bad.details[0].field, "cluster_id");
        let unknown =
            parse_query::<NodePoolListParams>("cluster_id=x").expect_err("no cluster_id here");
        assert_eq!(unknown.details[0].field, "cluster_id");
        let provider =
            parse_query::<NodePoolListParams>("provider=gcp").expect_err("no provider here");
        assert_eq!(provider.details[0].field, "provider");
    }
}
