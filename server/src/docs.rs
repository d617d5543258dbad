//! `GET /docs`: the API reference, rendered from the same `openapi.yaml`
//! the server serves at `/openapi.yaml`, as one HTML page with its styles
//! inline: no scripts, no fonts, nothing fetched, so it works offline and
//! cannot disagree with the contract.
//!
//! Every operation shows its method, path, operationId, description (which
//! names its error codes), security, parameters, request body with its
//! example, and responses with their schemas; every schema of
//! `components.schemas` shows its properties and constraints. Each
//! operation's section carries `id="op-<operationId>"`, so links and the CI
//! check (`cargo xtask docs-check`) can find it.

use std::fmt::Write as _;
use std::sync::OnceLock;

use serde_json::Value;

use crate::error::ServiceError;

/// The page for `openapi_yaml`, the served document (a parameter so this
/// module does not import its caller), rendered once on first request.
pub fn page(openapi_yaml: &str) -> Result<String, ServiceError> {
    static PAGE: OnceLock<Result<String, String>> = OnceLock::new();
    PAGE.get_or_init(|| {
        let document: Value = yaml_serde::from_str(openapi_yaml)
            .map_err(|e| format!("openapi.yaml does not parse: {e}"))?;
        Ok(render(&document))
    })
    .clone()
    .map_err(ServiceError::Response)
}

/// HTTP methods in the order a reader expects them.
const METHODS: [&str; 8] = [
    "get", "post", "put", "patch", "delete", "head", "options", "trace",
];

/// One operation of the document.
struct Operation<'a> {
    method: &'a str,
    path: &'a str,
    body: &'a Value,
}

impl Operation<'_> {
    fn id(&self) -> &str {
        str_at(self.body, "operationId").unwrap_or("")
    }
}

/// The whole page for an OpenAPI 3.0 document.
pub fn render(document: &Value) -> String {
    let title = document
        .pointer("/info/title")
        .and_then(Value::as_str)
        .unwrap_or("API");
    let version = document
        .pointer("/info/version")
        .and_then(Value::as_str)
        .unwrap_or("");
    let operations = operations(document);
    let tags = tags(document, &operations);

    let mut html = String::with_capacity(256 * 1024);
    html.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    html.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(
        html,
        "<title>{} {} reference</title>",
        escape(title),
        escape(version)
    );
    html.push_str(STYLE);
    html.push_str("</head>\n<body>\n<nav>\n");
    let _ = writeln!(html, "<p class=\"brand\">{}</p>", escape(title));
    for (tag, _, members) in &tags {
        let _ = writeln!(
            html,
            "<h2><a href=\"#tag-{}\">{}</a></h2>\n<ul>",
            escape(tag),
            escape(tag)
        );
        for operation in members {
            let _ = writeln!(
                html,
                "<li><a href=\"#op-{id}\"><span class=\"method {m}\">{M}</span> {id}</a></li>",
                id = escape(operation.id()),
                m = operation.method,
                M = operation.method.to_ascii_uppercase()
            );
        }
        html.push_str("</ul>\n");
    }
    html.push_str("<h2><a href=\"#schemas\">schemas</a></h2>\n</nav>\n<main>\n");

    let _ = writeln!(
        html,
        "<header><h1>{} <span class=\"version\">{}</span></h1>",
        escape(title),
        escape(version)
    );
    if let Some(description) = str_at(document, "/info/description") {
        html.push_str(&prose(description));
    }
    html.push_str(
        "<p>This page is rendered from <a href=\"/openapi.yaml\"><code>openapi.yaml</code></a>, \
         the contract this server implements. Errors share one body, \
         <a href=\"#schema-Error\"><code>Error</code></a>, whose <code>error</code> code decides \
         the HTTP status; each operation's description names the codes it can answer.</p>\n",
    );
    if let Some(schemes) = document
        .pointer("/components/securitySchemes")
        .and_then(Value::as_object)
    {
        for (name, scheme) in schemes {
            let _ = writeln!(
                html,
                "<p class=\"security\">Authentication <code>{}</code>: {} {}. {}</p>",
                escape(name),
                escape(str_at(scheme, "type").unwrap_or("")),
                escape(str_at(scheme, "scheme").unwrap_or("")),
                inline(str_at(scheme, "description").unwrap_or(""))
            );
        }
    }
    html.push_str("</header>\n");

    let global_security = document.get("security");
    for (tag, description, members) in &tags {
        let _ = writeln!(
            html,
            "<section class=\"tag\" id=\"tag-{}\">\n<h2>{}</h2>",
            escape(tag),
            escape(tag)
        );
        if !description.is_empty() {
            html.push_str(&prose(description));
        }
        for operation in members {
            render_operation(&mut html, operation, global_security, document);
        }
        html.push_str("</section>\n");
    }

    html.push_str("<section id=\"schemas\">\n<h2>Schemas</h2>\n");
    if let Some(schemas) = document
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        for (name, schema) in schemas {
            render_schema(&mut html, name, schema);
        }
    }
    html.push_str("</section>\n</main>\n</body>\n</html>\n");
    html
}

