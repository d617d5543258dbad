//! `cargo xtask spec-diff OLD NEW`: every change between two versions of an
//! OpenAPI 3.0 document, classified by what it does to existing clients.
//!
//! The rules follow oasdiff and Optic. What matters is the direction a
//! schema travels: a client *sends* request bodies and parameters, so the
//! server may accept more (widen) but not less; a client *reads* responses,
//! so the server may promise more (narrow) but not less. The same check
//! therefore flips its class between the two: a removed enum value breaks a
//! request that sent it and is harmless in a response, an added one is the
//! reverse. A component schema used in both places is checked once for each
//! use, at the JSON path of that use.
//!
//! Operations are matched by method and path template, with path parameter
//! names ignored (`/clusters/{id}` is `/clusters/{cluster}` on the wire);
//! parameters by location and name; responses by status code; media types by
//! name; `oneOf`/`anyOf` variants by `$ref`, then by equality, then by
//! position. `$ref`s are followed through `components` with a bound on
//! chains and a guard against schemas that contain themselves.
//!
//! The walk is split by what it compares: `operation.rs` (parameters,
//! bodies, responses), `schema.rs` (schemas), `security.rs` (who may call,
//! with which credentials) and `pattern.rs` (whether a changed regular
//! expression accepts more or less). The rule ids are listed in README's
//! Contract section, which downstream CI allow-lists rely on.

mod operation;
mod pattern;
mod schema;
mod security;

use std::collections::BTreeMap;
use std::fmt;

use anyhow::{Context, Result, bail};
use indexmap::IndexMap;
use openapiv3::{Components, OpenAPI, Operation, Parameter, ReferenceOr};
use serde::Serialize;
use serde_json::{Map, Value};

/// What a change does to clients written against the old document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Class {
    /// Some existing client may stop working.
    Breaking,
    /// Existing clients keep working.
    Compatible,
    /// Documentation only (descriptions, summaries, the version).
    Info,
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Class::Breaking => "breaking",
            Class::Compatible => "compatible",
            Class::Info => "info",
        })
    }
}

/// One difference between the two documents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    pub class: Class,
    /// A stable rule id (`request-property-removed`), for filtering.
    pub rule: String,
    /// Where in the document, as dotted keys from the root
    /// (`paths./clusters.post.requestBody.content.application/json.schema.properties.name`).
    pub path: String,
    /// What changed, in words.
    pub message: String,
}

/// The result of a comparison.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    pub breaking: usize,
    pub compatible: usize,
    pub info: usize,
    pub changes: Vec<Change>,
}

impl Report {
    fn new(changes: Vec<Change>) -> Self {
        let count = |class| changes.iter().filter(|c| c.class == class).count();
        Report {
            breaking: count(Class::Breaking),
            compatible: count(Class::Compatible),
            info: count(Class::Info),
            changes,
        }
    }

    /// Whether any change may break an existing client.
    pub fn is_breaking(&self) -> bool {
        self.breaking > 0
    }

    /// One line per change, then a summary line.
    pub fn human(&self) -> String {
        let mut out = String::new();
        for change in &self.changes {
            let class = change.class.to_string().to_uppercase();
            out.push_str(&format!(
                "{class:<10} {}: {} [{}]\n",
                change.path, change.message, change.rule
            ));
        }
        out.push_str(&format!(
            "spec-diff: {} breaking, {} compatible, {} info\n",
            self.breaking, self.compatible, self.info
        ));
        out
    }
}

/// Read a document from a file, or from git as `git:REV:PATH` (`git:REV`
/// alone means `openapi.yaml` at the repository root). YAML or JSON.
pub fn load(source: &str) -> Result<OpenAPI> {
    let text = match source.strip_prefix("git:") {
        Some(rest) => {
            let (rev, path) = rest.split_once(':').unwrap_or((rest, "openapi.yaml"));
            let object = format!("{rev}:{path}");
            let output = std::process::Command::new("git")
                .args(["show", &object])
                .output()
                .context("cannot run git")?;
            if !output.status.success() {
                bail!(
                    "git show {object} failed: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                );
            }
            String::from_utf8(output.stdout).with_context(|| format!("{object} is not UTF-8"))?
        }
        None => std::fs::read_to_string(source).with_context(|| format!("cannot read {source}"))?,
    };
    parse(&text).with_context(|| format!("{source} is not an OpenAPI 3.0 document"))
}

/// Parse a document from YAML or JSON text.
pub fn parse(text: &str) -> Result<OpenAPI> {
    let document: OpenAPI = yaml_serde::from_str(text)?;
    if !document.openapi.starts_with("3.0") {
        bail!("OpenAPI {} is not supported, only 3.0.x", document.openapi);
    }
    Ok(document)
}

/// Compare two documents.
pub fn diff(old: &OpenAPI, new: &OpenAPI) -> Result<Report> {
    let mut differ = Differ {
        old_document: old,
        new_document: new,
        old: Side::new(old)?,
        new: Side::new(new)?,
        changes: Vec::new(),
        errors: Vec::new(),
        stack: Vec::new(),
        inherits_global: false,
    };
    differ.document();
    if !differ.errors.is_empty() {
        bail!("{}", differ.errors.join("\n"));
    }
    Ok(Report::new(differ.changes))
}

/// Which way a schema travels, and so which changes break clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Dir {
    /// Sent by the client: the server must keep accepting what it accepted.
    Request,
    /// Sent by the server: it must keep within what it promised.
    Response,
}

