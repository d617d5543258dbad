//! Security: which credentials a call needs (`security`, per operation and
//! global) and what those credentials are (`components.securitySchemes`).
//!
//! `security` lists alternatives, any one of which authorises a call; each
//! alternative names schemes that must all be satisfied, with the scopes
//! each needs. An existing caller satisfies one old alternative, so its
//! calls keep working exactly when some new alternative asks for no more:
//! a subset of its schemes, each with a subset of its scopes. An old
//! alternative that no new one fits is what makes a change breaking; the
//! rule named says in which way it no longer fits.

use std::collections::{BTreeMap, BTreeSet};

use openapiv3::{OpenAPI, Operation, SecurityRequirement};
use serde_json::{Map, Value};

use super::{Class, Differ, deref, to_json};

/// One alternative: scheme name -> scopes it needs.
type Requirement = BTreeMap<String, BTreeSet<String>>;

/// The alternatives of a `security` list; an empty list (or none at all)
/// asks for nothing, which is the one alternative with no schemes.
fn alternatives(list: Option<&Vec<SecurityRequirement>>) -> Vec<Requirement> {
    let list: Vec<Requirement> = list
        .into_iter()
        .flatten()
        .map(|requirement| {
            requirement
                .iter()
                .map(|(scheme, scopes)| (scheme.clone(), scopes.iter().cloned().collect()))
                .collect()
        })
        .collect();
    if list.is_empty() {
        vec![Requirement::new()]
    } else {
        list
    }
}

/// Whether a caller that satisfies `old` also satisfies `new`.
fn fits(new: &Requirement, old: &Requirement) -> bool {
    new.iter()
        .all(|(scheme, scopes)| old.get(scheme).is_some_and(|held| scopes.is_subset(held)))
}

fn schemes(requirement: &Requirement) -> BTreeSet<&String> {
    requirement.keys().collect()
}

fn show(requirement: &Requirement) -> String {
    if requirement.is_empty() {
        return "(no credentials)".to_string();
    }
    let parts: Vec<String> = requirement
        .iter()
        .map(|(scheme, scopes)| {
            if scopes.is_empty() {
                scheme.clone()
            } else {
                let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
                format!("{scheme}[{}]", scopes.join(", "))
            }
        })
        .collect();
    format!("{{{}}}", parts.join(" + "))
}

fn show_all(alternatives: &[Requirement]) -> String {
    let parts: Vec<String> = alternatives.iter().map(show).collect();
    parts.join(" or ")
}

/// Every scheme name a document's `security` lists mention.
fn used_schemes(document: &OpenAPI) -> BTreeSet<String> {
    let operations = document
        .paths
        .iter()
        .filter_map(|(_, item)| item.as_item())
        .flat_map(|item| item.iter().map(|(_, op)| op.security.as_ref()));
    std::iter::once(document.security.as_ref())
        .chain(operations)
        .flatten()
        .flatten()
        .flat_map(|requirement| requirement.keys().cloned())
        .collect()
}

impl<'a> Differ<'a> {
    /// The security of one operation present in both documents. One that
    /// inherits the global list on both sides is left to `global_security`,
    /// so a global change is reported once, not once per operation.
    pub(super) fn operation_security(&mut self, at: &str, old: &Operation, new: &Operation) {
        if old.security.is_none() && new.security.is_none() {
            self.inherits_global = true;
            return;
        }
        let old = alternatives(old.security.as_ref().or(self.old_doc().security.as_ref()));
        let new = alternatives(new.security.as_ref().or(self.new_doc().security.as_ref()));
        self.requirements(&format!("{at}.security"), &old, &new);
    }

    /// The global `security` list, when some operation on both sides
    /// inherits it (otherwise no caller depends on it).
    pub(super) fn global_security(&mut self) {
        if !self.inherits_global {
            return;
        }
        let old = alternatives(self.old_doc().security.as_ref());
        let new = alternatives(self.new_doc().security.as_ref());
        self.requirements("security", &old, &new);
    }

