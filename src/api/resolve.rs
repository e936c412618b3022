//! Glue between async-graphql's dynamic resolvers and typed resolver functions: owned arguments with
//! typed getters, parent downcasting, and error mapping.

use std::any::Any;
use std::future::Future;
use std::sync::Arc;

use async_graphql::dynamic::{FieldFuture, FieldValue, ResolverContext};
use async_graphql::{Name, Value};
use indexmap::IndexMap;

use super::ApiState;
use super::error::{ApiError, ApiResult};
use crate::llb::Platform;

/// A field resolver as the dynamic schema stores it.
pub type Resolver = Arc<dyn for<'a> Fn(ResolverContext<'a>) -> FieldFuture<'a> + Send + Sync>;

/// What a resolver answers: a value, an object, a list, or null.
pub type Out = Option<FieldValue<'static>>;

/// The arguments of one field call, owned so they can cross an `await`.
pub struct Args {
    values: IndexMap<Name, Value>,
    pipeline: Option<String>,
}

/// The value of `Query.pipeline(name)`: a `Query` whose objects start in that pipeline.
#[derive(Clone, Debug, Default)]
pub struct QueryInPipeline {
    /// The pipeline path, outermost first, joined with ` / `.
    pub pipeline: String,
}

/// Arguments whose values are never repeated in errors.
const SECRET_ARGUMENTS: [&str; 1] = ["plaintext"];

fn type_error(name: &str, v: &Value, want: &str) -> ApiError {
    let shown = if SECRET_ARGUMENTS.contains(&name) {
        "(hidden)".to_owned()
    } else {
        v.to_string()
    };
    ApiError::invalid_arg(
        &format!("argument {name}"),
        &shown,
        format!("expected {want}"),
    )
}

impl Args {
    fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name).filter(|v| !matches!(v, Value::Null))
    }

    /// A required string.
    pub fn string(&self, name: &str) -> ApiResult<String> {
        self.opt_string(name)?
            .ok_or_else(|| ApiError::msg(format!("argument {name} is required")))
    }

    /// An optional string.
    pub fn opt_string(&self, name: &str) -> ApiResult<Option<String>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(type_error(name, v, "a string")),
        }
    }

    /// The pipeline a root field was selected in (empty outside `Query.pipeline`).
    pub fn pipeline(&self) -> &str {
        self.pipeline.as_deref().unwrap_or("")
    }

    /// An optional boolean, false when absent.
    pub fn flag(&self, name: &str) -> ApiResult<bool> {
        match self.get(name) {
            None => Ok(false),
            Some(Value::Boolean(b)) => Ok(*b),
            Some(v) => Err(type_error(name, v, "a boolean")),
        }
    }

    /// An optional integer.
    pub fn opt_int(&self, name: &str) -> ApiResult<Option<i64>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| type_error(name, &Value::Number(n.clone()), "an integer")),
            Some(v) => Err(type_error(name, v, "an integer")),
        }
    }

    /// Optional file permissions (`0` to `0o7777`).
    pub fn permissions(&self, name: &str) -> ApiResult<Option<u32>> {
        match self.opt_int(name)? {
            None => Ok(None),
            Some(p) if (0..=0o7777).contains(&p) => Ok(Some(p as u32)),
            Some(p) => Err(ApiError::invalid_arg(
                &format!("argument {name}"),
                &p.to_string(),
                "permissions are a mode from 0 to 0o7777 (4095)",
            )),
        }
    }

    /// An optional list of strings.
    pub fn opt_strings(&self, name: &str) -> ApiResult<Option<Vec<String>>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::List(items)) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(type_error(name, other, "a list of strings")),
                })
                .collect::<ApiResult<Vec<_>>>()
                .map(Some),
            Some(v) => Err(type_error(name, v, "a list of strings")),
        }
    }

    /// A list of strings, empty when absent.
    pub fn strings(&self, name: &str) -> ApiResult<Vec<String>> {
        Ok(self.opt_strings(name)?.unwrap_or_default())
    }

    /// An optional platform (`os/arch[/variant]`), `default` when absent.
    pub fn platform_or(&self, name: &str, default: &Platform) -> ApiResult<Platform> {
        match self.opt_string(name)? {
            Some(p) => p
                .parse::<Platform>()
                .map_err(|e| ApiError::invalid_arg(name, &p, e.reason)),
            None => Ok(default.clone()),
        }
    }

    /// A list of `{name, value}` input objects (`BuildArg`), empty when absent.
    pub fn name_values(&self, name: &str) -> ApiResult<Vec<(String, String)>> {
        let Some(value) = self.get(name) else {
            return Ok(Vec::new());
        };
        let Value::List(items) = value else {
            return Err(type_error(name, value, "a list of {name, value} objects"));
        };
        items
            .iter()
            .map(|item| {
                let field = |key: &str| match item {
                    Value::Object(o) => match o.get(key) {
                        Some(Value::String(s)) => Some(s.clone()),
                        _ => None,
                    },
                    _ => None,
                };
                match (field("name"), field("value")) {
                    (Some(n), Some(v)) => Ok((n, v)),
                    _ => Err(type_error(name, item, "{name: String!, value: String!}")),
                }
            })
            .collect()
    }

    /// An enum value's name.
    pub fn opt_enum(&self, name: &str) -> ApiResult<Option<String>> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Enum(e)) => Ok(Some(e.to_string())),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(type_error(name, v, "an enum value")),
        }
    }
}

