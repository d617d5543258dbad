"""Schemathesis hooks for HyperFleet: the rules of openapi.yaml that
OpenAPI 3.0 cannot state, so generated data follows the same contract the
server enforces (`cargo xtask schemathesis` loads this file).

OpenAPI 3.0 has no `propertyNames`, no `contains`, and no uniqueness by key,
so openapi.yaml states these rules in its descriptions only. Without them,
schemathesis would generate "valid" requests the contract forbids (a label
key `""`, a report without its required conditions) and count their 400 as
a schema-valid request rejected, and it would never try the invalid forms
of them as negative data. `before_load_schema` adds the rules as JSON
Schema keywords to the copy schemathesis reads, never to openapi.yaml, and
presents that copy as OpenAPI 3.1 (whose schemas are JSON Schema 2020-12,
where those keywords exist; a 3.0 document is read as draft 4, which
ignores them). That is the same document in the newer dialect: `nullable`
becomes a `null` type, nothing else changes. The one rule JSON Schema
cannot say either, "each condition type at most once", and the one it
could only say on every string at every depth, "no NUL in a report", are
applied by `filter_case` to positive cases only. Each rule mirrors
`server/api/src/validation.rs`; keep them in step.
"""

import schemathesis
from schemathesis import GenerationMode

# A DNS label: 1-63 lowercase letters, digits or '-', alphanumeric at both ends.
DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
# A label name part or value: 1-63 letters, digits, '-', '_' or '.',
# alphanumeric at both ends.
LABEL_WORD = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
# `[prefix/]name`, the prefix a DNS subdomain of at most 253 characters.
LABEL_KEY = {
    "type": "string",
    "pattern": rf"^({DNS_LABEL}(\.{DNS_LABEL})*/)?{LABEL_WORD}$",
    "maxLength": 253 + 1 + 63,
}
# A label value may also be empty.
LABEL_VALUE = {"pattern": rf"^({LABEL_WORD})?$", "maxLength": 63}
MAX_LABELS = 64
REQUIRED_CONDITIONS = ["Applied", "Available", "Health"]
# Names share the path segment with ids, so a name may not be a UUID; the
# name pattern already rules out every form but these two.
UUID = r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})$"


def _labels(schema, patch):
    """Key syntax, value syntax and (outside patches, which merge) count."""
    schema["propertyNames"] = LABEL_KEY
    values = schema.get("additionalProperties")
    if isinstance(values, dict):
        values.update(LABEL_VALUE)
    if not patch:
        schema["maxProperties"] = MAX_LABELS


def _to_openapi_31(node):
    """OpenAPI 3.0 `nullable: true` as 3.1's `null` type, everywhere."""
    if isinstance(node, list):
        for item in node:
            _to_openapi_31(item)
        return
    if not isinstance(node, dict):
        return
    for value in node.values():
        _to_openapi_31(value)
    if node.pop("nullable", False) is True:
        kind = node.get("type")
        if isinstance(kind, str):
            node["type"] = [kind, "null"]
            if "enum" in node and None not in node["enum"]:
                node["enum"].append(None)
        else:
            inner = {k: node.pop(k) for k in list(node) if k not in ("description", "default", "title")}
            node["anyOf"] = [inner, {"type": "null"}]


@schemathesis.hook
def before_load_schema(context, raw_schema):
    _to_openapi_31(raw_schema)
    raw_schema["openapi"] = "3.1.0"
    schemas = raw_schema.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        properties = schema.get("properties", {})
        if "labels" in properties:
            _labels(properties["labels"], patch=name.endswith("Patch"))
        if name.endswith("CreateRequest") and "name" in properties:
            properties["name"]["not"] = {"pattern": UUID}
    _opt_in_features(raw_schema.get("paths", {}))
    report = schemas.get("AdapterStatusReport", {}).get("properties", {})
    if "conditions" in report:
        report["conditions"]["allOf"] = [
            {"contains": {"type": "object", "properties": {"type": {"enum": [kind]}}, "required": ["type"]}}
            for kind in REQUIRED_CONDITIONS
        ]


# Parameters whose answers (412, 409/422 on a key, 410) carry error codes
# the released contract's enum does not list (docs/errors.md): clients of it
# never send them, and the end-to-end tests cover them past the contract
# proxy. Generated values would only turn those answers into schema
# findings, so schemathesis's copy does not offer them.
OPT_IN = {("header", "If-Match"), ("header", "Idempotency-Key"),
          ("header", "Last-Event-ID"), ("query", "since")}


def _opt_in_features(paths):
    """Drop the opt-in parameters."""
    for item in paths.values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            parameters = operation.get("parameters", [])
            parameters[:] = [p for p in parameters
                             if (p.get("in"), p.get("name")) not in OPT_IN]


def _valid_timeout(value):
    """A `timeout_seconds` the server accepts (1-3600), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return value if isinstance(value, int) and 1 <= value <= 3600 else None


@schemathesis.hook
def before_call(context, case, kwargs):
    """A watch is a stream that lasts `timeout_seconds` (default 300): every
    watch schemathesis sends with a valid or no timeout is sent with the
    shortest, one second, which is as valid; invalid ones still go as
    generated (and are 400 at once)."""
    if not case.path.endswith("/events"):
        return
    query = dict(case.query or {})
    value = query.get("timeout_seconds")
    if value is not None and _valid_timeout(value) is None:
        return
    query["timeout_seconds"] = 1
    # The request is built from the case after this hook.
    case.query = query


def _has_nul(value):
    """Whether a NUL is in any string or key of `value`, at any depth."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    return False


@schemathesis.hook
def filter_case(context, case):
    if case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE:
        return True
    body = case.body
    # "No NUL in any string of a report" (validation.rs): JSON Schema's
    # `pattern` would have to be repeated on every string at every depth
    # of `data` and `metadata`, so positive cases with one are dropped.
    if _has_nul(body):
        return False
    if not isinstance(body, dict) or not isinstance(body.get("conditions"), list):
        return True
    kinds = [c.get("type") for c in body["conditions"] if isinstance(c, dict)]
    return len(kinds) == len(set(kinds))
