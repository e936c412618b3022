//! GraphQL over HTTP: the request forms `/query` accepts, turned into executor requests.
//!
//! - POST `application/json` (any `charset`): one request object, or a batch (an array of them,
//!   answered by an array of results in the same order);
//! - POST `application/graphql`: the body is the document;
//! - POST `application/x-www-form-urlencoded` and GET: `query`, `operationName`, `variables` and
//!   `extensions` as parameters, the last two JSON-encoded.
//!
//! An `operationName` that is empty, null or absent means none was given (genqlient, the Go SDK's
//! client, always sends `""`). Every field is checked for its type, and a wrong one is named.

use async_graphql::Variables;
use serde_json::{Map, Value};

/// Why a request body or query string is not a GraphQL request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The body's bytes are not UTF-8 text.
    #[error("the request body is not UTF-8 text")]
    NotUtf8,
    /// The body is not JSON at all.
    #[error("the request body is not JSON: {0}")]
    NotJson(String),
    /// The JSON is neither a request object nor a batch of them.
    #[error(
        "the request body is JSON {0}; send an object {{\"query\": ..., \"variables\": ..., \"operationName\": ...}}, or an array of such objects for a batch"
    )]
    NotARequest(&'static str),
    /// A batch with nothing in it.
    #[error("the batch is an empty array; send at least one request object in it")]
    EmptyBatch,
    /// One request of a batch is malformed.
    #[error("request {index} of the batch: {reason}")]
    InBatch {
        /// Its position, from 0.
        index: usize,
        /// What is wrong with it.
        reason: Box<RequestError>,
    },
    /// No document was sent.
    #[error("the request has no \"query\"; send the GraphQL document as a string in \"query\"")]
    MissingQuery,
    /// A field has the wrong JSON type.
    #[error("\"{field}\" must be {expected}, not {got}")]
    WrongType {
        /// The field.
        field: &'static str,
        /// What it may be.
        expected: &'static str,
        /// What it was.
        got: &'static str,
    },
    /// A parameter that must hold JSON does not.
    #[error("the \"{field}\" parameter is not JSON: {reason}")]
    ParameterNotJson {
        /// The parameter.
        field: &'static str,
        /// The parser's complaint.
        reason: String,
    },
    /// A form body that cannot be decoded.
    #[error("the form body is malformed: {0}")]
    MalformedForm(String),
}

/// What one HTTP request asks for.
#[derive(Debug)]
pub enum GraphqlRequest {
    /// One request, answered by one response object.
    Single(Box<async_graphql::Request>),
    /// A batch, answered by an array of response objects in the same order.
    Batch(Vec<async_graphql::Request>),
}

/// The JSON type name of `value`, for error messages.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The operation to run, from an `operationName` value: empty and null mean none.
fn operation_name(value: Option<Value>) -> Result<Option<String>, RequestError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(RequestError::WrongType {
            field: "operationName",
            expected: "a string or null",
            got: type_name(&other),
        }),
    }
}

/// An object-valued field (`variables`, `extensions`): null and absent mean empty.
fn object_field(
    field: &'static str,
    value: Option<Value>,
) -> Result<Option<Map<String, Value>>, RequestError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(other) => Err(RequestError::WrongType {
            field,
            expected: "an object or null",
            got: type_name(&other),
        }),
    }
}

/// Assembles an executor request from its checked parts.
fn assemble(
    query: String,
    operation: Option<String>,
    variables: Option<Map<String, Value>>,
    extensions: Option<Map<String, Value>>,
) -> async_graphql::Request {
    let mut request = async_graphql::Request::new(query);
    if let Some(op) = operation {
        request = request.operation_name(op);
    }
    if let Some(vars) = variables {
        request = request.variables(Variables::from_json(Value::Object(vars)));
    }
    for (key, value) in extensions.into_iter().flatten() {
        if let Ok(value) = async_graphql::Value::from_json(value) {
            request.extensions.insert(key, value);
        }
    }
    request
}

