//! `dirk query [QUERY|-]`: one GraphQL query against a fresh session; the response as JSON.

use std::io::Read;

use anyhow::Context;
use clap::Args;

use super::local::LocalSession;

/// Arguments of `dirk query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The query; `-` or nothing reads it from standard input.
    #[arg(value_name = "QUERY")]
    query: Option<String>,
    /// A variable, as NAME=VALUE (a JSON value, or else a string). Repeatable.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,
    /// The operation to run when the document has several.
    #[arg(long, value_name = "NAME")]
    operation: Option<String>,
    #[command(flatten)]
    local: LocalSession,
}

/// Parses `NAME=VALUE` pairs into a variables object: values that parse as JSON are taken as JSON,
/// anything else as a string.
pub fn parse_vars(vars: &[String]) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let mut map = serde_json::Map::new();
    for var in vars {
        let (name, value) = var
            .split_once('=')
            .with_context(|| format!("variable {var:?} is not NAME=VALUE"))?;
        if name.is_empty() {
            anyhow::bail!("variable {var:?} has no name");
        }
        let value = serde_json::from_str(value)
            .unwrap_or_else(|_| serde_json::Value::String(value.to_owned()));
        map.insert(name.to_owned(), value);
    }
    Ok(map)
}

pub async fn run(args: QueryArgs) -> anyhow::Result<i32> {
    let query = match args.query.as_deref() {
        None | Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading the query from standard input")?;
            text
        }
        Some(q) => q.to_owned(),
    };
    let vars = parse_vars(&args.vars)?;
    let running = args.local.start().await?;
    let response = running
        .session
        .execute(
            &query,
            serde_json::Value::Object(vars),
            args.operation.as_deref(),
        )
        .await;
    running.stop().await;
    println!(
        "{}",
        serde_json::to_string_pretty(&response).context("encoding the response")?
    );
    let failed = response
        .get("errors")
        .and_then(|e| e.as_array())
        .is_some_and(|e| !e.is_empty());
    Ok(i32::from(failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_are_json_or_strings() {
        let vars = parse_vars(&[
            "a=1".into(),
            "b=hello".into(),
            "c=[\"x\"]".into(),
            "d=".into(),
        ])
        .unwrap_or_default();
        assert_eq!(
            serde_json::Value::Object(vars),
            serde_json::json!({"a": 1, "b": "hello", "c": ["x"], "d": ""})
        );
        assert!(parse_vars(&["nope".into()]).is_err());
        assert!(parse_vars(&["=1".into()]).is_err());
    }
}
