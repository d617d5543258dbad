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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use anyhow::{Context, Result, bail};
use indexmap::IndexMap;
use openapiv3::{
    Components, Header, MediaType, OpenAPI, Operation, Parameter, ParameterSchemaOrContent,
    ReferenceOr, RequestBody, Response, StatusCode,
};
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
        self.parameters(at, old, old_path_params, new, new_path_params, renames);
        self.request_body(at, old, new);
        self.responses(at, old, new);
    }

    /// The effective parameters of an operation, keyed by (location, name),
    /// path parameters under their new names.
    fn effective_parameters(
        &mut self,
        side_is_old: bool,
        path_level: &'a [ReferenceOr<Parameter>],
        operation: &'a [ReferenceOr<Parameter>],
        renames: &BTreeMap<String, String>,
    ) -> BTreeMap<(&'static str, String), &'a Parameter> {
        let components = if side_is_old {
            self.old.components
        } else {
            self.new.components
        };
        let mut out = BTreeMap::new();
        // Operation-level parameters override path-level ones of the same key.
        for item in path_level.iter().chain(operation) {
            match deref(item, |c| &c.parameters, components, "parameters") {
                Ok(parameter) => {
                    let data = parameter.parameter_data_ref();
                    let location = location(parameter);
                    let mut name = data.name.clone();
                    if side_is_old
                        && location == "path"
                        && let Some((new_name, _)) = renames.iter().find(|(_, old)| **old == name)
                    {
                        name = new_name.clone();
                    }
                    out.insert((location, name), parameter);
                }
                Err(error) => self.errors.push(error),
            }
        }
        out
    }

    fn parameters(
        &mut self,
        at: &str,
        old: &'a Operation,
        old_path_params: &'a [ReferenceOr<Parameter>],
        new: &'a Operation,
        new_path_params: &'a [ReferenceOr<Parameter>],
        renames: &BTreeMap<String, String>,
    ) {
        let old_params = self.effective_parameters(true, old_path_params, &old.parameters, renames);
        let new_params =
            self.effective_parameters(false, new_path_params, &new.parameters, renames);
        for ((location, name), old_param) in &old_params {
            let here = format!("{at}.parameters.{location}.{name}");
            match new_params.get(&(*location, name.clone())) {
                Some(new_param) => self.parameter(&here, old_param, new_param),
                None => {
                    let moved = new_params
                        .keys()
                        .find(|(l, n)| n == name && l != location)
                        .map(|(l, _)| *l);
                    match moved {
                        Some(to) => self.push(
                            Class::Breaking,
                            "parameter-location-changed",
                            &here,
                            format!("parameter {name} moved from {location} to {to}"),
                        ),
                        None => self.push(
                            Class::Breaking,
                            "parameter-removed",
                            &here,
                            format!(
                                "{location} parameter {name} removed (clients that send it may be refused)"
                            ),
                        ),
                    }
                }
            }
        }
        for ((location, name), new_param) in &new_params {
            if old_params.contains_key(&(*location, name.clone())) {
                continue;
            }
            if old_params.keys().any(|(l, n)| n == name && l != location) {
                continue; // reported as a move
            }
            let here = format!("{at}.parameters.{location}.{name}");
            if new_param.parameter_data_ref().required {
                self.push(
                    Class::Breaking,
                    "parameter-added-required",
                    &here,
                    format!("new required {location} parameter {name}"),
                );
            } else {
                self.push(
                    Class::Compatible,
                    "parameter-added-optional",
                    &here,
                    format!("new optional {location} parameter {name}"),
                );
            }
        }
    }

    fn parameter(&mut self, at: &str, old: &Parameter, new: &Parameter) {
        let (old_data, new_data) = (old.parameter_data_ref(), new.parameter_data_ref());
        match (old_data.required, new_data.required) {
            (false, true) => self.push(
                Class::Breaking,
                "parameter-became-required",
                at,
                "parameter became required",
            ),
            (true, false) => self.push(
                Class::Compatible,
                "parameter-became-optional",
                at,
                "parameter became optional",
            ),
            _ => {}
        }
        if old_data.description != new_data.description {
            self.push(
                Class::Info,
                "parameter-description-changed",
                at,
                "description changed",
            );
        }
        if old_data.explode != new_data.explode || style(old) != style(new) {
            self.push(
                Class::Breaking,
                "parameter-serialization-changed",
                at,
                "style or explode changed: the same values are written differently",
            );
        }
        match (&old_data.format, &new_data.format) {
            (ParameterSchemaOrContent::Schema(o), ParameterSchemaOrContent::Schema(n)) => {
                let (o, n) = (to_json(o), to_json(n));
                self.schema(&format!("{at}.schema"), &o, &n, Dir::Request);
            }
            (ParameterSchemaOrContent::Content(o), ParameterSchemaOrContent::Content(n)) => {
                self.content(&format!("{at}.content"), o, n, Dir::Request);
            }
            _ => self.push(
                Class::Breaking,
                "parameter-serialization-changed",
                at,
                "changed between `schema` and `content`",
            ),
        }
    }

    fn request_body(&mut self, at: &str, old: &'a Operation, new: &'a Operation) {
        let here = format!("{at}.requestBody");
        let old_body = self.request_body_of(true, old);
        let new_body = self.request_body_of(false, new);
        match (old_body, new_body) {
            (None, None) => {}
            (None, Some(body)) if body.required => self.push(
                Class::Breaking,
                "request-body-added-required",
                &here,
                "a required request body was added",
            ),
            (None, Some(_)) => self.push(
                Class::Compatible,
                "request-body-added-optional",
                &here,
                "an optional request body was added",
            ),
            (Some(_), None) => self.push(
                Class::Breaking,
                "request-body-removed",
                &here,
                "request body removed (clients that send one may be refused)",
            ),
            (Some(o), Some(n)) => {
                match (o.required, n.required) {
                    (false, true) => self.push(
                        Class::Breaking,
                        "request-body-became-required",
                        &here,
                        "request body became required",
                    ),
                    (true, false) => self.push(
                        Class::Compatible,
                        "request-body-became-optional",
                        &here,
                        "request body became optional",
                    ),
                    _ => {}
                }
                if o.description != n.description {
                    self.push(
                        Class::Info,
                        "request-body-description-changed",
                        &here,
                        "description changed",
                    );
                }
                self.content(
                    &format!("{here}.content"),
                    &o.content,
                    &n.content,
                    Dir::Request,
                );
            }
        }
    }

    fn request_body_of(&mut self, side_is_old: bool, op: &'a Operation) -> Option<&'a RequestBody> {
        let components = if side_is_old {
            self.old.components
        } else {
            self.new.components
        };
        let body = op.request_body.as_ref()?;
        match deref(body, |c| &c.request_bodies, components, "requestBodies") {
            Ok(body) => Some(body),
            Err(error) => {
                self.errors.push(error);
                None
            }
        }
    }

    fn content(
        &mut self,
        at: &str,
        old: &IndexMap<String, MediaType>,
        new: &IndexMap<String, MediaType>,
        dir: Dir,
    ) {
        for (media, old_media) in old {
            let here = format!("{at}.{media}");
            match new.get(media) {
                None => self.push_schema(
                    dir,
                    Class::Breaking,
                    "media-type-removed",
                    &here,
                    format!("media type {media} removed"),
                ),
                Some(new_media) => {
                    let none = Value::Object(Map::new());
                    let o = old_media.schema.as_ref().map_or(none.clone(), to_json);
                    let n = new_media.schema.as_ref().map_or(none, to_json);
                    self.schema(&format!("{here}.schema"), &o, &n, dir);
                }
            }
        }
        for media in new.keys() {
            if !old.contains_key(media) {
                self.push_schema(
                    dir,
                    Class::Compatible,
                    "media-type-added",
                    &format!("{at}.{media}"),
                    format!("media type {media} added"),
                );
            }
        }
    }

    fn responses(&mut self, at: &str, old: &'a Operation, new: &'a Operation) {
        let old_responses = self.responses_of(true, old);
        let new_responses = self.responses_of(false, new);
        for (code, old_response) in &old_responses {
            let here = format!("{at}.responses.{code}");
            match new_responses.get(code) {
                Some(new_response) => self.response(&here, old_response, new_response),
                None if is_success(code) => self.push(
                    Class::Breaking,
                    "response-success-status-removed",
                    &here,
                    format!("success status {code} removed"),
                ),
                None => self.push(
                    Class::Compatible,
                    "response-error-status-removed",
                    &here,
                    format!("error status {code} no longer documented"),
                ),
            }
        }
        for code in new_responses.keys() {
            if !old_responses.contains_key(code) {
                self.push(
                    Class::Compatible,
                    "response-status-added",
                    &format!("{at}.responses.{code}"),
                    format!("status {code} added"),
                );
            }
        }
    }

    fn responses_of(
        &mut self,
        side_is_old: bool,
        op: &'a Operation,
    ) -> BTreeMap<String, &'a Response> {
        let components = if side_is_old {
            self.old.components
        } else {
            self.new.components
        };
        let mut out = BTreeMap::new();
        let codes = op
            .responses
            .responses
            .iter()
            .map(|(code, r)| (status(code), r))
            .chain(
                op.responses
                    .default
                    .iter()
                    .map(|r| ("default".to_string(), r)),
            );
        for (code, response) in codes {
            match deref(response, |c| &c.responses, components, "responses") {
                Ok(response) => {
                    out.insert(code, response);
                }
                Err(error) => self.errors.push(error),
            }
        }
        out
    }

    fn response(&mut self, at: &str, old: &'a Response, new: &'a Response) {
        if old.description != new.description {
            self.push(
                Class::Info,
                "response-description-changed",
                at,
                "description changed",
            );
        }
        for (name, old_header) in &old.headers {
            let here = format!("{at}.headers.{name}");
            let new_header = new
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, h)| h);
            match new_header {
                None => self.push(
                    Class::Breaking,
                    "response-header-removed",
                    &here,
                    format!("header {name} removed"),
                ),
                Some(new_header) => {
                    let o = deref(old_header, |c| &c.headers, self.old.components, "headers");
                    let n = deref(new_header, |c| &c.headers, self.new.components, "headers");
                    match (o, n) {
                        (Ok(o), Ok(n)) => self.header(&here, o, n),
                        (Err(e), _) | (_, Err(e)) => self.errors.push(e),
                    }
                }
            }
        }
        for name in new.headers.keys() {
            if !old.headers.keys().any(|n| n.eq_ignore_ascii_case(name)) {
                self.push(
                    Class::Compatible,
                    "response-header-added",
                    &format!("{at}.headers.{name}"),
                    format!("header {name} added"),
                );
            }
        }
        self.content(
            &format!("{at}.content"),
            &old.content,
            &new.content,
            Dir::Response,
        );
    }

    fn header(&mut self, at: &str, old: &Header, new: &Header) {
        if old.required && !new.required {
            self.push(
                Class::Breaking,
                "response-header-became-optional",
                at,
                "header no longer always sent",
            );
        }
        if let (ParameterSchemaOrContent::Schema(o), ParameterSchemaOrContent::Schema(n)) =
            (&old.format, &new.format)
        {
            let (o, n) = (to_json(o), to_json(n));
            self.schema(&format!("{at}.schema"), &o, &n, Dir::Response);
        }
    }

    /// Compare two schemas travelling in `dir`.
    fn schema(&mut self, at: &str, old: &Value, new: &Value, dir: Dir) {
        let (old, old_name) = match self.old.schema(old) {
            Ok(found) => found,
            Err(error) => return self.errors.push(error),
        };
        let (new, new_name) = match self.new.schema(new) {
            Ok(found) => found,
            Err(error) => return self.errors.push(error),
        };
        // Only pairs of named schemas can recur; anonymous ones are finite.
        let key = match (old_name, new_name) {
            (Some(o), Some(n)) => Some((o, n, dir)),
            _ => None,
        };
        if let Some(key) = &key {
            if self.stack.contains(key) {
                return;
            }
            self.stack.push(key.clone());
        }
        let old = self.normalize(true, old);
        let new = self.normalize(false, new);
        self.schema_body(at, &old, &new, dir);
        if key.is_some() {
            self.stack.pop();
        }
    }

    /// Reduce what generators emit to one shape: `allOf` of one schema (how
    /// schemars attaches a description to a `$ref`) becomes that schema;
    /// several `allOf` objects merge; a `oneOf` of single-value enums of one
    /// type (how schemars writes documented enum variants) becomes one enum.
    fn normalize(&mut self, side_is_old: bool, mut schema: Value) -> Value {
        let Some(object) = schema.as_object_mut() else {
            return schema;
        };
        if let Some(Value::Array(parts)) = object.remove("allOf") {
            let mut merged = Map::new();
            for part in &parts {
                let side = if side_is_old { &self.old } else { &self.new };
                let resolved = match side.schema(part) {
                    Ok((resolved, _)) => resolved,
                    Err(error) => {
                        self.errors.push(error);
                        continue;
                    }
                };
                let resolved = if resolved.get("allOf").is_some() {
                    self.normalize(side_is_old, resolved)
                } else {
                    resolved
                };
                merge_into(&mut merged, &resolved);
            }
            // The outer schema's own keywords (description, nullable) win.
            let outer = std::mem::take(object);
            merge_into(&mut merged, &Value::Object(outer));
            *object = merged;
        }
        if let Some(Value::Array(variants)) = object.get("oneOf")
            && let Some((kind, values)) = single_value_enums(variants)
        {
            object.remove("oneOf");
            object.insert("type".into(), Value::String(kind));
            object.insert("enum".into(), Value::Array(values));
        }
        schema
    }

    fn schema_body(&mut self, at: &str, old: &Value, new: &Value, dir: Dir) {
        if text(old, "description") != text(new, "description")
            || text(old, "title") != text(new, "title")
        {
            self.push_schema(
                dir,
                Class::Info,
                "description-changed",
                at,
                "description changed",
            );
        }
        if flag(old, "deprecated") != flag(new, "deprecated") {
            self.push_schema(
                dir,
                Class::Info,
                "deprecation-changed",
                at,
                "deprecation changed",
            );
        }
        if !self.types(at, old, new, dir) {
            return; // unrelated types: nothing below compares meaningfully
        }
        self.format(at, old, new, dir);
        self.nullable(at, old, new, dir);
        self.enumeration(at, old, new, dir);
        self.bounds(at, old, new, dir);
        self.default(at, old, new, dir);
        self.properties(at, old, new, dir);
        self.additional_properties(at, old, new, dir);
        let any = Value::Object(Map::new());
        match (old.get("items"), new.get("items")) {
            (None, None) => {}
            (o, n) => {
                let (o, n) = (o.unwrap_or(&any), n.unwrap_or(&any));
                self.schema(&format!("{at}.items"), o, n, dir);
            }
        }
        for keyword in ["oneOf", "anyOf"] {
            self.variants(at, keyword, old, new, dir);
        }
        match (old.get("not"), new.get("not")) {
            (None, None) => {}
            // What `not` matches is refused: compare it the other way round.
            (Some(o), Some(n)) => self.schema(&format!("{at}.not"), o, n, dir.flip()),
            (None, Some(_)) => self.push_schema(
                dir,
                dir.narrowing(),
                "constraint-tightened",
                at,
                "`not` added",
            ),
            (Some(_), None) => self.push_schema(
                dir,
                dir.widening(),
                "constraint-loosened",
                at,
                "`not` removed",
            ),
        }
    }

    /// Compare `type`; false when the types are unrelated.
    fn types(&mut self, at: &str, old: &Value, new: &Value, dir: Dir) -> bool {
        let (o, n) = (text(old, "type"), text(new, "type"));
        if o == n {
            return true;
        }
        let show = |t: Option<&str>| t.unwrap_or("any").to_string();
        let message = format!("type {} -> {}", show(o), show(n));
        // `number` includes every `integer`; no type at all includes all.
        let widened = n.is_none() || (o == Some("integer") && n == Some("number"));
        let narrowed = o.is_none() || (o == Some("number") && n == Some("integer"));
        if widened {
            self.push_schema(dir, dir.widening(), "type-widened", at, message);
            true
        } else if narrowed {
            self.push_schema(dir, dir.narrowing(), "type-narrowed", at, message);
            true
        } else {
            self.push_schema(dir, Class::Breaking, "type-changed", at, message);
            false
        }
    }

    fn format(&mut self, at: &str, old: &Value, new: &Value, dir: Dir) {
        let (o, n) = (text(old, "format"), text(new, "format"));
        if o == n {
            return;
        }
        let show = |t: Option<&str>| t.unwrap_or("(none)").to_string();
        let message = format!("format {} -> {}", show(o), show(n));
        let class = match (o, n) {
            (Some(_), None) => dir.widening(),
            (None, Some(_)) => dir.narrowing(),
            // Two formats are two different promises: neither includes the other.
            _ => Class::Breaking,
        };
        self.push_schema(dir, class, "format-changed", at, message);
    }

    fn nullable(&mut self, at: &str, old: &Value, new: &Value, dir: Dir) {
        match (flag(old, "nullable"), flag(new, "nullable")) {
            (false, true) => self.push_schema(
                dir,
                dir.widening(),
                "nullable-changed",
                at,
                "became nullable",
            ),
            (true, false) => self.push_schema(
                dir,
                dir.narrowing(),
                "nullable-changed",
                at,
                "no longer nullable",
            ),
            _ => {}
        }
    }

    fn enumeration(&mut self, at: &str, old: &Value, new: &Value, dir: Dir) {
        let values = |v: &Value| v.get("enum").and_then(Value::as_array).cloned();
        match (values(old), values(new)) {
            (None, None) => {}
            (None, Some(_)) => self.push_schema(
                dir,
                dir.narrowing(),
                "enum-added",
                at,
                "values limited to an enum",
            ),
            (Some(_), None) => self.push_schema(
                dir,
                dir.widening(),
                "enum-removed",
                at,
                "enum limit removed",
            ),
            (Some(o), Some(n)) => {
                for value in o.iter().filter(|v| !n.contains(v)) {
                    let message = format!("enum value {value} removed");
                    self.push_schema(dir, dir.narrowing(), "enum-value-removed", at, message);
                }
                for value in n.iter().filter(|v| !o.contains(v)) {
                    let message = format!("enum value {value} added");
                    self.push_schema(dir, dir.widening(), "enum-value-added", at, message);
                }
            }
        }
    }

    fn bounds(&mut self, at: &str, old: &Value, new: &Value, dir: Dir) {
        // Lower bounds: raising one narrows; upper bounds: lowering one does.
        const LOWER: [&str; 4] = ["minimum", "minLength", "minItems", "minProperties"];
        const UPPER: [&str; 4] = ["maximum", "maxLength", "maxItems", "maxProperties"];
        for (keywords, lower) in [(LOWER, true), (UPPER, false)] {
            for keyword in keywords {
                let (o, n) = (number(old, keyword), number(new, keyword));
                let narrowed = match (o, n) {
                    (None, None) => continue,
                    (None, Some(_)) => true,
                    (Some(_), None) => false,
                    (Some(o), Some(n)) if o == n => continue,
                    (Some(o), Some(n)) => (n > o) == lower,
                };
                let show = |v: Option<f64>| v.map_or("(none)".to_string(), |v| v.to_string());
                let message = format!("{keyword} {} -> {}", show(o), show(n));
                self.tightened_or_loosened(at, narrowed, message, dir);
            }
        }
        for keyword in ["exclusiveMinimum", "exclusiveMaximum", "uniqueItems"] {
            let (o, n) = (flag(old, keyword), flag(new, keyword));
            if o != n {
                let message = format!("{keyword} {o} -> {n}");
                self.tightened_or_loosened(at, n, message, dir);
            }
        }
        match (number(old, "multipleOf"), number(new, "multipleOf")) {
            (o, n) if o == n => {}
            (o, n) => {
                // A new step that divides the old one accepts every old value.
                let loosened = match (o, n) {
                    (_, None) => true,
                    (Some(o), Some(n)) => n != 0.0 && (o / n).fract() == 0.0,
                    (None, Some(_)) => false,
                };
                let message = format!("multipleOf {o:?} -> {n:?}");
                self.tightened_or_loosened(at, !loosened, message, dir);
            }
        }
        let (o, n) = (text(old, "pattern"), text(new, "pattern"));
        if o != n {
            // Two regular expressions cannot be compared; a changed one may
            // refuse what the old accepted.
            let message = format!("pattern {o:?} -> {n:?}");
            self.tightened_or_loosened(at, n.is_some(), message, dir);
        }
    }

    fn tightened_or_loosened(&mut self, at: &str, narrowed: bool, message: String, dir: Dir) {
        if narrowed {
            self.push_schema(dir, dir.narrowing(), "constraint-tightened", at, message);
        } else {
            self.push_schema(dir, dir.widening(), "constraint-loosened", at, message);
        }
    }

    fn default(&mut self, at: &str, old: &Value, new: &Value, dir: Dir) {
        let (o, n) = (old.get("default"), new.get("default"));
        if o == n {
            return;
        }
        // A client that leaves the field out gets another value than before.
        let class = match (dir, o, n) {
            (Dir::Request, Some(_), Some(_)) => Class::Breaking,
            _ => Class::Info,
        };
        let show = |v: Option<&Value>| v.map_or("(none)".to_string(), Value::to_string);
        let message = format!("default {} -> {}", show(o), show(n));
        self.push_schema(dir, class, "default-changed", at, message);
    }

    fn properties(&mut self, at: &str, old: &Value, new: &Value, dir: Dir) {
        let empty = Map::new();
        let props = |v: &'_ Value| v.get("properties").and_then(Value::as_object).cloned();
        let (old_props, new_props) = (
            props(old).unwrap_or_else(|| empty.clone()),
            props(new).unwrap_or_else(|| empty.clone()),
        );
        let (old_required, new_required) = (required(old), required(new));
        let closed = new.get("additionalProperties") == Some(&Value::Bool(false));
        for (name, old_prop) in &old_props {
            let here = format!("{at}.properties.{name}");
            match (new_props.get(name), dir) {
                (Some(new_prop), _) => self.schema(&here, old_prop, new_prop, dir),
                (None, Dir::Response) => self.push_schema(
                    dir,
                    Class::Breaking,
                    "property-removed",
                    &here,
                    format!("property {name} removed"),
                ),
                (None, Dir::Request) if closed => self.push_schema(
                    dir,
                    Class::Breaking,
                    "property-removed",
                    &here,
                    format!("property {name} removed and no longer accepted"),
                ),
                (None, Dir::Request) => self.push_schema(
                    dir,
                    Class::Compatible,
                    "property-removed",
                    &here,
                    format!(
                        "property {name} no longer documented (still accepted as an additional property)"
                    ),
                ),
            }
        }
        for name in new_props.keys().filter(|n| !old_props.contains_key(*n)) {
            let here = format!("{at}.properties.{name}");
            let class = match dir {
                Dir::Request if new_required.contains(name) => Class::Breaking,
                _ => Class::Compatible,
            };
            let what = if new_required.contains(name) {
                "required"
            } else {
                "optional"
            };
            self.push_schema(
                dir,
                class,
                "property-added",
                &here,
                format!("{what} property {name} added"),
            );
        }
        // Requiredness of properties both sides know (a new property's is
        // part of its "added" line above).
        for name in old_props.keys().filter(|n| new_props.contains_key(*n)) {
            let here = format!("{at}.properties.{name}");
            match (old_required.contains(name), new_required.contains(name)) {
                (false, true) => self.push_schema(
                    dir,
                    dir.narrowing(),
                    "property-became-required",
                    &here,
                    format!("property {name} became required"),
                ),
                (true, false) => self.push_schema(
                    dir,
                    dir.widening(),
                    "property-became-optional",
                    &here,
                    format!("property {name} became optional"),
                ),
                _ => {}
            }
        }
        // Required names without a property schema (rare, but legal).
        let undeclared = |req: &BTreeSet<String>, props: &Map<String, Value>| {
            req.iter()
                .filter(|n| !props.contains_key(*n))
                .cloned()
                .collect::<BTreeSet<_>>()
        };
        let (old_bare, new_bare) = (
            undeclared(&old_required, &old_props),
            undeclared(&new_required, &new_props),
        );
        for name in new_bare.difference(&old_bare) {
            let here = format!("{at}.required.{name}");
            let message = format!("{name} became required");
            self.push_schema(
                dir,
                dir.narrowing(),
                "property-became-required",
                &here,
                message,
            );
        }
        for name in old_bare.difference(&new_bare) {
            if new_props.contains_key(name) {
                continue;
            }
            let here = format!("{at}.required.{name}");
            let message = format!("{name} no longer required");
            self.push_schema(
                dir,
                dir.widening(),
                "property-became-optional",
                &here,
                message,
            );
        }
    }

    fn additional_properties(&mut self, at: &str, old: &Value, new: &Value, dir: Dir) {
        // Only objects have additional properties worth reporting.
        if text(old, "type") != Some("object") && text(new, "type") != Some("object") {
            return;
        }
        let here = format!("{at}.additionalProperties");
        let (o, n) = (additional(old), additional(new));
        match (o, n) {
            (Additional::Schema(o), Additional::Schema(n)) => self.schema(&here, &o, &n, dir),
            (o, n) if o == n => {}
            (o, n) => {
                // Any > Schema > None: which way the change goes.
                let narrowed = o.rank() > n.rank();
                let message = format!("additional properties {} -> {}", o.name(), n.name());
                let class = match dir {
                    Dir::Request if narrowed => Class::Breaking,
                    Dir::Request => Class::Compatible,
                    // Clients ignore keys they do not know, as they must
                    // for added properties anyway.
                    Dir::Response => Class::Compatible,
                };
                self.push_schema(dir, class, "additional-properties-changed", &here, message);
            }
        }
    }

    fn variants(&mut self, at: &str, keyword: &str, old: &Value, new: &Value, dir: Dir) {
        let list = |v: &Value| v.get(keyword).and_then(Value::as_array).cloned();
        let (old_list, new_list) = match (list(old), list(new)) {
            (None, None) => return,
            (Some(o), Some(n)) => (o, n),
            (o, _) => {
                let message = if o.is_some() {
                    format!("`{keyword}` removed")
                } else {
                    format!("`{keyword}` added")
                };
                self.push_schema(dir, Class::Breaking, "composition-changed", at, message);
                return;
            }
        };
        let mut old_left: Vec<(usize, Value)> = old_list.into_iter().enumerate().collect();
        let mut new_left: Vec<(usize, Value)> = new_list.into_iter().enumerate().collect();
        let mut pairs = Vec::new();
        // By $ref, then by equal content.
        let matchers: [fn(&Value, &Value) -> bool; 2] = [
            |a, b| a.get("$ref").is_some() && a.get("$ref") == b.get("$ref"),
            |a, b| a == b,
        ];
        for same in matchers {
            let mut i = 0;
            while i < old_left.len() {
                match new_left.iter().position(|(_, n)| same(&old_left[i].1, n)) {
                    Some(j) => pairs.push((old_left.remove(i), new_left.remove(j))),
                    None => i += 1,
                }
            }
        }
        // What is left, by position while both sides have some.
        while !old_left.is_empty() && !new_left.is_empty() {
            pairs.push((old_left.remove(0), new_left.remove(0)));
        }
        for ((_, o), (j, n)) in pairs {
            self.schema(&format!("{at}.{keyword}[{j}]"), &o, &n, dir);
        }
        for (i, _) in old_left {
            let here = format!("{at}.{keyword}[{i}]");
            self.push_schema(
                dir,
                dir.narrowing(),
                "variant-removed",
                &here,
                "variant removed",
            );
        }
        for (j, _) in new_left {
            let here = format!("{at}.{keyword}[{j}]");
            self.push_schema(dir, dir.widening(), "variant-added", &here, "variant added");
        }
    }
}

