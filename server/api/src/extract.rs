//! Request extractors that report failures in HyperFleet's error shape.
//!
//! Dropshot's own `TypedBody` and `Query` fail with an `HttpError` that knows
//! neither the request id nor which field was wrong. These wrappers publish
//! the same OpenAPI metadata as dropshot's, but keep a parse failure as an
//! [`Error`] with field details; the handler gets it from `into_inner()?`.

use async_trait::async_trait;
use dropshot::{
    ApiEndpointBodyContentType, ExclusiveExtractor, ExtractorMetadata, Header, Path, Query,
    RequestContext, ServerContext, SharedExtractor, TypedBody, UntypedBody,
};
use schemars::JsonSchema;
use schemars::schema::{InstanceType, Schema, SingleOrVec};
use serde::de::DeserializeOwned;

use crate::error::{Error, ErrorCode, FieldError};

/// A JSON request body of type `T`.
#[derive(Debug)]
pub struct JsonBody<T>(Result<T, Error>);

/// The query string, parsed into `T`.
#[derive(Debug)]
pub struct QueryParams<T>(Result<T, Error>);

/// The path parameters, parsed into `T`.
#[derive(Debug)]
pub struct PathParams<T>(Result<T, Error>);

/// The request headers named by `T`, parsed.
#[derive(Debug)]
pub struct HeaderParams<T>(Result<T, Error>);

macro_rules! into_inner {
    ($($extractor:ident),*) => {$(
        impl<T> $extractor<T> {
            /// The parsed value, or the 400 error that explains why the
            /// request could not be parsed.
            pub fn into_inner(self) -> Result<T, Error> {
                self.0
            }
        }
    )*};
}
into_inner!(JsonBody, QueryParams, PathParams, HeaderParams);

#[async_trait]
impl<T> ExclusiveExtractor for JsonBody<T>
where
    T: JsonSchema + DeserializeOwned + Send + Sync + 'static,
{
    async fn from_request<Context: ServerContext>(
        rqctx: &RequestContext<Context>,
        request: hyper::Request<dropshot::Body>,
    ) -> Result<Self, dropshot::HttpError> {
        let request_id = rqctx.request_id.as_str();
        if let Err(error) = check_json_content_type(request.headers()) {
            return Ok(Self(Err(error.with_request_id(request_id))));
        }
        let parsed = match UntypedBody::from_request(rqctx, request).await {
            Ok(body) => parse_json_object::<T>(body.as_bytes()),
            Err(error) => Err(body_read_error(error)),
        };
        Ok(Self(parsed.map_err(|e| e.with_request_id(request_id))))
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        <TypedBody<T> as ExclusiveExtractor>::metadata(content_type)
    }
}

#[async_trait]
impl<T> SharedExtractor for QueryParams<T>
where
    T: JsonSchema + DeserializeOwned + Send + Sync + 'static,
{
    async fn from_request<Context: ServerContext>(
        rqctx: &RequestContext<Context>,
    ) -> Result<Self, dropshot::HttpError> {
        let query = rqctx.request.uri().query().unwrap_or("");
        let parsed = parse_query(query).map_err(|e| e.with_request_id(&rqctx.request_id));
        Ok(Self(parsed))
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        <Query<T> as SharedExtractor>::metadata(content_type)
    }
}

#[async_trait]
impl<T> SharedExtractor for PathParams<T>
where
    T: JsonSchema + DeserializeOwned + Send + Sync + 'static,
{
    async fn from_request<Context: ServerContext>(
        rqctx: &RequestContext<Context>,
    ) -> Result<Self, dropshot::HttpError> {
        let parsed = <Path<T> as SharedExtractor>::from_request(rqctx)
            .await
            .map(Path::into_inner)
            .map_err(|e| {
                Error::new(ErrorCode::BadRequest, e.external_message)
                    .with_request_id(&rqctx.request_id)
            });
        Ok(Self(parsed))
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        <Path<T> as SharedExtractor>::metadata(content_type)
    }
}

#[async_trait]
impl<T> SharedExtractor for HeaderParams<T>
where
    T: JsonSchema + DeserializeOwned + Send + Sync + 'static,
{
    async fn from_request<Context: ServerContext>(
        rqctx: &RequestContext<Context>,
    ) -> Result<Self, dropshot::HttpError> {
        let parsed = <Header<T> as SharedExtractor>::from_request(rqctx)
            .await
            .map(Header::into_inner)
            .map_err(|e| {
                Error::new(ErrorCode::BadRequest, e.external_message)
                    .with_request_id(&rqctx.request_id)
            });
        Ok(Self(parsed))
    }

    fn metadata(content_type: ApiEndpointBodyContentType) -> ExtractorMetadata {
        <Header<T> as SharedExtractor>::metadata(content_type)
    }
}

