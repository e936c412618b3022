//! `dirk up [PLAN]`: runs a pipeline written as a GraphQL document, no SDK needed. Operations run
//! in the order they are written, in one session; each operation's variables come from `--set`,
//! then the environment (a variable of the same name), then the plan's defaults. A variable named
//! after an earlier operation takes that operation's result (its single value, typically an ID),
//! which is how one step hands an object to the next. A failing operation stops the run.

use std::path::PathBuf;

use async_graphql::parser::types::{DocumentOperations, OperationDefinition};
use async_graphql::{Pos, Positioned};
use clap::Args;

use super::local::LocalSession;
use super::query::parse_vars;
use dirk::api::document;

/// The plan read when none is named.
pub const DEFAULT_PLAN: &str = "dirk.graphql";

/// Arguments of `dirk up`.
#[derive(Debug, Args)]
pub struct UpArgs {
    /// The plan: a GraphQL document (default: dirk.graphql in the working directory).
    #[arg(value_name = "PLAN")]
    plan: Option<PathBuf>,
    /// Sets a plan variable, as NAME=VALUE (a JSON value, or else a string). Repeatable.
    #[arg(long = "set", value_name = "NAME=VALUE")]
    set: Vec<String>,
    /// Print results as JSON lines, one per operation.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    local: LocalSession,
}

/// One operation of a plan, ready to run.
#[derive(Debug, PartialEq)]
pub struct Step {
    /// Its name (`None` for a lone anonymous operation).
    pub name: Option<String>,
    /// Where it starts in the plan.
    pub pos: Pos,
    /// Its variables' values.
    pub variables: serde_json::Map<String, serde_json::Value>,
    /// Variables filled, when the step runs, from the results of earlier operations of that name.
    pub from_results: Vec<String>,
}

/// Reads the plan's operations in written order and settles their variables.
pub fn plan_steps(
    source: &str,
    set: &serde_json::Map<String, serde_json::Value>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Vec<Step>, String> {
    let doc = document::parse(source).map_err(|e| e.to_string())?;
    let mut ops: Vec<(Option<String>, &Positioned<OperationDefinition>)> = match &doc.operations {
        DocumentOperations::Single(op) => vec![(None, op)],
        DocumentOperations::Multiple(ops) => ops
            .iter()
            .map(|(name, op)| (Some(name.to_string()), op))
            .collect(),
    };
    ops.sort_by_key(|(_, op)| (op.pos.line, op.pos.column));
    let mut steps: Vec<Step> = Vec::new();
    for (name, op) in ops {
        let mut variables = serde_json::Map::new();
        let mut from_results = Vec::new();
        for def in &op.node.variable_definitions {
            let var = def.node.name.node.as_str();
            let earlier = steps.iter().any(|s| s.name.as_deref() == Some(var));
            let value = if let Some(v) = set.get(var) {
                Some(v.clone())
            } else if let Some(v) = env(var) {
                Some(serde_json::from_str(&v).unwrap_or(serde_json::Value::String(v)))
            } else {
                def.node
                    .default_value
                    .as_ref()
                    .and_then(|d| d.node.clone().into_json().ok())
            };
            match value {
                Some(v) => {
                    variables.insert(var.to_owned(), v);
                }
                None if earlier => from_results.push(var.to_owned()),
                None if !def.node.var_type.node.nullable => {
                    return Err(format!(
                        "line {}: operation {} needs variable ${var} ({}): pass --set {var}=VALUE or set {var} in the environment",
                        def.pos.line,
                        name.as_deref().unwrap_or("(anonymous)"),
                        def.node.var_type.node
                    ));
                }
                None => {}
            }
        }
        steps.push(Step {
            name,
            pos: op.pos,
            variables,
            from_results,
        });
    }
    Ok(steps)
}

/// The leaves of a result: `(path, value)` in document order.
fn leaves(value: &serde_json::Value, path: String, out: &mut Vec<(String, serde_json::Value)>) {
    match value {
        serde_json::Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                leaves(v, p, out);
            }
        }
        other => out.push((path, other.clone())),
    }
}

