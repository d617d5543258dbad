//! The schema walk: two schemas compared keyword by keyword, each change
//! classified by the direction the schema travels.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::pattern::{self, Verdict};
use super::{Class, Differ, Dir};

impl<'a> Differ<'a> {
    /// Compare two schemas travelling in `dir`.
    pub(super) fn schema(&mut self, at: &str, old: &Value, new: &Value, dir: Dir) {
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
        if !self.wrapped(at, &old, &new, dir) {
            let old = self.normalize(true, old);
            let new = self.normalize(false, new);
            self.schema_body(at, &old, &new, dir);
        }
        if key.is_some() {
            self.stack.pop();
        }
    }

    /// A schema that became one variant of a new `oneOf`/`anyOf` beside
    /// others: said once, rather than as every keyword the wrapper lacks.
    /// Old values still match their variant; with `oneOf` they may match
    /// another one too and be refused, and clients reading a response meet
    /// variants they never handled.
    fn wrapped(&mut self, at: &str, old: &Value, new: &Value, dir: Dir) -> bool {
        let has_variants = |v: &Value| v.get("oneOf").is_some() || v.get("anyOf").is_some();
        if has_variants(old) {
            return false;
        }
        for keyword in ["oneOf", "anyOf"] {
            let Some(variants) = new.get(keyword).and_then(Value::as_array) else {
                continue;
            };
            let same = variants.iter().any(|variant| {
                self.new
                    .schema(variant)
                    .is_ok_and(|(resolved, _)| resolved == *old)
            });
            if !same || variants.len() < 2 {
                continue;
            }
            let class = match (dir, keyword) {
                (Dir::Request, "anyOf") => Class::Compatible,
                _ => Class::Breaking,
            };
            let others = variants.len() - 1;
            let message = format!("wrapped in `{keyword}` beside {others} other variant(s)");
            self.push_schema(dir, class, "wrapped-in-variants", at, message);
            return true;
        }
        false
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
        self.pattern(at, text(old, "pattern"), text(new, "pattern"), dir);
    }

    fn pattern(&mut self, at: &str, old: Option<&str>, new: Option<&str>, dir: Dir) {
        let (o, n) = match (old, new) {
            (None, None) => return,
            (Some(o), Some(n)) if o == n => return,
            (None, Some(n)) => {
                let message = format!("pattern {n:?} added");
                return self.tightened_or_loosened(at, true, message, dir);
            }
            (Some(o), None) => {
                let message = format!("pattern {o:?} removed");
                return self.tightened_or_loosened(at, false, message, dir);
            }
            (Some(o), Some(n)) => (o, n),
        };
        match pattern::compare(o, n) {
            Verdict::Same => {
                let message =
                    format!("pattern {o:?} -> {n:?}, the same strings written differently");
                self.push_schema(dir, Class::Info, "pattern-rewritten", at, message);
            }
            Verdict::Widened => {
                let message =
                    format!("pattern {o:?} -> {n:?} accepts every string it did, and more");
                self.tightened_or_loosened(at, false, message, dir);
            }
            Verdict::Narrowed => {
                let message = format!("pattern {o:?} -> {n:?} accepts only strings it did");
                self.tightened_or_loosened(at, true, message, dir);
            }
            // A changed pattern may refuse a request that matched the old
            // one, or let a response through that clients validate against it.
            Verdict::Undecidable(why) => {
                let message = format!(
                    "pattern {o:?} -> {n:?}: counted as breaking because it is not shown to \
                     keep accepting the same strings ({why})"
                );
                self.push_schema(dir, Class::Breaking, "pattern-changed", at, message);
            }
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