    fn requirements(&mut self, at: &str, old: &[Requirement], new: &[Requirement]) {
        // New alternatives a breaking line below already names, so they are
        // not reported a second time as additions.
        let mut explained = BTreeSet::new();
        for o in old {
            if new.iter().any(|n| fits(n, o)) {
                continue;
            }
            if o.is_empty() {
                explained.extend(0..new.len());
                let message = format!(
                    "calls without credentials are refused: now needs {}",
                    show_all(new)
                );
                self.push(Class::Breaking, "security-added", at, message);
            } else if let Some(j) = new.iter().position(|n| schemes(n) == schemes(o)) {
                explained.insert(j);
                let message = format!(
                    "{} now needs scopes {}: tokens without them are refused",
                    show(o),
                    show(&new[j])
                );
                self.push(Class::Breaking, "security-scope-added", at, message);
            } else if let Some(j) = new.iter().position(|n| schemes(n).is_superset(&schemes(o))) {
                explained.insert(j);
                let message = format!(
                    "{} now needs {}: callers holding only the old credentials are refused",
                    show(o),
                    show(&new[j])
                );
                self.push(Class::Breaking, "security-scheme-required", at, message);
            } else {
                let message = format!(
                    "callers authenticating with {} are refused (now {})",
                    show(o),
                    show_all(new)
                );
                self.push(Class::Breaking, "security-requirement-removed", at, message);
            }
        }
        for (j, n) in new.iter().enumerate() {
            if explained.contains(&j) || old.contains(n) {
                continue;
            }
            if n.is_empty() {
                let message = "calls without credentials are accepted";
                self.push(Class::Compatible, "security-removed", at, message);
            } else if let Some(o) = old.iter().find(|o| schemes(o) == schemes(n)) {
                let message = format!("{} -> {}: fewer scopes needed", show(o), show(n));
                self.push(Class::Compatible, "security-scope-removed", at, message);
            } else if let Some(o) = old.iter().find(|o| schemes(o).is_superset(&schemes(n))) {
                let message = format!("{} -> {}: fewer schemes needed", show(o), show(n));
                self.push(
                    Class::Compatible,
                    "security-scheme-no-longer-required",
                    at,
                    message,
                );
            } else {
                let message = format!("{} accepted as another way to authenticate", show(n));
                self.push(Class::Compatible, "security-requirement-added", at, message);
            }
        }
    }

    /// `components.securitySchemes`: what each credential is and how it is
    /// sent.
    pub(super) fn security_schemes(&mut self) {
        let (old_doc, new_doc) = (self.old_doc(), self.new_doc());
        let scheme_map = |doc: &'a OpenAPI| doc.components.as_ref().map(|c| &c.security_schemes);
        let (old_map, new_map) = (scheme_map(old_doc), scheme_map(new_doc));
        let used = used_schemes(old_doc);
        for (name, old_scheme) in old_map.into_iter().flatten() {
            let at = format!("components.securitySchemes.{name}");
            let Some(new_scheme) = new_map.and_then(|m| m.get(name)) else {
                let class = if used.contains(name) {
                    Class::Breaking
                } else {
                    Class::Info
                };
                let message = format!("security scheme {name} removed");
                self.push(class, "security-scheme-removed", &at, message);
                continue;
            };
            let old_components = self.old.components;
            let new_components = self.new.components;
            let kind = "securitySchemes";
            let o = deref(old_scheme, |c| &c.security_schemes, old_components, kind);
            let n = deref(new_scheme, |c| &c.security_schemes, new_components, kind);
            match (o, n) {
                (Ok(o), Ok(n)) => self.security_scheme(&at, &to_json(o), &to_json(n)),
                (Err(e), _) | (_, Err(e)) => self.errors.push(e),
            }
        }
        let added = new_map
            .into_iter()
            .flat_map(|m| m.keys())
            .filter(|n| !old_map.is_some_and(|m| m.contains_key(*n)));
        for name in added {
            let at = format!("components.securitySchemes.{name}");
            let message = format!("security scheme {name} added");
            self.push(Class::Compatible, "security-scheme-added", &at, message);
        }
    }

