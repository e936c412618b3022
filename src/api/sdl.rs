//! Builds the served schema from the SDL in `schema/schema.graphqls`, attaching a resolver to every
//! field that has one and a clear "not implemented" error to every field that does not.

use std::collections::HashMap;

use async_graphql::dynamic::{
    Enum, Field, FieldFuture, InputObject, InputValue, Object, Scalar, Schema, SchemaBuilder,
    TypeRef,
};
use async_graphql::parser::types::{
    BaseType, ConstDirective, Type, TypeKind, TypeSystemDefinition,
};

use super::resolve::Resolver;

/// The SDL this build serves: the Dagger v0.6.4 API.
pub const SCHEMA_SDL: &str = include_str!("../../schema/schema.graphqls");

/// A problem with the SDL itself (a build defect, caught by tests).
#[derive(Debug, thiserror::Error)]
#[error("schema/schema.graphqls: {0}")]
pub struct SdlError(pub(crate) String);

fn type_ref(ty: &Type) -> TypeRef {
    let inner = match &ty.base {
        BaseType::Named(name) => TypeRef::Named(name.to_string().into()),
        BaseType::List(inner) => TypeRef::List(Box::new(type_ref(inner))),
    };
    if ty.nullable {
        inner
    } else {
        TypeRef::NonNull(Box::new(inner))
    }
}

fn deprecation_reason(
    directives: &[async_graphql::Positioned<ConstDirective>],
) -> Option<Option<String>> {
    directives
        .iter()
        .find(|d| d.node.name.node == "deprecated")
        .map(|d| {
            d.node.get_argument("reason").and_then(|v| match &v.node {
                async_graphql::Value::String(s) => Some(s.clone()),
                _ => None,
            })
        })
}

/// Why a declared field has no resolver: the families dirk does not serve, and what to do instead.
fn unavailable_reason(type_name: &str, field: &str) -> String {
    if type_name.starts_with("Project") || field.starts_with("project") {
        format!(
            "{type_name}.{field} is not available in dirk: projects (experimental in Dagger v0.6) run SDK code inside the engine, which dirk does not do; call your pipeline code from the SDK directly"
        )
    } else {
        format!("not implemented yet: {type_name}.{field}")
    }
}

fn not_implemented(type_name: &str, field: &str) -> Resolver {
    let message = unavailable_reason(type_name, field);
    std::sync::Arc::new(move |_| {
        let message = message.clone();
        FieldFuture::new(async move {
            Err::<Option<async_graphql::Value>, _>(async_graphql::Error::new(message))
        })
    })
}

/// Parses the SDL and registers every type, with `resolvers[(type, field)]` attached where present.
pub fn schema_builder(
    resolvers: &HashMap<(&'static str, &'static str), Resolver>,
) -> Result<SchemaBuilder, SdlError> {
    let doc =
        async_graphql::parser::parse_schema(SCHEMA_SDL).map_err(|e| SdlError(e.to_string()))?;
    let mut builder = Schema::build("Query", None, None);
    for def in doc.definitions {
        let TypeSystemDefinition::Type(def) = def else {
            continue;
        };
        let def = def.node;
        let name = def.name.node.to_string();
        builder = match def.kind {
            TypeKind::Scalar => builder.register(Scalar::new(name)),
            TypeKind::Enum(e) => builder.register(
                Enum::new(name).items(e.values.iter().map(|v| v.node.value.node.to_string())),
            ),
            TypeKind::InputObject(io) => {
                let mut input = InputObject::new(name);
                for f in io.fields {
                    let f = f.node;
                    let mut iv = InputValue::new(f.name.node.to_string(), type_ref(&f.ty.node));
                    if let Some(d) = f.default_value {
                        iv = iv.default_value(d.node);
                    }
                    input = input.field(iv);
                }
                builder.register(input)
            }
            TypeKind::Object(obj) => {
                let mut object = Object::new(name.clone());
                for f in obj.fields {
                    let f = f.node;
                    let field_name = f.name.node.to_string();
                    let resolver = resolvers
                        .iter()
                        .find(|((t, n), _)| *t == name && *n == field_name)
                        .map(|(_, r)| r.clone())
                        .unwrap_or_else(|| not_implemented(&name, &field_name));
                    let mut field =
                        Field::new(field_name, type_ref(&f.ty.node), move |ctx| resolver(ctx));
                    for arg in f.arguments {
                        let arg = arg.node;
                        let mut iv =
                            InputValue::new(arg.name.node.to_string(), type_ref(&arg.ty.node));
                        if let Some(d) = arg.default_value {
                            iv = iv.default_value(d.node);
                        }
                        field = field.argument(iv);
                    }
                    if let Some(reason) = deprecation_reason(&f.directives) {
                        field = field.deprecation(reason.as_deref());
                    }
                    object = object.field(field);
                }
                builder.register(object)
            }
            other => return Err(SdlError(format!("type {name}: unsupported kind {other:?}"))),
        };
    }
    Ok(builder)
}

/// Every `(type, field)` pair the SDL declares on object types.
pub fn declared_fields() -> Result<Vec<(String, String)>, SdlError> {
    let doc =
        async_graphql::parser::parse_schema(SCHEMA_SDL).map_err(|e| SdlError(e.to_string()))?;
    let mut out = Vec::new();
    for def in doc.definitions {
        if let TypeSystemDefinition::Type(def) = def
            && let TypeKind::Object(obj) = &def.node.kind
        {
            for f in &obj.fields {
                out.push((def.node.name.node.to_string(), f.node.name.node.to_string()));
            }
        }
    }
    Ok(out)
}
