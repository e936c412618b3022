//! Pipeline names: how `Query.pipeline`, `Container.pipeline` and `Directory.pipeline` nest, and
//! how a step is named in progress and traces. Names never affect caching.

use super::error::{CoreError, CoreResult};

/// A pipeline path: `outer / inner`.
pub fn join_pipeline(outer: &str, inner: &str) -> String {
    if outer.is_empty() {
        inner.to_owned()
    } else {
        format!("{outer} / {inner}")
    }
}

/// Pipeline `name` inside `outer`; a name is required.
pub fn sub_pipeline(outer: &str, name: &str) -> CoreResult<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(CoreError::invalid(
            "pipeline name",
            name,
            "a pipeline needs a name",
        ));
    }
    Ok(join_pipeline(outer, name))
}

/// How a step is named in progress and traces: `[pipeline] what`, or `what` outside pipelines.
pub fn step_name(pipeline: &str, what: &str) -> String {
    if pipeline.is_empty() {
        what.to_owned()
    } else {
        format!("[{pipeline}] {what}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipelines_nest_and_name_steps() {
        assert_eq!(join_pipeline("", "ci"), "ci");
        assert_eq!(join_pipeline("ci", "unit"), "ci / unit");
        assert_eq!(
            sub_pipeline("ci", " unit ").ok().as_deref(),
            Some("ci / unit")
        );
        assert!(sub_pipeline("ci", " ").is_err());
        assert_eq!(step_name("", "exec x"), "exec x");
        assert_eq!(step_name("ci / unit", "exec x"), "[ci / unit] exec x");
    }
}