/// A plain value.
pub fn value(v: impl Into<Value>) -> Out {
    Some(FieldValue::value(v))
}

/// An object.
pub fn object<T: Any + Send + Sync>(o: T) -> Out {
    Some(FieldValue::owned_any(o))
}

/// A list of objects.
pub fn objects<T: Any + Send + Sync>(items: impl IntoIterator<Item = T>) -> Out {
    Some(FieldValue::list(
        items.into_iter().map(FieldValue::owned_any),
    ))
}

/// A nullable string.
pub fn opt_string(s: Option<String>) -> Out {
    Some(FieldValue::value(
        s.map(Value::String).unwrap_or(Value::Null),
    ))
}

/// A nullable list of strings.
pub fn opt_strings(list: Option<Vec<String>>) -> Out {
    Some(FieldValue::value(
        list.map(|l| Value::List(l.into_iter().map(Value::String).collect()))
            .unwrap_or(Value::Null),
    ))
}

/// The extension key under which a resolver error carries its response path, until the HTTP layer
/// moves it to the error's `path` (the dynamic executor does not fill `path` for resolver errors).
pub const PATH_EXTENSION: &str = "__dirk_path";

fn response_path(ctx: &ResolverContext<'_>) -> Value {
    let segments = ctx
        .path_node
        .map(|node| node.to_string_vec())
        .unwrap_or_default();
    Value::List(segments.into_iter().map(Value::String).collect())
}

fn with_path(mut err: async_graphql::Error, path: Value) -> async_graphql::Error {
    err.extensions
        .get_or_insert_with(Default::default)
        .set(PATH_EXTENSION, path);
    err
}

fn prepare(ctx: &ResolverContext<'_>) -> (Result<Arc<ApiState>, async_graphql::Error>, Args) {
    let state = ctx.data::<Arc<ApiState>>().cloned();
    let values = ctx.args.as_index_map().clone();
    // Root fields reached through `Query.pipeline` see the pipeline they were selected in.
    let pipeline = ctx
        .parent_value
        .downcast_ref::<QueryInPipeline>()
        .map(|q| q.pipeline.clone());
    (state, Args { values, pipeline })
}

/// A resolver on object type `P`: gets the session state, a clone of the parent and the arguments.
pub fn on<P, F, Fut>(field: &'static str, f: F) -> Resolver
where
    P: Any + Clone + Send + Sync,
    F: Fn(Arc<ApiState>, P, Args) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ApiResult<Out>> + Send + 'static,
{
    let f = Arc::new(f);
    Arc::new(move |ctx: ResolverContext<'_>| {
        let f = f.clone();
        let (state, args) = prepare(&ctx);
        let parent = ctx.parent_value.try_downcast_ref::<P>().cloned();
        FieldFuture::new(async move {
            let state = state?;
            let parent = parent?;
            f(state.clone(), parent, args)
                .await
                .map_err(|e| e.scrubbed(state.rt.secrets()).into_graphql(field))
        })
    })
}

/// A resolver on the root `Query` type.
pub fn root<F, Fut>(field: &'static str, f: F) -> Resolver
where
    F: Fn(Arc<ApiState>, Args) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ApiResult<Out>> + Send + 'static,
{
    let f = Arc::new(f);
    Arc::new(move |ctx: ResolverContext<'_>| {
        let f = f.clone();
        let (state, args) = prepare(&ctx);
        let path = response_path(&ctx);
        FieldFuture::new(async move {
            let state = state?;
            f(state.clone(), args)
                .await
                .map_err(|e| with_path(e.scrubbed(state.rt.secrets()).into_graphql(field), path))
        })
    })
}