/// What an object accepts beyond its named properties.
#[derive(Clone, Debug, PartialEq)]
enum Additional {
    None,
    Schema(Value),
    Any,
}

impl Additional {
    fn rank(&self) -> u8 {
        match self {
            Additional::None => 0,
            Additional::Schema(_) => 1,
            Additional::Any => 2,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Additional::None => "forbidden",
            Additional::Schema(_) => "typed",
            Additional::Any => "any",
        }
    }
}

fn additional(schema: &Value) -> Additional {
    match schema.get("additionalProperties") {
        None | Some(Value::Bool(true)) => Additional::Any,
        Some(Value::Bool(false)) => Additional::None,
        Some(Value::Object(o)) if o.is_empty() => Additional::Any,
        Some(other) => Additional::Schema(other.clone()),
    }
}

/// Copy keywords of `from` into `into`; `properties` and `required` merge.
fn merge_into(into: &mut Map<String, Value>, from: &Value) {
    let Some(from) = from.as_object() else {
        return;
    };
    for (key, value) in from {
        match (key.as_str(), into.get_mut(key), value) {
            ("properties", Some(Value::Object(mine)), Value::Object(theirs)) => {
                for (k, v) in theirs {
                    mine.insert(k.clone(), v.clone());
                }
            }
            ("required", Some(Value::Array(mine)), Value::Array(theirs)) => {
                for v in theirs {
                    if !mine.contains(v) {
                        mine.push(v.clone());
                    }
                }
            }
            _ => {
                into.insert(key.clone(), value.clone());
            }
        }
    }
}

