//! Evaluation: solving a graph through the engine, turning a failed exec back into the command's
//! own output and exit code, and running the exec shim's built-in tools. Every noun evaluates
//! through here.

use super::engine::{EngineError, SolvedRef};
use super::error::{CoreError, CoreResult, ExecError};
use super::layers;
use super::runtime::Runtime;
use crate::llb::{Exec, Mount, Platform, State};
use crate::shim;

/// Solves `state`; when a command in it fails, returns that command's [`ExecError`].
/// The services the graph names run (and are given to it) for as long as the solve takes.
pub async fn evaluate(rt: &Runtime, state: &State, action: &str) -> CoreResult<Option<SolvedRef>> {
    let (state, _services) = rt.with_services(state).await?;
    let Some(def) = state.marshal() else {
        return Ok(None);
    };
    match rt.engine().solve(&def).await {
        Ok(r) => Ok(Some(r)),
        Err(err) => Err(explain_failure(rt, &state, err, action).await),
    }
}

/// One run of a tool built into the exec shim (`--dirk-diff`, `--dirk-apply`, `--dirk-select`) on
/// an empty root: each input is mounted read-only at its path, `output` writably at its path, and
/// the tool gets the input paths, the output path, then `options` as arguments. Returns what the
/// tool left in `output`.
pub(crate) fn shim_tool(
    rt: &Runtime,
    platform: &Platform,
    tool: &str,
    inputs: Vec<(&str, State, String)>,
    output: (&str, State),
    options: &[String],
    description: String,
) -> CoreResult<State> {
    rt.check_exec_platform(platform)?;
    let mut args = vec![shim::SHIM_PATH.to_owned(), tool.to_owned()];
    let mut mounts = vec![Mount::bind(shim::SHIM_DIR, rt.shim_state(), "").readonly()];
    for (path, state, selector) in inputs {
        args.push(path.to_owned());
        mounts.push(Mount::bind(path, layers::bounded(state, platform), selector).readonly());
    }
    let (out_path, out_state) = output;
    args.push(out_path.to_owned());
    args.extend(options.iter().cloned());
    mounts.push(Mount::bind(
        out_path,
        layers::bounded(out_state, platform),
        "",
    ));
    Exec {
        args,
        cwd: "/".into(),
        rootfs: Some(State::scratch()),
        mounts,
        platform: Some(platform.clone()),
        description: Some(description),
        ..Default::default()
    }
    .build()
    .mount(out_path)
    .ok_or_else(|| CoreError::Unsupported(format!("the {tool} step has no output mount")))
}

/// Finds the exec a failed solve points at: by the vertex digest the daemon reported, or else by the
/// command line quoted in its message (older daemons give no digest).
fn failed_exec(state: &State, err: &EngineError) -> Option<Exec> {
    let EngineError::Solve { message, vertex } = err else {
        return None;
    };
    if let Some(v) = vertex
        && let Some(e) = state.find_exec(v)
    {
        return Some(e);
    }
    if !message.contains("exit code") {
        return None;
    }
    state
        .execs()
        .into_iter()
        .find(|spec| message.contains(&spec.args.join(" ")))
}

/// Re-runs the failed exec in a mode where the shim always succeeds, to read back what the command
/// printed and its exit code. The command is not cached as a success: the variant differs in its environment.
async fn explain_failure(rt: &Runtime, state: &State, err: EngineError, action: &str) -> CoreError {
    let message = err.to_string();
    if message.contains("security.insecure is not allowed") {
        return CoreError::Unsupported(
            "withExec(insecureRootCapabilities: true) needs the daemon's security.insecure entitlement, which this daemon does not grant to dirk's builds (buildkitd grants it with --allow-insecure-entitlement security.insecure; Docker's embedded BuildKit does not); run the command without it".into(),
        );
    }
    if message.contains(&shim::shim_http_path()) {
        return CoreError::Unsupported(format!(
            "{action}: the daemon could not download dirk's exec shim from this session: {err}; set DIRK_SHIM_SOURCE=session to have the session send it instead"
        ));
    }
    let Some(mut spec) = failed_exec(state, &err) else {
        return CoreError::engine(action, err);
    };
    let cmd: Vec<String> = spec.args.iter().skip(1).cloned().collect();
    spec.env.push(format!("{}=1", shim::ENV_NO_FAIL));
    spec.description = Some(format!("collect output of failed: {}", cmd.join(" ")));
    let Some(meta) = spec.build().mount(shim::META_DIR) else {
        return CoreError::engine(action, err);
    };
    let Some(def) = meta.marshal() else {
        return CoreError::engine(action, err);
    };
    let Ok(result) = rt.engine().solve(&def).await else {
        return CoreError::engine(action, err);
    };
    let read = |name: &'static str| {
        let result = result.clone();
        async move {
            rt.engine()
                .read_file(&result, name, 0, None)
                .await
                .map(|b| String::from_utf8_lossy(&b).into_owned())
        }
    };
    let (Ok(stdout), Ok(stderr), Ok(code)) = (
        read(shim::META_STDOUT).await,
        read(shim::META_STDERR).await,
        read(shim::META_EXIT_CODE).await,
    ) else {
        return CoreError::engine(action, err);
    };
    let exit_code = code.trim().parse().unwrap_or(-1);
    CoreError::Exec(ExecError {
        cmd,
        exit_code,
        stdout,
        stderr,
    })
}