/// Every operation, in the document's path order, methods in [`METHODS`]
/// order.
fn operations(document: &Value) -> Vec<Operation<'_>> {
    let mut operations = Vec::new();
    if let Some(paths) = document.get("paths").and_then(Value::as_object) {
        for (path, item) in paths {
            for method in METHODS {
                if let Some(body) = item.get(method) {
                    operations.push(Operation { method, path, body });
                }
            }
        }
    }
    operations
}

/// Operations grouped by their first tag, in the order of the document's
/// `tags` (untagged ones last, under `other`), with each tag's description.
fn tags<'a>(
    document: &'a Value,
    operations: &'a [Operation<'a>],
) -> Vec<(String, String, Vec<&'a Operation<'a>>)> {
    let mut groups: Vec<(String, String, Vec<&Operation>)> = document
        .get("tags")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|tag| {
            let name = str_at(tag, "name")?;
            let description = str_at(tag, "description").unwrap_or("");
            Some((name.to_string(), description.to_string(), Vec::new()))
        })
        .collect();
    for operation in operations {
        let tag = operation
            .body
            .pointer("/tags/0")
            .and_then(Value::as_str)
            .unwrap_or("other");
        match groups.iter_mut().find(|(name, _, _)| name == tag) {
            Some((_, _, members)) => members.push(operation),
            None => groups.push((tag.to_string(), String::new(), vec![operation])),
        }
    }
    groups.retain(|(_, _, members)| !members.is_empty());
    groups
}

