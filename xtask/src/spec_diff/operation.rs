//! The operation walk: parameters, request bodies, responses and their
//! headers, down to the schemas, which `schema.rs` compares.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use openapiv3::{
    Header, MediaType, Operation, Parameter, ParameterSchemaOrContent, ReferenceOr, RequestBody,
    Response, StatusCode,
};

use super::{Class, Differ, Dir, deref, to_json};

impl<'a> Differ<'a> {
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

    pub(super) fn parameters(
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

    pub(super) fn request_body(&mut self, at: &str, old: &'a Operation, new: &'a Operation) {
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
                // A media type without a schema takes any body: one
                // appearing or going is said once, not as every keyword of it.
                Some(new_media) => match (&old_media.schema, &new_media.schema) {
                    (None, None) => {}
                    (Some(o), Some(n)) => {
                        let (o, n) = (to_json(o), to_json(n));
                        self.schema(&format!("{here}.schema"), &o, &n, dir);
                    }
                    (None, Some(_)) => self.push_schema(
                        dir,
                        dir.narrowing(),
                        "media-type-schema-added",
                        &format!("{here}.schema"),
                        format!("{media} bodies, any so far, must now match a schema"),
                    ),
                    (Some(_), None) => self.push_schema(
                        dir,
                        dir.widening(),
                        "media-type-schema-removed",
                        &format!("{here}.schema"),
                        format!("{media} bodies no longer described by a schema: anything goes"),
                    ),
                },
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

    pub(super) fn responses(&mut self, at: &str, old: &'a Operation, new: &'a Operation) {
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
        if !old.required && new.required {
            self.push(
                Class::Compatible,
                "response-header-became-required",
                at,
                "header now always sent",
            );
        }
        if let (ParameterSchemaOrContent::Schema(o), ParameterSchemaOrContent::Schema(n)) =
            (&old.format, &new.format)
        {
            let (o, n) = (to_json(o), to_json(n));
            self.schema(&format!("{at}.schema"), &o, &n, Dir::Response);
        }
    }
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