impl Dir {
    fn prefix(self) -> &'static str {
        match self {
            Dir::Request => "request",
            Dir::Response => "response",
        }
    }

    fn flip(self) -> Dir {
        match self {
            Dir::Request => Dir::Response,
            Dir::Response => Dir::Request,
        }
    }

    /// The class of a change that narrows the set of valid values.
    fn narrowing(self) -> Class {
        match self {
            Dir::Request => Class::Breaking,
            Dir::Response => Class::Compatible,
        }
    }

    /// The class of a change that widens the set of valid values.
    fn widening(self) -> Class {
        match self {
            Dir::Request => Class::Compatible,
            Dir::Response => Class::Breaking,
        }
    }
}

/// Longest chain of `$ref`s followed before giving up (a chain that long
/// is a cycle of references to references).
const MAX_REF_HOPS: usize = 32;

/// One document, with its component schemas as JSON for the schema walk.
struct Side<'a> {
    components: Option<&'a Components>,
    schemas: Map<String, Value>,
}

impl<'a> Side<'a> {
    fn new(document: &'a OpenAPI) -> Result<Self> {
        let schemas = match &document.components {
            Some(components) => match serde_json::to_value(&components.schemas)? {
                Value::Object(map) => map,
                _ => Map::new(),
            },
            None => Map::new(),
        };
        Ok(Side {
            components: document.components.as_ref(),
            schemas,
        })
    }

    /// Follow a schema's `$ref` chain; `Err` names a reference that leads
    /// nowhere. Returns the schema and the last component name on the way.
    fn schema(&self, schema: &Value) -> Result<(Value, Option<String>), String> {
        let mut schema = schema;
        let mut name = None;
        for _ in 0..MAX_REF_HOPS {
            let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
                return Ok((schema.clone(), name));
            };
            let key = reference
                .strip_prefix("#/components/schemas/")
                .ok_or_else(|| format!("unsupported $ref {reference}"))?;
            let (key, target) = self
                .schemas
                .get_key_value(key)
                .ok_or_else(|| format!("unresolved $ref {reference}"))?;
            name = Some(key.clone());
            schema = target;
        }
        Err(format!("$ref chain too long (a cycle?) at {schema}"))
    }
}

/// Follow a typed `$ref` chain through one `components` map.
fn deref<'a, T>(
    mut item: &'a ReferenceOr<T>,
    map: impl Fn(&'a Components) -> &'a IndexMap<String, ReferenceOr<T>>,
    components: Option<&'a Components>,
    kind: &str,
) -> Result<&'a T, String> {
    for _ in 0..MAX_REF_HOPS {
        match item {
            ReferenceOr::Item(value) => return Ok(value),
            ReferenceOr::Reference { reference } => {
                let prefix = format!("#/components/{kind}/");
                let target = reference
                    .strip_prefix(&prefix)
                    .and_then(|name| components.map(&map).and_then(|m| m.get(name)))
                    .ok_or_else(|| format!("unresolved $ref {reference}"))?;
                item = target;
            }
        }
    }
    Err(format!("$ref chain too long (a cycle?) in {kind}"))
}

struct Differ<'a> {
    old_document: &'a OpenAPI,
    new_document: &'a OpenAPI,
    old: Side<'a>,
    new: Side<'a>,
    changes: Vec<Change>,
    errors: Vec<String>,
    /// Pairs of component schemas being compared further up, so a schema
    /// that contains itself is walked once per path.
    stack: Vec<(String, String, Dir)>,
    /// Whether some operation present in both documents declares no
    /// `security` of its own on either side, so the global list applies.
    inherits_global: bool,
}

impl<'a> Differ<'a> {
    fn push(&mut self, class: Class, rule: &str, path: &str, message: impl Into<String>) {
        self.changes.push(Change {
            class,
            rule: rule.to_string(),
            path: path.to_string(),
            message: message.into(),
        });
    }

    /// A schema rule: its id says which way the schema travels.
    fn push_schema(
        &mut self,
        dir: Dir,
        class: Class,
        rule: &str,
        path: &str,
        message: impl Into<String>,
    ) {
        let rule = format!("{}-{rule}", dir.prefix());
        self.push(class, &rule, path, message);
    }

