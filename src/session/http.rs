//! The session's HTTP front: `/query` (POST and GET, in the forms [`super::request`] reads) behind
//! HTTP Basic auth with the session token as user name, compared in constant time. Bound to
//! loopback only.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use async_graphql::dynamic::Schema;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;

use tracing::Instrument as _;

use super::request::{self, GraphqlRequest};
use crate::api::document;

/// Largest request body accepted (larger ones get 413).
pub(crate) const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The value of the `x-dagger-engine` header on every response.
pub(crate) const ENGINE_VERSION: &str = concat!("dirk/", env!("CARGO_PKG_VERSION"));

#[derive(Clone)]
struct AppState {
    schema: Schema,
    token: Arc<String>,
    /// The session's span: every request's span hangs under it.
    span: tracing::Span,
}

/// True when `authorization` is `Basic base64(token:)` (any password) for this session's token.
pub(crate) fn authorized(authorization: Option<&HeaderValue>, token: &str) -> bool {
    let Some(value) = authorization.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(encoded) = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let user = match decoded.iter().position(|b| *b == b':') {
        Some(i) => &decoded[..i],
        None => &decoded[..],
    };
    user.ct_eq(token.as_bytes()).into()
}

async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if authorized(request.headers().get(header::AUTHORIZATION), &state.token) {
        return next.run(request).await;
    }
    let mut response =
        (StatusCode::UNAUTHORIZED, "missing or wrong session token\n").into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"dirk session\""),
    );
    response
}

async fn add_version(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response
        .headers_mut()
        .insert("x-dagger-engine", HeaderValue::from_static(ENGINE_VERSION));
    response
}

/// Gives every error a `path` and `locations` list (clients such as the Python SDK require both),
/// taking the path a resolver recorded when there is one.
pub(crate) fn normalize_errors(response: &mut serde_json::Value) {
    let Some(errors) = response.get_mut("errors").and_then(|e| e.as_array_mut()) else {
        return;
    };
    for error in errors {
        let Some(obj) = error.as_object_mut() else {
            continue;
        };
        let recorded = obj
            .get_mut("extensions")
            .and_then(|x| x.as_object_mut())
            .and_then(|x| x.remove(crate::api::resolve::PATH_EXTENSION));
        if obj
            .get("extensions")
            .and_then(|x| x.as_object())
            .is_some_and(|x| x.is_empty())
        {
            obj.remove("extensions");
        }
        if let Some(path) = recorded {
            obj.insert("path".into(), path);
        }
        obj.entry("path").or_insert_with(|| serde_json::json!([]));
        obj.entry("locations")
            .or_insert_with(|| serde_json::json!([]));
    }
}

fn json_response(value: serde_json::Value) -> Response {
    match serde_json::to_vec(&value) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("encoding the response: {e}"),
        )
            .into_response(),
    }
}

fn bad_request(message: String) -> Response {
    let body = serde_json::json!({ "data": null, "errors": [{ "message": message }] });
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Runs one request: the document is parsed with the session's own parser (see
/// [`crate::api::document`]), executed, and answered as the JSON the SDKs expect.
pub(crate) async fn execute_json(
    schema: &Schema,
    request: async_graphql::Request,
    session: &tracing::Span,
) -> serde_json::Value {
    let response = match document::prepare(request) {
        Ok(mut request) => {
            let operation = operation_name(&mut request);
            let span = tracing::info_span!(
                parent: session,
                "graphql.request",
                otel.name = format!("graphql {operation}"),
                graphql.operation.name = %operation,
            );
            schema.execute(request).instrument(span).await
        }
        Err(e) => async_graphql::Response::from_errors(vec![e.into()]),
    };
    let mut value = serde_json::to_value(&response).unwrap_or_else(|e| {
        serde_json::json!({ "data": null, "errors": [{ "message": format!("encoding the response: {e}") }] })
    });
    normalize_errors(&mut value);
    value
}

async fn execute(state: &AppState, request: async_graphql::Request) -> Response {
    json_response(execute_json(&state.schema, request, &state.span).await)
}

/// The name of the operation a request runs (`anonymous` when it has none).
fn operation_name(request: &mut async_graphql::Request) -> String {
    if let Some(name) = &request.operation_name {
        return name.clone();
    }
    match request.parsed_query().map(|d| &d.operations) {
        Ok(async_graphql::parser::types::DocumentOperations::Multiple(ops)) if ops.len() == 1 => {
            ops.keys().next().map(|k| k.to_string()).unwrap_or_default()
        }
        _ => "anonymous".to_owned(),
    }
}

async fn post_query(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    match request::from_post(content_type, &body) {
        Ok(GraphqlRequest::Single(request)) => execute(&state, *request).await,
        Ok(GraphqlRequest::Batch(requests)) => {
            let answers = futures::future::join_all(
                requests
                    .into_iter()
                    .map(|r| execute_json(&state.schema, r, &state.span)),
            )
            .await;
            json_response(serde_json::Value::Array(answers))
        }
        Err(e) => bad_request(e.to_string()),
    }
}

async fn get_query(
    State(state): State<AppState>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    match request::from_parameters(&pairs) {
        Ok(request) => execute(&state, request).await,
        Err(e) => bad_request(e.to_string()),
    }
}

/// The router for one session.
pub(crate) fn router(schema: Schema, token: String, span: tracing::Span) -> Router {
    let state = AppState {
        schema,
        token: Arc::new(token),
        span,
    };
    Router::new()
        .route("/query", get(get_query).post(post_query))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .route(&crate::shim::shim_http_path(), get(serve_shim))
        .layer(middleware::from_fn(add_version))
        .with_state(state)
}

/// The exec shim, for the daemon to download (see [`crate::core::runtime::ShimDelivery`]).
async fn serve_shim() -> Response {
    (
        [(header::CONTENT_TYPE, "application/octet-stream")],
        Bytes::from_static(crate::shim::SHIM_BINARY),
    )
        .into_response()
}

/// Binds a listener on 127.0.0.1 (the only address a session ever listens on).
pub(crate) async fn bind_loopback(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(s: &str) -> HeaderValue {
        HeaderValue::from_str(&format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(s)
        ))
        .unwrap_or(HeaderValue::from_static(""))
    }

    #[test]
    fn token_is_the_user_name() {
        assert!(authorized(Some(&basic("tok:")), "tok"));
        assert!(authorized(Some(&basic("tok:anything")), "tok"));
        assert!(authorized(Some(&basic("tok")), "tok"));
        assert!(!authorized(Some(&basic("to:")), "tok"));
        assert!(!authorized(Some(&basic("tokk:")), "tok"));
        assert!(!authorized(Some(&basic(":tok")), "tok"));
        assert!(!authorized(
            Some(&HeaderValue::from_static("Bearer tok")),
            "tok"
        ));
        assert!(!authorized(
            Some(&HeaderValue::from_static("Basic !!!")),
            "tok"
        ));
        assert!(!authorized(None, "tok"));
    }
}
