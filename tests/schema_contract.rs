//! The served schema is the v0.6.4 contract: the SDL the server introspects as equals `schema/`, and
//! `schema/` equals the reference, type by type, field by field, argument by argument (descriptions
//! aside). Needs no daemon.

use std::sync::Arc;

use async_graphql::parser::types::{
    BaseType, ServiceDocument, Type, TypeKind, TypeSystemDefinition,
};
use async_trait::async_trait;
use dirk::api::{self, ApiState};
use dirk::core::{
    Engine, EngineError, FileStat, FrontendRequest, FrontendResult, ResolvedImage, Runtime,
    SolvedRef,
};
use dirk::llb::{Definition, Platform};

/// An engine that answers nothing: enough to build the schema.
struct NoEngine;

#[async_trait]
impl Engine for NoEngine {
    async fn solve(&self, _: &Definition) -> Result<SolvedRef, EngineError> {
        Err(EngineError::Unavailable {
            message: "no engine in this test".into(),
        })
    }
    async fn read_file(
        &self,
        _: &SolvedRef,
        _: &str,
        _: u64,
        _: Option<u64>,
    ) -> Result<Vec<u8>, EngineError> {
        Err(EngineError::Unavailable {
            message: "no engine in this test".into(),
        })
    }
    async fn read_dir(&self, _: &SolvedRef, _: &str) -> Result<Vec<FileStat>, EngineError> {
        Err(EngineError::Unavailable {
            message: "no engine in this test".into(),
        })
    }
    async fn stat(&self, _: &SolvedRef, _: &str) -> Result<FileStat, EngineError> {
        Err(EngineError::Unavailable {
            message: "no engine in this test".into(),
        })
    }
    async fn resolve_image(&self, _: &str, _: &Platform) -> Result<ResolvedImage, EngineError> {
        Err(EngineError::Unavailable {
            message: "no engine in this test".into(),
        })
    }
    async fn frontend_solve(&self, _: FrontendRequest) -> Result<FrontendResult, EngineError> {
        Err(EngineError::Unavailable {
            message: "no engine in this test".into(),
        })
    }
    fn platforms(&self) -> Vec<Platform> {
        vec![Platform::linux("amd64")]
    }
    async fn export(&self, _: &Definition, _: &str) -> Result<(), EngineError> {
        Err(EngineError::Unavailable {
            message: "no engine in this test".into(),
        })
    }
    fn supports(&self, _: &str) -> bool {
        false
    }
}

fn schema() -> async_graphql::dynamic::Schema {
    let state = Arc::new(ApiState {
        rt: Runtime::new(Arc::new(NoEngine), Default::default()),
        ids: Default::default(),
    });
    match api::build_schema(state) {
        Ok(s) => s,
        Err(e) => panic!("the served schema does not build: {e}"),
    }
}

fn ty(t: &Type) -> String {
    let base = match &t.base {
        BaseType::Named(n) => n.to_string(),
        BaseType::List(inner) => format!("[{}]", ty(inner)),
    };
    if t.nullable { base } else { format!("{base}!") }
}

const BUILTIN: [&str; 5] = ["String", "Int", "Float", "Boolean", "ID"];

