//! `dirk run -- CMD...`: runs a program inside a session. The program (an SDK script, usually)
//! finds the session through `DAGGER_SESSION_PORT` and `DAGGER_SESSION_TOKEN`, so the SDK connects
//! without starting an engine of its own.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::os::unix::process::ExitStatusExt;

use anyhow::Context;
use clap::Args;
use rustix::process::{Pid, Signal, kill_process_group};
use tokio::signal::unix::{SignalKind, signal};

use super::local::LocalSession;

/// Arguments of `dirk run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    local: LocalSession,
    /// The program to run and its arguments.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    command: Vec<OsString>,
}

/// The exit code a shell would report for `status`.
fn exit_code(status: std::process::ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0))
}

pub async fn run(args: RunArgs) -> anyhow::Result<i32> {
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let running = args.local.start().await?;
    let session = &running.session;

    let (program, rest) = args.command.split_first().context("no command given")?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(rest)
        .env("DAGGER_SESSION_PORT", session.addr.port().to_string())
        .env("DAGGER_SESSION_TOKEN", &session.token);
    // The child joins dirk's trace (when traces are exported).
    if let Some(traceparent) = dirk::telemetry::traceparent() {
        cmd.env("TRACEPARENT", traceparent);
    }
    // On a terminal the child stays in the foreground group, so that it can read the terminal and
    // gets Ctrl-C from it directly. Otherwise it leads its own group, which dirk signals and, at
    // the end, clears of anything the child left running.
    let own_group = !std::io::stdin().is_terminal();
    if own_group {
        cmd.process_group(0);
    }
    let mut child = match cmd.spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!("dirk: cannot run {}: {e}", program.to_string_lossy());
            running.stop().await;
            return Ok(if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            });
        }
    };
    let group = child
        .id()
        .and_then(|id| Pid::from_raw(id as i32))
        .filter(|_| own_group);
    let forward = |sig: Signal| {
        if let Some(pid) = group {
            let _ = kill_process_group(pid, sig);
        }
    };
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            _ = int.recv() => forward(Signal::INT),
            _ = term.recv() => forward(Signal::TERM),
        }
    };
    if let Some(pid) = group {
        let _ = kill_process_group(pid, Signal::KILL);
    }
    running.stop().await;
    let status = status.with_context(|| format!("waiting for {}", program.to_string_lossy()))?;
    if let Some(sig) = status.signal() {
        eprintln!(
            "dirk: {} was killed by signal {sig}; the session is closed",
            program.to_string_lossy()
        );
    }
    Ok(exit_code(status))
}