/// One request object of a JSON body.
fn from_object(mut object: Map<String, Value>) -> Result<async_graphql::Request, RequestError> {
    let query = match object.remove("query") {
        Some(Value::String(q)) => q,
        None | Some(Value::Null) => return Err(RequestError::MissingQuery),
        Some(other) => {
            return Err(RequestError::WrongType {
                field: "query",
                expected: "a string",
                got: type_name(&other),
            });
        }
    };
    Ok(assemble(
        query,
        operation_name(object.remove("operationName"))?,
        object_field("variables", object.remove("variables"))?,
        object_field("extensions", object.remove("extensions"))?,
    ))
}

/// A JSON body: one request object or a batch of them.
pub fn from_json(body: &[u8]) -> Result<GraphqlRequest, RequestError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| RequestError::NotJson(e.to_string()))?;
    match value {
        Value::Object(object) => Ok(GraphqlRequest::Single(Box::new(from_object(object)?))),
        Value::Array(items) if items.is_empty() => Err(RequestError::EmptyBatch),
        Value::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(index, item)| {
                let in_batch = |reason| RequestError::InBatch {
                    index,
                    reason: Box::new(reason),
                };
                match item {
                    Value::Object(object) => from_object(object).map_err(in_batch),
                    other => Err(in_batch(RequestError::NotARequest(type_name(&other)))),
                }
            })
            .collect::<Result<Vec<_>, _>>()
            .map(GraphqlRequest::Batch),
        other => Err(RequestError::NotARequest(type_name(&other))),
    }
}

/// A JSON-encoded object parameter (`variables`, `extensions` in a URL or form): empty means none.
fn json_parameter(
    field: &'static str,
    text: Option<&str>,
) -> Result<Option<Map<String, Value>>, RequestError> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    let value: Value = serde_json::from_str(text).map_err(|e| RequestError::ParameterNotJson {
        field,
        reason: e.to_string(),
    })?;
    object_field(field, Some(value))
}

/// A request given as `key=value` parameters (a GET's query string, or a form body).
pub fn from_parameters(pairs: &[(String, String)]) -> Result<async_graphql::Request, RequestError> {
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let query = get("query").ok_or(RequestError::MissingQuery)?;
    let operation = get("operationName")
        .filter(|op| !op.is_empty())
        .map(str::to_owned);
    Ok(assemble(
        query.to_owned(),
        operation,
        json_parameter("variables", get("variables"))?,
        json_parameter("extensions", get("extensions"))?,
    ))
}

