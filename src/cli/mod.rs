//! The command line: argument structures and what each command does. `anyhow` lives here only.

mod local;
mod progress;
mod query;
mod run;
mod session;
mod up;

use clap::{Parser, Subcommand};

/// dirk: programmable pipelines on your BuildKit, through the Dagger v0.6.4 API.
#[derive(Debug, Parser)]
#[command(name = "dirk", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve one API session for an SDK: prints {"port":N,"session_token":"…"} and serves until stdin closes.
    Session(session::SessionArgs),
    /// Run a program (an SDK script) inside a session: it gets DAGGER_SESSION_PORT and DAGGER_SESSION_TOKEN.
    Run(run::RunArgs),
    /// Run one GraphQL query against a fresh session and print the response as JSON.
    Query(query::QueryArgs),
    /// Run a pipeline written as a GraphQL document (default dirk.graphql), operation by operation.
    Up(up::UpArgs),
    /// Print the version.
    Version,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(dirk::session::WORKER_STACK_BYTES)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dirk: error: starting the async runtime: {e}");
            return 1;
        }
    };
    let result = match cli.command {
        Command::Session(args) => runtime.block_on(session::run(args)),
        Command::Run(args) => runtime.block_on(run::run(args)),
        Command::Query(args) => runtime.block_on(query::run(args)),
        Command::Up(args) => runtime.block_on(up::run(args)),
        Command::Version => {
            println!("dirk {}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
    };
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("dirk: error: {e:#}");
            1
        }
    };
    // Do not wait for blocking readers (stdin) still parked in the runtime.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    code
}

/// Logs go to stderr only; `DIRK_LOG` sets the filter (default `warn`).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DIRK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}