/// A result as readable text: string leaves raw, everything else as JSON; each leaf under its
/// path when there are several.
pub fn render(data: &serde_json::Value) -> String {
    let mut found = Vec::new();
    leaves(data, String::new(), &mut found);
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out = String::new();
    if let [(_, only)] = found.as_slice() {
        out.push_str(&text(only));
    } else {
        for (path, v) in &found {
            let t = text(v);
            if t.contains('\n') {
                out.push_str(&format!("{path}:\n{t}"));
            } else {
                out.push_str(&format!("{path}: {t}"));
            }
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

/// The one leaf value of a response, if it has exactly one.
fn single_value(response: &serde_json::Value) -> Option<serde_json::Value> {
    let mut found = Vec::new();
    leaves(response.get("data")?, String::new(), &mut found);
    match found.as_slice() {
        [(_, v)] => Some(v.clone()),
        _ => None,
    }
}

fn error_text(errors: &serde_json::Value) -> String {
    errors
        .as_array()
        .map(|list| {
            list.iter()
                .map(|e| e["message"].as_str().unwrap_or("unknown error").to_owned())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

pub async fn run(args: UpArgs) -> anyhow::Result<i32> {
    let plan = match args.plan {
        Some(plan) => plan,
        None => args.local.workdir()?.join(DEFAULT_PLAN),
    };
    let source = match std::fs::read_to_string(&plan) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("dirk up: cannot read plan {}: {e}", plan.display());
            return Ok(1);
        }
    };
    let set = parse_vars(&args.set)?;
    let steps = match plan_steps(&source, &set, |k| std::env::var(k).ok()) {
        Ok(steps) => steps,
        Err(e) => {
            eprintln!("dirk up: {}: {e}", plan.display());
            return Ok(1);
        }
    };
    let running = args.local.start().await?;
    let session = &running.session;
    let mut code = 0;
    let mut results: std::collections::HashMap<String, serde_json::Value> = Default::default();
    for step in &steps {
        let label = step.name.as_deref().unwrap_or("(anonymous)");
        if !args.json {
            eprintln!("▶ {label}");
        }
        let mut variables = step.variables.clone();
        for var in &step.from_results {
            if let Some(v) = results.get(var) {
                variables.insert(var.clone(), v.clone());
            }
        }
        let response = session
            .execute(
                &source,
                serde_json::Value::Object(variables),
                step.name.as_deref(),
            )
            .await;
        if let (Some(name), Some(value)) = (&step.name, single_value(&response)) {
            results.insert(name.clone(), value);
        }
        let errors = response
            .get("errors")
            .filter(|e| e.as_array().is_some_and(|a| !a.is_empty()));
        if args.json {
            let line = serde_json::json!({
                "operation": step.name,
                "data": response.get("data").cloned().unwrap_or_default(),
                "errors": errors.cloned(),
            });
            println!("{line}");
        } else if errors.is_none() {
            print!(
                "{}",
                render(response.get("data").unwrap_or(&serde_json::Value::Null))
            );
        }
        if let Some(errors) = errors {
            eprintln!(
                "dirk up: operation {label} (line {}) failed:\n{}",
                step.pos.line,
                error_text(errors)
            );
            code = 1;
            break;
        }
    }
    running.stop().await;
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAN: &str = r#"
        query build($image: String! = "alpine", $name: String!) { a(x: $image, y: $name) }
        query test($verbose: Boolean) { b }
        query publish($tag: String!, $build: String!) { c(t: $tag, b: $build) }
    "#;

    #[test]
    fn operations_run_in_written_order_with_variables_settled() {
        let set = parse_vars(&["name=dirk".into()]).unwrap_or_default();
        let steps = plan_steps(PLAN, &set, |k| (k == "tag").then(|| "v1".to_owned()))
            .unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<_> = steps
            .iter()
            .map(|s| s.name.clone().unwrap_or_default())
            .collect();
        assert_eq!(names, vec!["build", "test", "publish"]);
        assert_eq!(
            serde_json::Value::Object(steps[0].variables.clone()),
            serde_json::json!({"image": "alpine", "name": "dirk"})
        );
        assert!(steps[1].variables.is_empty());
        assert_eq!(steps[2].variables["tag"], "v1");
        // `$build` names an earlier operation: its result fills the variable at run time.
        assert_eq!(steps[2].from_results, vec!["build".to_owned()]);
    }

    #[test]
    fn a_missing_variable_or_bad_syntax_is_reported_before_anything_runs() {
        let e = plan_steps(PLAN, &Default::default(), |_| None)
            .err()
            .unwrap_or_default();
        assert!(
            e.contains("needs variable $name (String!)") && e.contains("--set name="),
            "{e}"
        );
        let e = plan_steps("query { a(", &Default::default(), |_| None)
            .err()
            .unwrap_or_default();
        assert!(e.starts_with("syntax error at line 1"), "{e}");
    }

    #[test]
    fn results_read_as_text() {
        let one = serde_json::json!({"container": {"from": {"withExec": {"stdout": "hi\n"}}}});
        assert_eq!(render(&one), "hi\n");
        let many = serde_json::json!({"a": {"stdout": "x\ny"}, "b": {"size": 3, "ok": true}});
        assert_eq!(render(&many), "a.stdout:\nx\ny\nb.size: 3\nb.ok: true\n");
    }
}