fn render_operation(
    html: &mut String,
    operation: &Operation,
    global_security: Option<&Value>,
    document: &Value,
) {
    let id = operation.id();
    let body = operation.body;
    let _ = writeln!(
        html,
        "<section class=\"operation\" id=\"op-{id}\" data-operation-id=\"{id}\" \
         data-method=\"{method}\" data-path=\"{path}\">\n\
         <h3><span class=\"method {method}\">{METHOD}</span> <code class=\"path\">{path}</code></h3>\n\
         <p class=\"operation-id\">operationId <code>{id}</code></p>",
        id = escape(id),
        method = operation.method,
        METHOD = operation.method.to_ascii_uppercase(),
        path = escape(operation.path),
    );
    if let Some(summary) = str_at(body, "summary") {
        let _ = writeln!(html, "<p class=\"summary\">{}</p>", inline(summary));
    }
    if let Some(description) = str_at(body, "description") {
        html.push_str(&prose(description));
    }
    if body.get("deprecated").and_then(Value::as_bool) == Some(true) {
        html.push_str("<p class=\"deprecated\">Deprecated.</p>\n");
    }
    // An operation's own `security` replaces the document's; an empty list
    // means no credentials.
    let security = body.get("security").or(global_security);
    let needs = security
        .and_then(Value::as_array)
        .map(|alternatives| {
            alternatives
                .iter()
                .filter_map(Value::as_object)
                .flat_map(|requirement| requirement.keys().cloned())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    if needs.is_empty() {
        html.push_str("<p class=\"security\">No credentials needed.</p>\n");
    } else {
        let _ = writeln!(
            html,
            "<p class=\"security\">Needs <code>{}</code> (a bearer token) when the server runs \
             with authentication.</p>",
            escape(&needs.join(", "))
        );
    }

    let parameters: Vec<&Value> = body
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|parameter| resolve(document, parameter))
        .collect();
    if !parameters.is_empty() {
        html.push_str(
            "<h4>Parameters</h4>\n<table class=\"parameters\">\n<tr><th>name</th><th>in</th>\
             <th>type</th><th>required</th><th>description</th></tr>\n",
        );
        for parameter in parameters {
            let schema = parameter.get("schema").unwrap_or(&Value::Null);
            let _ = writeln!(
                html,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(str_at(parameter, "name").unwrap_or("")),
                escape(str_at(parameter, "in").unwrap_or("")),
                type_of(schema),
                if parameter.get("required").and_then(Value::as_bool) == Some(true) {
                    "yes"
                } else {
                    "no"
                },
                inline(
                    str_at(parameter, "description")
                        .or_else(|| str_at(schema, "description"))
                        .unwrap_or("")
                ) + &constraints(schema)
            );
        }
        html.push_str("</table>\n");
    }

    if let Some(request) = body.get("requestBody") {
        let request = resolve(document, request);
        let required = request.get("required").and_then(Value::as_bool) == Some(true);
        let _ = writeln!(
            html,
            "<h4>Request body{}</h4>",
            if required { "" } else { " (optional)" }
        );
        for (media, content) in request
            .get("content")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let schema = content.get("schema").unwrap_or(&Value::Null);
            let _ = writeln!(
                html,
                "<p><code>{}</code>: {}</p>",
                escape(media),
                type_of(schema)
            );
            let example = content
                .get("example")
                .or_else(|| schema_example(document, schema));
            if let Some(example) = example {
                example_block(html, "Example request", example);
            }
        }
    }

    html.push_str(
        "<h4>Responses</h4>\n<table class=\"responses\">\n<tr><th>status</th>\
         <th>description</th><th>body</th></tr>\n",
    );
    let mut examples = Vec::new();
    for (status, response) in body
        .get("responses")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let response = resolve(document, response);
        let mut bodies = Vec::new();
        for (media, content) in response
            .get("content")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let schema = content.get("schema").unwrap_or(&Value::Null);
            bodies.push(format!(
                "<code>{}</code>: {}",
                escape(media),
                type_of(schema)
            ));
            let example = content
                .get("example")
                .or_else(|| schema_example(document, schema));
            if let (Some(example), true) = (example, status.starts_with('2')) {
                examples.push((status.clone(), example));
            }
        }
        let mut description = inline(str_at(response, "description").unwrap_or(""));
        if let Some(headers) = response.get("headers").and_then(Value::as_object) {
            for name in headers.keys() {
                let _ = write!(description, " Header <code>{}</code>.", escape(name));
            }
        }
        let class = if status.starts_with('2') {
            "success"
        } else {
            "error"
        };
        let _ = writeln!(
            html,
            "<tr class=\"{class}\"><td><code>{}</code></td><td>{description}</td><td>{}</td></tr>",
            escape(status),
            bodies.join("<br>")
        );
    }
    html.push_str("</table>\n");
    for (status, example) in examples {
        example_block(html, &format!("Example {status} response"), example);
    }
    html.push_str("</section>\n");
}

fn render_schema(html: &mut String, name: &str, schema: &Value) {
    let _ = writeln!(
        html,
        "<section class=\"schema\" id=\"schema-{name}\">\n<h3><code>{name}</code></h3>",
        name = escape(name)
    );
    if let Some(description) = str_at(schema, "description") {
        html.push_str(&prose(description));
    }
    let properties = schema.get("properties").and_then(Value::as_object);
    if let Some(properties) = properties {
        let required: Vec<&str> = schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        html.push_str(
            "<table class=\"properties\">\n<tr><th>property</th><th>type</th><th>required</th>\
             <th>description</th></tr>\n",
        );
        for (property, definition) in properties {
            let _ = writeln!(
                html,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(property),
                type_of(definition),
                if required.contains(&property.as_str()) {
                    "yes"
                } else {
                    "no"
                },
                inline(str_at(definition, "description").unwrap_or("")) + &constraints(definition)
            );
        }
        html.push_str("</table>\n");
    } else {
        let _ = writeln!(html, "<p>{}{}</p>", type_of(schema), constraints(schema));
    }
    // Enums whose values each carry a description (dropshot writes them as
    // `oneOf` of one-value enums): list every value with its meaning.
    if let Some(variants) = schema.get("oneOf").and_then(Value::as_array) {
        html.push_str("<ul class=\"values\">\n");
        for variant in variants {
            let values = variant
                .get("enum")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|value| format!("<code>{}</code>", escape(&plain(value))))
                .collect::<Vec<_>>();
            let label = if values.is_empty() {
                type_of(variant)
            } else {
                values.join(", ")
            };
            let _ = writeln!(
                html,
                "<li>{label}: {}</li>",
                inline(str_at(variant, "description").unwrap_or(""))
            );
        }
        html.push_str("</ul>\n");
    }
    if let Some(example) = schema.get("example") {
        example_block(html, "Example", example);
    }
    html.push_str("</section>\n");
}