/// A missing content type is read as JSON (as curl's `-d` users expect);
/// anything else but `application/json` (parameters such as charset allowed)
/// is refused before the body is read.
fn check_json_content_type(headers: &http::HeaderMap) -> Result<(), Error> {
    let Some(value) = headers.get(http::header::CONTENT_TYPE) else {
        return Ok(());
    };
    let mime = value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    match mime.as_deref() {
        Some("application/json") => Ok(()),
        _ => Err(Error::new(
            ErrorCode::BadRequest,
            format!(
                "unsupported content type {:?}: send application/json",
                String::from_utf8_lossy(value.as_bytes())
            ),
        )),
    }
}

fn body_read_error(error: dropshot::HttpError) -> Error {
    if error.external_message.contains("exceeded maximum size") {
        Error::new(ErrorCode::PayloadTooLarge, error.external_message)
    } else {
        Error::new(ErrorCode::BadRequest, error.external_message)
    }
}

/// Parse a JSON body whose objects must be JSON objects: serde's derived
/// structs also accept an array of their fields in order (`[]` for a patch
/// whose fields are all optional, `["gcp", "us-east1", 3]` for a spec),
/// which the contract does not allow. The body's shape is checked against
/// `T`'s schema first, naming the first array found where an object belongs.
pub fn parse_json_object<T: JsonSchema + DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(bytes) {
        let root = schemars::r#gen::SchemaGenerator::default().into_root_schema_for::<T>();
        let schema = Schema::Object(root.schema.clone());
        if let Some(field) = array_for_object(&root.definitions, &schema, &value, "") {
            let message = "invalid type: array, expected an object".to_string();
            return Err(Error::validation(vec![FieldError { field, message }]));
        }
    }
    parse_json(bytes)
}

/// The path of the first array in `value` where `schema` wants an object.
fn array_for_object(
    definitions: &schemars::Map<String, Schema>,
    schema: &Schema,
    value: &serde_json::Value,
    path: &str,
) -> Option<String> {
    let Schema::Object(object) = schema else {
        return None;
    };
    if let Some(name) = object.reference.as_ref().and_then(|r| r.rsplit('/').next()) {
        let target = definitions.get(name)?;
        return array_for_object(definitions, target, value, path);
    }
    // `allOf`/`anyOf` wrappers (descriptions, Option): any part may say object.
    let parts = object.subschemas.iter().flat_map(|sub| {
        sub.all_of
            .iter()
            .chain(sub.any_of.iter())
            .chain(sub.one_of.iter())
            .flatten()
    });
    for part in parts {
        if let Some(found) = array_for_object(definitions, part, value, path) {
            return Some(found);
        }
    }
    let wants_object = object
        .instance_type
        .as_ref()
        .is_some_and(|t| t.contains(&InstanceType::Object));
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        serde_json::Value::Array(_) if wants_object => Some(if path.is_empty() {
            "(body)".into()
        } else {
            path.into()
        }),
        serde_json::Value::Object(map) => {
            let validation = object.object.as_ref()?;
            map.iter().find_map(|(key, item)| {
                let sub = validation
                    .properties
                    .get(key)
                    .or(validation.additional_properties.as_deref())?;
                array_for_object(definitions, sub, item, &join(key))
            })
        }
        serde_json::Value::Array(items) => {
            let SingleOrVec::Single(sub) = object.array.as_ref()?.items.as_ref()? else {
                return None;
            };
            items.iter().enumerate().find_map(|(i, item)| {
                array_for_object(definitions, sub, item, &format!("{path}[{i}]"))
            })
        }
        _ => None,
    }
}

/// Parse a JSON body; a syntax error is `BadRequest`, a well-formed body of
/// the wrong shape is `ValidationFailed` naming the field. A body is exactly
/// one JSON value with nothing but whitespace after it: a deserializer
/// stops after the first value, so without the check `{...}xyz` would be
/// created and the second object of `{}{...}` silently dropped.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Error> {
    // Syntax first, on the whole body, so trailing bytes are a 400
    // `BadRequest` whatever the first value's shape; `IgnoredAny` builds
    // nothing, and bodies are bounded by the server's body limit.
    if let Err(error) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        return Err(malformed(&error));
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize(deserializer) {
        Ok(value) => Ok(value),
        Err(error) => {
            let path = error.path().to_string();
            let inner = error.into_inner();
            if inner.is_data() {
                let message = strip_position(&inner.to_string());
                let field = field_of(&path, &message);
                Err(Error::validation(vec![FieldError { field, message }]))
            } else {
                Err(malformed(&inner))
            }
        }
    }
}

/// The `BadRequest` of a body that is not one JSON value.
fn malformed(error: &serde_json::Error) -> Error {
    let message = if error.to_string().starts_with("trailing characters") {
        // serde_json's own words do not say what is wrong with them.
        format!(
            "malformed JSON body: the body must be one JSON value, found more after it \
             at line {} column {}",
            error.line(),
            error.column()
        )
    } else {
        format!("malformed JSON body: {error}")
    };
    Error::new(ErrorCode::BadRequest, message)
}

