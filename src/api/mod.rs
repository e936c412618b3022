//! The GraphQL layer: serves the Dagger v0.6.4 API over the domain. Resolvers decode arguments and
//! IDs, call `core`, and turn results and errors into GraphQL. Nothing below this layer knows GraphQL.

mod container;
mod directory;
pub mod document;
pub mod error;
mod git;
mod host;
pub mod ids;
mod query;
pub mod resolve;
pub mod sdl;
mod secret;

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dynamic::Schema;

use crate::core::Runtime;
use resolve::Resolver;

/// Query nesting allowed (SDK pipelines chain deeply: one level per `with*` call).
pub const MAX_DEPTH: usize = 2_000;
/// Recursion allowed while parsing and validating a query.
pub const MAX_RECURSIVE_DEPTH: usize = 4_000;
/// Fields allowed in one query.
pub const MAX_COMPLEXITY: usize = 100_000;

/// Everything resolvers share within a session.
pub struct ApiState {
    /// Domain context (engine, pins, platform).
    pub rt: Runtime,
    /// Issued IDs.
    pub ids: ids::IdStore,
}

/// Every resolver this build implements, by `(type, field)`.
pub fn resolvers() -> HashMap<(&'static str, &'static str), Resolver> {
    let mut reg = HashMap::new();
    query::register(&mut reg);
    container::register(&mut reg);
    directory::register(&mut reg);
    host::register(&mut reg);
    git::register(&mut reg);
    secret::register(&mut reg);
    reg
}

/// The served schema over `state`.
pub fn build_schema(state: Arc<ApiState>) -> Result<Schema, sdl::SdlError> {
    sdl::schema_builder(&resolvers())?
        .data(state)
        .limit_depth(MAX_DEPTH)
        .limit_recursive_depth(MAX_RECURSIVE_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .finish()
        .map_err(|e| sdl::SdlError(e.to_string()))
}

/// Registers `Type.field` with a resolver on parent type `$parent`.
macro_rules! field {
    // The same resolver under several names (deprecated spellings, no-op pairs).
    ($reg:expr, $ty:literal . [$($name:literal),+], $parent:ty, |$st:ident, $p:pat_param, $a:ident| $body:block) => {
        $( $crate::api::field!($reg, $ty . $name, $parent, |$st, $p, $a| $body); )+
    };
    ($reg:expr, $ty:literal . $name:literal, $parent:ty, |$st:ident, $p:pat_param, $a:ident| $body:block) => {
        $reg.insert(
            ($ty, $name),
            $crate::api::resolve::on::<$parent, _, _>(
                concat!($ty, ".", $name),
                move |$st, $p, $a| async move {
                    #[allow(unused_variables)]
                    let _ = (&$st, &$a);
                    let result: $crate::api::error::ApiResult<$crate::api::resolve::Out> =
                        async { $body }.await;
                    result
                },
            ),
        );
    };
}
pub(crate) use field;