    fn document(&mut self) {
        let (old, new) = (self.old_doc(), self.new_doc());
        if old.info.version != new.info.version {
            self.push(
                Class::Info,
                "version-changed",
                "info.version",
                format!("{} -> {}", old.info.version, new.info.version),
            );
        }
        if old.info.description != new.info.description || old.info.title != new.info.title {
            self.push(
                Class::Info,
                "info-changed",
                "info",
                "title or description changed",
            );
        }
        let old_paths = templates(old);
        let new_paths = templates(new);
        for (shape, (old_path, old_item)) in &old_paths {
            match new_paths.get(shape) {
                None => {
                    for (method, _) in old_item.iter() {
                        let at = format!("paths.{old_path}.{method}");
                        self.push(
                            Class::Breaking,
                            "operation-removed",
                            &at,
                            "operation removed",
                        );
                    }
                }
                Some((new_path, new_item)) => {
                    self.path_item(old_path, old_item, new_path, new_item)
                }
            }
        }
        for (shape, (new_path, new_item)) in &new_paths {
            if !old_paths.contains_key(shape) {
                for (method, _) in new_item.iter() {
                    let at = format!("paths.{new_path}.{method}");
                    self.push(Class::Compatible, "operation-added", &at, "operation added");
                }
            }
        }
        self.global_security();
        self.security_schemes();
    }

    fn old_doc(&self) -> &'a OpenAPI {
        self.old_document
    }

    fn new_doc(&self) -> &'a OpenAPI {
        self.new_document
    }

    fn path_item(
        &mut self,
        old_path: &str,
        old_item: &'a openapiv3::PathItem,
        new_path: &str,
        new_item: &'a openapiv3::PathItem,
    ) {
        // Path parameters are matched by position, so a rename is seen as one.
        let renames: BTreeMap<String, String> = placeholders(new_path)
            .into_iter()
            .zip(placeholders(old_path))
            .filter(|(new, old)| new != old)
            .collect();
        for (new_name, old_name) in &renames {
            self.push(
                Class::Compatible,
                "path-parameter-renamed",
                &format!("paths.{new_path}"),
                format!(
                    "path parameter {{{old_name}}} renamed to {{{new_name}}} (the same URL on the wire)"
                ),
            );
        }
        let new_ops: BTreeMap<&str, &Operation> = new_item.iter().collect();
        let old_ops: BTreeMap<&str, &Operation> = old_item.iter().collect();
        for (method, old_op) in old_item.iter() {
            let at = format!("paths.{new_path}.{method}");
            match new_ops.get(method) {
                None => self.push(
                    Class::Breaking,
                    "operation-removed",
                    &format!("paths.{old_path}.{method}"),
                    "operation removed",
                ),
                Some(new_op) => {
                    let old_params = &old_item.parameters;
                    let new_params = &new_item.parameters;
                    self.operation(&at, old_op, old_params, new_op, new_params, &renames);
                }
            }
        }
        for (method, _) in new_item.iter() {
            if !old_ops.contains_key(method) {
                let at = format!("paths.{new_path}.{method}");
                self.push(Class::Compatible, "operation-added", &at, "operation added");
            }
        }
    }

    fn operation(
        &mut self,
        at: &str,
        old: &'a Operation,
        old_path_params: &'a [ReferenceOr<Parameter>],
        new: &'a Operation,
        new_path_params: &'a [ReferenceOr<Parameter>],
        renames: &BTreeMap<String, String>,
    ) {
        if old.operation_id != new.operation_id {
            let (class, rule) = match old.operation_id {
                // Generated clients name their methods after it.
                Some(_) => (Class::Breaking, "operation-id-changed"),
                None => (Class::Compatible, "operation-id-added"),
            };
            let show = |id: &Option<String>| id.clone().unwrap_or_else(|| "(none)".into());
            self.push(
                class,
                rule,
                &format!("{at}.operationId"),
                format!("{} -> {}", show(&old.operation_id), show(&new.operation_id)),
            );
        }
        if old.summary != new.summary || old.description != new.description {
            self.push(
                Class::Info,
                "operation-description-changed",
                at,
                "summary or description changed",
            );
        }
        if old.deprecated != new.deprecated {
            let message = if new.deprecated {
                "operation deprecated"
            } else {
                "operation no longer deprecated"
            };
            self.push(Class::Info, "operation-deprecation-changed", at, message);
        }
        self.operation_security(at, old, new);
        self.parameters(at, old, old_path_params, new, new_path_params, renames);
        self.request_body(at, old, new);
        self.responses(at, old, new);
    }
}

fn to_json<T: Serialize>(schema: &T) -> Value {
    serde_json::to_value(schema).unwrap_or(Value::Null)
}

/// `/clusters/{cluster}` as `/clusters/{}`: the URL shape clients see.
fn shape(path: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for c in path.chars() {
        match c {
            '{' => {
                inside = true;
                out.push_str("{}");
            }
            '}' => inside = false,
            _ if inside => {}
            _ => out.push(c),
        }
    }
    out
}

fn placeholders(path: &str) -> Vec<String> {
    path.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_string()))
        .collect()
}

/// Every path item by URL shape (references to path items are not used by
/// any generator we know and are skipped).
fn templates(document: &OpenAPI) -> BTreeMap<String, (String, &openapiv3::PathItem)> {
    document
        .paths
        .iter()
        .filter_map(|(path, item)| {
            item.as_item()
                .map(|item| (shape(path), (path.clone(), item)))
        })
        .collect()
}