/// A schema's type in words, with links to named schemas.
fn type_of(schema: &Value) -> String {
    if let Some(reference) = str_at(schema, "$ref") {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return format!(
            "<a href=\"#schema-{name}\"><code>{name}</code></a>",
            name = escape(name)
        );
    }
    let nullable = if schema.get("nullable").and_then(Value::as_bool) == Some(true) {
        " or null"
    } else {
        ""
    };
    for (keyword, joiner) in [("allOf", " and "), ("oneOf", " | "), ("anyOf", " | ")] {
        if let Some(members) = schema.get(keyword).and_then(Value::as_array) {
            let parts: Vec<String> = members.iter().map(type_of).collect();
            return format!("{}{nullable}", parts.join(joiner));
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let values: Vec<String> = values
            .iter()
            .map(|v| format!("<code>{}</code>", escape(&plain(v))))
            .collect();
        return format!("one of {}{nullable}", values.join(", "));
    }
    let kind = str_at(schema, "type").unwrap_or("any");
    let described = match kind {
        "array" => format!(
            "array of {}",
            type_of(schema.get("items").unwrap_or(&Value::Null))
        ),
        "object" => match schema.get("additionalProperties") {
            Some(Value::Bool(true)) | None if schema.get("properties").is_none() => {
                "object".to_string()
            }
            Some(values @ Value::Object(_)) => format!("map of string to {}", type_of(values)),
            _ => "object".to_string(),
        },
        other => match str_at(schema, "format") {
            Some(format) => format!("{} ({})", escape(other), escape(format)),
            None => escape(other),
        },
    };
    format!("{described}{nullable}")
}

/// The value rules of a schema, after its description.
fn constraints(schema: &Value) -> String {
    let mut rules = Vec::new();
    for (keyword, words) in [
        ("minimum", "at least"),
        ("maximum", "at most"),
        ("minLength", "length at least"),
        ("maxLength", "length at most"),
        ("minItems", "items at least"),
        ("maxItems", "items at most"),
        ("default", "default"),
    ] {
        if let Some(value) = schema.get(keyword) {
            rules.push(format!("{words} <code>{}</code>", escape(&plain(value))));
        }
    }
    if let Some(pattern) = str_at(schema, "pattern") {
        rules.push(format!("pattern <code>{}</code>", escape(pattern)));
    }
    if rules.is_empty() {
        String::new()
    } else {
        format!(" <span class=\"rules\">({})</span>", rules.join("; "))
    }
}

/// A `$ref` to a component followed (once), else the value itself.
fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    str_at(value, "$ref")
        .and_then(|reference| reference.strip_prefix('#'))
        .and_then(|pointer| document.pointer(pointer))
        .unwrap_or(value)
}

/// The example of a schema, or of the component it names.
fn schema_example<'a>(document: &'a Value, schema: &'a Value) -> Option<&'a Value> {
    resolve(document, schema).get("example")
}

fn example_block(html: &mut String, title: &str, example: &Value) {
    let text = serde_json::to_string_pretty(example).unwrap_or_else(|_| example.to_string());
    let _ = writeln!(
        html,
        "<details class=\"example\" open><summary>{}</summary><pre>{}</pre></details>",
        escape(title),
        escape(&text)
    );
}

/// A scalar as text (strings without their quotes).
fn plain(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn str_at<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    if key.starts_with('/') {
        value.pointer(key).and_then(Value::as_str)
    } else {
        value.get(key).and_then(Value::as_str)
    }
}

/// Descriptions are Markdown as the trait's doc comments write it:
/// paragraphs split by blank lines, `code` in backticks. That much is
/// rendered; anything else shows as written.
fn prose(text: &str) -> String {
    text.split("\n\n")
        .filter(|paragraph| !paragraph.trim().is_empty())
        .map(|paragraph| format!("<p>{}</p>\n", inline(paragraph.trim())))
        .collect()
}