/// One line per type member, descriptions dropped, in declaration order within each type, types sorted.
fn canonical(sdl: &str) -> Vec<String> {
    let doc: ServiceDocument = match async_graphql::parser::parse_schema(sdl) {
        Ok(d) => d,
        Err(e) => panic!("SDL does not parse: {e}"),
    };
    let mut types: Vec<(String, Vec<String>)> = Vec::new();
    for def in doc.definitions {
        let TypeSystemDefinition::Type(def) = def else {
            continue;
        };
        let name = def.node.name.node.to_string();
        if BUILTIN.contains(&name.as_str()) || name.starts_with("__") {
            continue;
        }
        let mut lines = Vec::new();
        match &def.node.kind {
            TypeKind::Scalar => lines.push(format!("scalar {name}")),
            TypeKind::Enum(e) => lines.push(format!(
                "enum {name} {{{}}}",
                e.values
                    .iter()
                    .map(|v| v.node.value.node.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            )),
            TypeKind::InputObject(io) => {
                for f in &io.fields {
                    let default = f
                        .node
                        .default_value
                        .as_ref()
                        .map(|d| format!(" = {}", d.node))
                        .unwrap_or_default();
                    lines.push(format!(
                        "input {name}.{}: {}{default}",
                        f.node.name.node,
                        ty(&f.node.ty.node)
                    ));
                }
            }
            TypeKind::Object(obj) => {
                for f in &obj.fields {
                    let args: Vec<String> = f
                        .node
                        .arguments
                        .iter()
                        .map(|a| {
                            let default = a
                                .node
                                .default_value
                                .as_ref()
                                .map(|d| format!(" = {}", d.node))
                                .unwrap_or_default();
                            format!("{}: {}{default}", a.node.name.node, ty(&a.node.ty.node))
                        })
                        .collect();
                    let deprecated = f
                        .node
                        .directives
                        .iter()
                        .find(|d| d.node.name.node == "deprecated")
                        .map(|d| {
                            format!(
                                " @deprecated({})",
                                d.node
                                    .get_argument("reason")
                                    .map(|r| r.node.to_string())
                                    .unwrap_or_default()
                            )
                        })
                        .unwrap_or_default();
                    lines.push(format!(
                        "type {name}.{}({}): {}{deprecated}",
                        f.node.name.node,
                        args.join(", "),
                        ty(&f.node.ty.node)
                    ));
                }
            }
            other => lines.push(format!("{name}: {other:?}")),
        }
        types.push((name, lines));
    }
    types.sort_by(|a, b| a.0.cmp(&b.0));
    types.into_iter().flat_map(|(_, l)| l).collect()
}

fn assert_same(left_name: &str, left: &[String], right_name: &str, right: &[String]) {
    let missing: Vec<&String> = right.iter().filter(|l| !left.contains(l)).collect();
    let extra: Vec<&String> = left.iter().filter(|l| !right.contains(l)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{left_name} differs from {right_name}\nmissing: {missing:#?}\nextra: {extra:#?}"
    );
    assert_eq!(
        left, right,
        "{left_name} lists the same members as {right_name} but in another order"
    );
}

#[test]
fn schema_file_matches_the_reference() {
    // The API contract, kept verbatim beside the served schema.
    let reference = include_str!("../schema/reference/dagger-0.6.4-api.graphql");
    assert_same(
        "schema/schema.graphqls",
        &canonical(api::sdl::SCHEMA_SDL),
        "the v0.6.4 reference",
        &canonical(reference),
    );
}

#[test]
fn served_schema_matches_the_schema_file() {
    let served = schema().sdl();
    assert_same(
        "the served SDL",
        &canonical(&served),
        "schema/schema.graphqls",
        &canonical(api::sdl::SCHEMA_SDL),
    );
}

#[test]
fn every_resolver_names_a_declared_field() {
    let declared = match api::sdl::declared_fields() {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    for (ty, field) in api::resolvers().keys() {
        assert!(
            declared.iter().any(|(t, f)| t == ty && f == field),
            "resolver for undeclared field {ty}.{field}"
        );
    }
}

#[test]
fn readme_field_table_matches_the_code() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .unwrap_or_default();
    let implemented = api::resolvers();
    let declared = match api::sdl::declared_fields() {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    };
    let mut wrong = Vec::new();
    for (ty, field) in &declared {
        let works = implemented.keys().any(|(t, f)| t == ty && f == field);
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{ty}.{field}` |")));
        match row {
            None => wrong.push(format!("{ty}.{field}: no row")),
            Some(r) if works != r.contains("| works |") => wrong.push(format!(
                "{ty}.{field}: README says {r:?} but implemented={works}"
            )),
            _ => {}
        }
    }
    assert!(
        wrong.is_empty(),
        "README field table is out of date:\n{}",
        wrong.join("\n")
    );
}

#[tokio::test]
async fn unavailable_fields_answer_a_clear_error() {
    let message = |q: &'static str| async move {
        let response = schema().execute(q).await;
        response
            .errors
            .first()
            .map(|e| e.message.clone())
            .unwrap_or_default()
    };
    let m = message(r#"{ project { id } }"#).await;
    assert!(
        m.starts_with("Query.project is not available in dirk: projects"),
        "{m}"
    );
}

#[tokio::test]
async fn exposed_ports_are_served_with_their_enum_protocol() {
    let response = schema()
        .execute(r#"{ container { withExposedPort(port: 8080, description: "web") { withExposedPort(port: 53, protocol: UDP) { exposedPorts { port protocol description } } } } }"#)
        .await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let data = response.data.into_json().unwrap_or_default();
    assert_eq!(
        data["container"]["withExposedPort"]["withExposedPort"]["exposedPorts"],
        serde_json::json!([
            {"port": 8080, "protocol": "TCP", "description": "web"},
            {"port": 53, "protocol": "UDP", "description": null}
        ])
    );
    let bad = schema()
        .execute(r#"{ container { withExposedPort(port: 70000) { id } } }"#)
        .await;
    let message = bad
        .errors
        .first()
        .map(|e| e.message.clone())
        .unwrap_or_default();
    assert!(
        message.contains("70000") && message.contains("1 to 65535"),
        "{message}"
    );
}

#[tokio::test]
async fn introspection_serves_argument_defaults_and_deprecations() {
    let q = r#"{ __type(name: "Container") { fields(includeDeprecated: true) { name isDeprecated deprecationReason args { name defaultValue type { kind name ofType { name } } } } } }"#;
    let response = schema().execute(q).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let data = response.data.into_json().unwrap_or_default();
    let fields = data["__type"]["fields"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let publish = fields
        .iter()
        .find(|f| f["name"] == "publish")
        .cloned()
        .unwrap_or_default();
    let media = publish["args"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["name"] == "mediaTypes").cloned())
        .unwrap_or_default();
    assert_eq!(media["defaultValue"], "OCIMediaTypes");
    let exec = fields
        .iter()
        .find(|f| f["name"] == "exec")
        .cloned()
        .unwrap_or_default();
    assert_eq!(exec["isDeprecated"], true);
    assert_eq!(exec["deprecationReason"], "Replaced by `withExec`.");
}