/// Parse a query string into `T`; unknown, repeated or malformed parameters
/// are `BadRequest` naming the parameter.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, Error> {
    let deserializer =
        serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = error.into_inner().to_string();
        let field = field_of(&path, &message);
        let mut error = Error::new(
            ErrorCode::BadRequest,
            format!("invalid query parameter {field}: {message}"),
        );
        error.details.push(FieldError { field, message });
        error
    })
}

/// serde reports a missing field at its parent's path, naming the field in
/// backquotes (an unknown one already at its own path); give the full path.
fn field_of(path: &str, message: &str) -> String {
    let parent = if path == "." { "" } else { path };
    let named = ["missing field `", "unknown field `", "duplicate field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split('`').next());
    match (parent, named) {
        (parent, Some(name)) if parent.rsplit('.').next() == Some(name) => parent.to_string(),
        ("", Some(name)) => name.to_string(),
        (parent, Some(name)) => format!("{parent}.{name}"),
        (parent, None) => parent.to_string(),
    }
}

/// serde_json appends " at line 1 column 12", which helps nobody once the
/// field is named.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        name: String,
        spec: Inner,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Inner {
        node_count: i32,
    }

    fn body_error(json: &str) -> Error {
        match parse_json::<Outer>(json.as_bytes()) {
            Ok(value) => panic!("{json} parsed as {value:?}"),
            Err(error) => error,
        }
    }

    #[test]
    fn names_the_field_of_shape_errors() {
        let missing = body_error(r#"{"name":"a","spec":{}}"#);
        assert_eq!(missing.error, ErrorCode::ValidationFailed);
        assert_eq!(missing.details[0].field, "spec.nodeCount");

        let unknown = body_error(r#"{"name":"a","spec":{"nodeCount":1},"colour":"red"}"#);
        assert_eq!(unknown.details[0].field, "colour");

        let typed = body_error(r#"{"name":"a","spec":{"nodeCount":"three"}}"#);
        assert_eq!(typed.details[0].field, "spec.nodeCount");
        assert!(
            !typed.details[0].message.contains("line"),
            "{}",
            typed.details[0].message
        );
    }

    #[derive(Debug, Deserialize, schemars::JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Patch {
        spec: Option<PatchSpec>,
        items: Option<Vec<PatchSpec>>,
    }

    #[derive(Debug, Deserialize, schemars::JsonSchema)]
    #[allow(dead_code)]
    struct PatchSpec {
        count: Option<i32>,
    }

    #[test]
    fn arrays_are_not_objects() {
        let field = |json: &str| match parse_json_object::<Patch>(json.as_bytes()) {
            Ok(value) => panic!("{json} parsed as {value:?}"),
            Err(error) => error.details[0].field.clone(),
        };
        assert_eq!(field("[]"), "(body)");
        assert_eq!(field(r#"{"spec": [3]}"#), "spec");
        assert_eq!(field(r#"{"items": [{"count": 1}, [2]]}"#), "items[1]");
        assert!(parse_json_object::<Patch>(br#"{"spec": {"count": 3}, "items": []}"#).is_ok());
    }

    #[test]
    fn syntax_errors_are_bad_requests() {
        assert_eq!(body_error(r#"{"name":"#).error, ErrorCode::BadRequest);
        assert_eq!(body_error("not json").error, ErrorCode::BadRequest);
    }

    #[test]
    fn a_body_is_one_json_value_and_whitespace() {
        let valid = r#"{"name":"a","spec":{"nodeCount":1}}"#;
        assert!(parse_json::<Outer>(format!(" \n{valid}\r\n\t ").as_bytes()).is_ok());
        for body in [
            format!("{valid}xyz"),
            format!("{valid}{{}}"),
            format!("{{}}{valid}"),
            format!("{valid} 1"),
            format!("{valid}\u{0}"),
            "[]xyz".to_string(),
            "[] []".to_string(),
        ] {
            let error = body_error(&body);
            assert_eq!(error.error, ErrorCode::BadRequest, "{body}");
            assert!(
                error.message.contains("one JSON value"),
                "{body}: {}",
                error.message
            );
        }
        // Through the object check too: `[]xyz` is not let past as a bare `[]`.
        let error = parse_json_object::<Patch>(b"[]xyz").expect_err("[]xyz");
        assert_eq!(error.error, ErrorCode::BadRequest);
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Page {
        page: Option<u32>,
    }

    #[test]
    fn names_the_offending_query_parameter() {
        let bad = parse_query::<Page>("page=abc").expect_err("abc is not a page");
        assert_eq!(bad.details[0].field, "page");
        let unknown = parse_query::<Page>("colour=red").expect_err("unknown parameter");
        assert_eq!(unknown.details[0].field, "colour");
        let repeated = parse_query::<Page>("page=1&page=2").expect_err("repeated parameter");
        assert_eq!(repeated.details[0].field, "page");
        assert_eq!(parse_query::<Page>("").map(|p| p.page).ok(), Some(None));
    }
}