    fn security_scheme(&mut self, at: &str, old: &Value, new: &Value) {
        let field = |v: &'_ Value, k: &str| v.get(k).and_then(Value::as_str).map(String::from);
        if field(old, "description") != field(new, "description") {
            let message = "description changed";
            self.push(
                Class::Info,
                "security-scheme-description-changed",
                at,
                message,
            );
        }
        let (old_type, new_type) = (field(old, "type"), field(new, "type"));
        if old_type != new_type {
            let show = |t: Option<String>| t.unwrap_or_else(|| "(none)".into());
            let message = format!(
                "type {} -> {}: the credential is sent another way",
                show(old_type),
                show(new_type)
            );
            self.push(Class::Breaking, "security-scheme-type-changed", at, message);
            return; // nothing else compares across types
        }
        // RFC 7235: authentication scheme names are case-insensitive.
        let lower = |v: Option<String>| v.map(|s| s.to_ascii_lowercase());
        let (o, n) = (lower(field(old, "scheme")), lower(field(new, "scheme")));
        if o != n {
            let message = format!(
                "HTTP scheme {} -> {}: the Authorization header callers send is refused",
                o.unwrap_or_default(),
                n.unwrap_or_default()
            );
            self.push(Class::Breaking, "security-http-scheme-changed", at, message);
        }
        for key in ["in", "name"] {
            let (o, n) = (field(old, key), field(new, key));
            if o != n {
                let message = format!(
                    "API key `{key}` {} -> {}: callers send the key where it is not read",
                    o.unwrap_or_default(),
                    n.unwrap_or_default()
                );
                self.push(Class::Breaking, "security-api-key-moved", at, message);
            }
        }
        let (o, n) = (field(old, "bearerFormat"), field(new, "bearerFormat"));
        if o != n {
            // Adding or dropping the hint documents tokens; replacing it says
            // the tokens callers hold are not the kind accepted any more.
            let class = if o.is_some() && n.is_some() {
                Class::Breaking
            } else {
                Class::Info
            };
            let show = |t: Option<String>| t.unwrap_or_else(|| "(none)".into());
            let message = format!("bearerFormat {} -> {}", show(o), show(n));
            self.push(class, "security-bearer-format-changed", at, message);
        }
        let (o, n) = (
            field(old, "openIdConnectUrl"),
            field(new, "openIdConnectUrl"),
        );
        if o != n {
            let message = format!(
                "openIdConnectUrl {} -> {}: clients configured with the old one may not get tokens",
                o.unwrap_or_default(),
                n.unwrap_or_default()
            );
            self.push(Class::Breaking, "security-flow-url-changed", at, message);
        }
        let empty = Map::new();
        let flows = |v: &'_ Value| v.get("flows").and_then(Value::as_object).cloned();
        let (old_flows, new_flows) = (
            flows(old).unwrap_or_else(|| empty.clone()),
            flows(new).unwrap_or_else(|| empty.clone()),
        );
        for (kind, old_flow) in &old_flows {
            let here = format!("{at}.flows.{kind}");
            match new_flows.get(kind) {
                Some(new_flow) => self.flow(&here, old_flow, new_flow),
                None => {
                    let message = format!("OAuth2 flow {kind} removed: its clients get no tokens");
                    self.push(Class::Breaking, "security-flow-removed", &here, message);
                }
            }
        }
        for kind in new_flows.keys().filter(|k| !old_flows.contains_key(*k)) {
            let here = format!("{at}.flows.{kind}");
            let message = format!("OAuth2 flow {kind} added");
            self.push(Class::Compatible, "security-flow-added", &here, message);
        }
    }

    fn flow(&mut self, at: &str, old: &Value, new: &Value) {
        let field = |v: &'_ Value, k: &str| v.get(k).and_then(Value::as_str).map(String::from);
        for key in ["authorizationUrl", "tokenUrl", "refreshUrl"] {
            let (o, n) = (field(old, key), field(new, key));
            if o == n {
                continue;
            }
            // Clients are configured with these URLs; only a refresh URL
            // where there was none leaves every old client as it was.
            let class = if key == "refreshUrl" && o.is_none() {
                Class::Compatible
            } else {
                Class::Breaking
            };
            let show = |t: Option<String>| t.unwrap_or_else(|| "(none)".into());
            let message = format!("{key} {} -> {}", show(o), show(n));
            self.push(
                class,
                "security-flow-url-changed",
                &format!("{at}.{key}"),
                message,
            );
        }
        let scopes = |v: &'_ Value| -> BTreeSet<String> {
            v.get("scopes")
                .and_then(Value::as_object)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default()
        };
        let (o, n) = (scopes(old), scopes(new));
        for scope in o.difference(&n) {
            let message = format!("scope {scope} removed: tokens can no longer be granted it");
            let here = format!("{at}.scopes.{scope}");
            self.push(
                Class::Breaking,
                "security-flow-scope-removed",
                &here,
                message,
            );
        }
        for scope in n.difference(&o) {
            let message = format!("scope {scope} added");
            let here = format!("{at}.scopes.{scope}");
            self.push(
                Class::Compatible,
                "security-flow-scope-added",
                &here,
                message,
            );
        }
    }
}