/// One line of Markdown: escaped, with `code` spans.
fn inline(text: &str) -> String {
    let mut html = String::new();
    for (index, part) in text.split('`').enumerate() {
        // Odd parts sit between backticks; an unmatched last backtick
        // leaves its text as code, which is harmless.
        if index % 2 == 1 {
            let _ = write!(html, "<code>{}</code>", escape(part));
        } else {
            html.push_str(&escape(part));
        }
    }
    html
}

/// Text safe in HTML content and in double-quoted attributes.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

const STYLE: &str = "<style>
body { margin: 0; font: 15px/1.5 system-ui, sans-serif; color: #1d2330; display: flex; }
nav { position: sticky; top: 0; height: 100vh; overflow-y: auto; width: 19rem; flex: none;
      background: #f4f6f9; border-right: 1px solid #dde2ea; padding: 1rem; box-sizing: border-box; }
nav ul { list-style: none; padding: 0; margin: 0 0 1rem; }
nav li { margin: .15rem 0; font-size: 13px; }
nav h2 { font-size: 13px; text-transform: uppercase; margin: 1rem 0 .3rem; }
nav a { color: inherit; text-decoration: none; }
.brand { font-weight: 700; font-size: 17px; margin: 0; }
main { padding: 1rem 2.5rem 4rem; max-width: 60rem; min-width: 0; }
h1 .version { font-size: 60%; color: #5b6577; }
section.tag > h2 { border-bottom: 2px solid #dde2ea; margin-top: 2.5rem; text-transform: capitalize; }
section.operation, section.schema { border: 1px solid #dde2ea; border-radius: 6px; padding: .2rem 1rem 1rem;
      margin: 1.2rem 0; }
h3 { font-size: 17px; }
h4 { margin: 1rem 0 .3rem; }
.method { display: inline-block; min-width: 3.6rem; text-align: center; border-radius: 3px; color: #fff;
      font: 700 12px/1.8 ui-monospace, monospace; padding: 0 .3rem; background: #5b6577; }
.method.get { background: #2b6cb0; } .method.post { background: #2f855a; } .method.put { background: #b7791f; }
.method.patch { background: #805ad5; } .method.delete { background: #c53030; }
.operation-id { color: #5b6577; margin: 0; }
code, pre { font-family: ui-monospace, monospace; font-size: 13px; }
pre { background: #f4f6f9; padding: .6rem; overflow-x: auto; border-radius: 4px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; border-bottom: 1px solid #e8ebf0; padding: .3rem .5rem; }
th { font-size: 12px; text-transform: uppercase; color: #5b6577; }
tr.error td:first-child code { color: #c53030; }
.rules { color: #5b6577; }
.security { color: #5b6577; font-size: 13px; }
</style>
";

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> Value {
        match yaml_serde::from_str(include_str!("../../openapi.yaml")) {
            Ok(document) => document,
            Err(error) => panic!("openapi.yaml parses: {error}"),
        }
    }

    #[test]
    fn every_operation_has_its_section_and_path() {
        let document = document();
        let html = render(&document);
        let operations = operations(&document);
        assert!(operations.len() > 10, "the document has its operations");
        for operation in operations {
            let id = operation.id();
            assert!(
                html.contains(&format!("id=\"op-{id}\"")),
                "{id} has a section"
            );
            assert!(
                html.contains(&format!(
                    "<code class=\"path\">{}</code>",
                    escape(operation.path)
                )),
                "{} is shown",
                operation.path
            );
        }
    }

    #[test]
    fn bodies_examples_and_errors_are_shown() {
        let html = render(&document());
        // A request example, a response schema link, an error code of a
        // description, and the error schema's codes.
        assert!(html.contains("Example request"));
        assert!(html.contains("href=\"#schema-Cluster\""));
        assert!(html.contains("<code>ClusterAlreadyExists</code>"));
        assert!(html.contains("id=\"schema-ErrorCode\""));
        assert!(html.contains("<code>4XX</code>"));
    }

    #[test]
    fn the_page_fetches_nothing() {
        let html = render(&document());
        assert!(!html.contains("<script"));
        assert!(!html.contains("src=\""));
        assert!(!html.contains("http://") && !html.contains("https://"));
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            inline("a <b> & `c<d>`"),
            "a &lt;b&gt; &amp; <code>c&lt;d&gt;</code>"
        );
        assert_eq!(escape("\"'"), "&quot;&#39;");
    }
}