/// `oneOf: [{type: string, enum: [A]}, {type: string, enum: [B]}]` as
/// `("string", [A, B])`.
fn single_value_enums(variants: &[Value]) -> Option<(String, Vec<Value>)> {
    let mut kind = None;
    let mut values = Vec::new();
    for variant in variants {
        let object = variant.as_object()?;
        let only_enum = object
            .keys()
            .all(|k| matches!(k.as_str(), "type" | "enum" | "description" | "title"));
        let variant_kind = object.get("type")?.as_str()?;
        let [value] = object.get("enum")?.as_array()?.as_slice() else {
            return None;
        };
        if !only_enum || kind.is_some_and(|k| k != variant_kind) {
            return None;
        }
        kind = Some(variant_kind);
        values.push(value.clone());
    }
    Some((kind?.to_string(), values))
}

fn to_json<T: Serialize>(schema: &T) -> Value {
    serde_json::to_value(schema).unwrap_or(Value::Null)
}

fn text<'v>(schema: &'v Value, key: &str) -> Option<&'v str> {
    schema.get(key).and_then(Value::as_str)
}

fn flag(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn number(schema: &Value, key: &str) -> Option<f64> {
    schema.get(key).and_then(Value::as_f64)
}

fn required(schema: &Value) -> BTreeSet<String> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| {
            names
                .iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn location(parameter: &Parameter) -> &'static str {
    match parameter {
        Parameter::Query { .. } => "query",
        Parameter::Header { .. } => "header",
        Parameter::Path { .. } => "path",
        Parameter::Cookie { .. } => "cookie",
    }
}

fn style(parameter: &Parameter) -> String {
    match parameter {
        Parameter::Query { style, .. } => format!("{style:?}"),
        Parameter::Header { style, .. } => format!("{style:?}"),
        Parameter::Path { style, .. } => format!("{style:?}"),
        Parameter::Cookie { style, .. } => format!("{style:?}"),
    }
}

fn status(code: &StatusCode) -> String {
    code.to_string()
}

fn is_success(code: &str) -> bool {
    code.starts_with('2')
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