/// A POST body, read according to its `Content-Type` (JSON when none is given).
pub fn from_post(content_type: Option<&str>, body: &[u8]) -> Result<GraphqlRequest, RequestError> {
    let media_type = content_type
        .and_then(|ct| ct.split(';').next())
        .map(|mt| mt.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match media_type.as_str() {
        "application/graphql" => {
            let query = std::str::from_utf8(body).map_err(|_| RequestError::NotUtf8)?;
            Ok(GraphqlRequest::Single(Box::new(
                async_graphql::Request::new(query),
            )))
        }
        "application/x-www-form-urlencoded" => {
            let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
                .map_err(|e| RequestError::MalformedForm(e.to_string()))?;
            from_parameters(&pairs).map(|r| GraphqlRequest::Single(Box::new(r)))
        }
        _ => from_json(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(body: &str) -> Result<async_graphql::Request, RequestError> {
        match from_json(body.as_bytes())? {
            GraphqlRequest::Single(r) => Ok(*r),
            GraphqlRequest::Batch(_) => Err(RequestError::EmptyBatch),
        }
    }

    #[test]
    fn an_empty_or_null_operation_name_is_not_given() {
        for body in [
            r#"{"query": "{ a }", "operationName": ""}"#,
            r#"{"query": "{ a }", "operationName": null}"#,
            r#"{"query": "{ a }"}"#,
        ] {
            let r = single(body).unwrap_or_else(|e| panic!("{body}: {e}"));
            assert_eq!(r.operation_name, None, "{body}");
        }
        let named = single(r#"{"query": "query A { a }", "operationName": "A"}"#);
        assert_eq!(named.ok().and_then(|r| r.operation_name), Some("A".into()));
    }

    #[test]
    fn variables_and_extensions_may_be_null_or_absent() {
        let r = single(r#"{"query": "{ a }", "variables": null, "extensions": null}"#);
        assert!(r.is_ok_and(|r| r.variables.is_empty()));
        let r = single(r#"{"query": "{ a }", "variables": {"x": 1}, "extensions": {"k": "v"}}"#);
        let r = r.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.variables.len(), 1);
        assert!(r.extensions.contains_key("k"));
    }

    #[test]
    fn wrong_types_are_named() {
        let cases = [
            (
                r#"{"query": 1}"#,
                "\"query\" must be a string, not a number",
            ),
            (r#"{}"#, "no \"query\""),
            (r#"{"query": null}"#, "no \"query\""),
            (
                r#"{"query": "{ a }", "operationName": 3}"#,
                "\"operationName\" must be a string or null, not a number",
            ),
            (
                r#"{"query": "{ a }", "variables": []}"#,
                "\"variables\" must be an object or null, not an array",
            ),
            (
                r#"{"query": "{ a }", "extensions": "x"}"#,
                "\"extensions\" must be an object or null, not a string",
            ),
            (r#""{ a }""#, "JSON a string"),
            (r#"[]"#, "empty array"),
            (r#"[{"query": "{ a }"}, 7]"#, "request 1 of the batch"),
            (r#"{"query": "#, "not JSON"),
        ];
        for (body, expected) in cases {
            let e = from_json(body.as_bytes())
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains(expected), "{body}: {e:?} lacks {expected:?}");
        }
    }

    #[test]
    fn a_batch_keeps_its_order() {
        let batch = from_json(br#"[{"query": "{ a }"}, {"query": "{ b }", "operationName": ""}]"#);
        match batch {
            Ok(GraphqlRequest::Batch(items)) => {
                let queries: Vec<&str> = items.iter().map(|r| r.query.as_str()).collect();
                assert_eq!(queries, ["{ a }", "{ b }"]);
            }
            other => panic!("expected a batch, got {other:?}"),
        }
    }

    #[test]
    fn content_types_and_parameters() {
        let graphql = from_post(Some("application/graphql; charset=utf-8"), b"{ a }");
        assert!(matches!(graphql, Ok(GraphqlRequest::Single(r)) if r.query == "{ a }"));
        let json = from_post(
            Some("Application/JSON; charset=UTF-8"),
            br#"{"query": "{ a }"}"#,
        );
        assert!(matches!(json, Ok(GraphqlRequest::Single(_))));
        let form = from_post(
            Some("application/x-www-form-urlencoded"),
            b"query=%7B+a+%7D&operationName=&variables=%7B%22x%22%3A1%7D",
        );
        assert!(
            matches!(form, Ok(GraphqlRequest::Single(r)) if r.operation_name.is_none() && r.variables.len() == 1)
        );
        let pairs = vec![
            ("query".to_owned(), "{ a }".to_owned()),
            ("variables".to_owned(), "[1]".to_owned()),
        ];
        let e = from_parameters(&pairs).err().map(|e| e.to_string());
        assert_eq!(
            e.as_deref(),
            Some("\"variables\" must be an object or null, not an array")
        );
        let pairs = vec![
            ("query".to_owned(), "{ a }".to_owned()),
            ("variables".to_owned(), "{".to_owned()),
        ];
        assert!(matches!(
            from_parameters(&pairs),
            Err(RequestError::ParameterNotJson { .. })
        ));
        assert_eq!(
            from_post(Some("application/graphql"), &[0xff]).err(),
            Some(RequestError::NotUtf8)
        );
    }
}
