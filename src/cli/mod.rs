//! The command line: argument structures and what each command does. `anyhow` lives here only.

mod dial;
mod engine;
mod local;
mod progress;
mod query;
mod run;
mod session;
mod up;

use clap::{Parser, Subcommand};
use tracing::Instrument as _;

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
    /// Show which BuildKit dirk would use, why, and what it can do.
    Engine,
    /// Relay stdin/stdout to a BuildKit daemon (for docker-container://, kube-pod:// and other pipes).
    DialStdio(dial::DialArgs),
    /// Print the version.
    Version,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
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
    let result = runtime.block_on(async move {
        // Exporters run on the runtime, so they are built inside it.
        let telemetry = init_observability();
        let name = cli.command.name();
        let result = run(cli.command)
            .instrument(tracing::info_span!("dirk", dirk.command = name))
            .await;
        if let Some(t) = telemetry {
            t.shutdown().await;
        }
        result
    });
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

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Command::Session(_) => "session",
            Command::Run(_) => "run",
            Command::Query(_) => "query",
            Command::Up(_) => "up",
            Command::Engine => "engine",
            Command::DialStdio(_) => "dial-stdio",
            Command::Version => "version",
        }
    }
}

async fn run(command: Command) -> anyhow::Result<i32> {
    match command {
        Command::Session(args) => session::run(args).await,
        Command::Run(args) => run::run(args).await,
        Command::Query(args) => query::run(args).await,
        Command::Up(args) => up::run(args).await,
        Command::Engine => engine::run().await,
        Command::DialStdio(args) => dial::run(args).await,
        Command::Version => {
            println!("dirk {}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
    }
}

/// Logs go to stderr only (`DIRK_LOG` sets the filter, default `warn`); with an OTLP or Jaeger
/// endpoint in the environment, dirk's spans are exported too.
fn init_observability() -> Option<dirk::telemetry::Telemetry> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::{Layer as _, filter::Targets};

    let filter = tracing_subscriber::EnvFilter::try_from_env("DIRK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let logs = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .with_filter(filter);
    let target = dirk::telemetry::target_from_env(|k| std::env::var(k).ok()).unwrap_or_else(|e| {
        eprintln!("dirk: warning: not exporting traces: {e}");
        None
    });
    let Some(target) = target else {
        let _ = tracing_subscriber::registry().with(logs).try_init();
        return None;
    };
    match dirk::telemetry::init(&target) {
        Ok((telemetry, spans)) => {
            // Only dirk's own spans: the exporter's transport logs must not feed back into it.
            let spans = spans.with_filter(Targets::new().with_target("dirk", tracing::Level::INFO));
            let _ = tracing_subscriber::registry()
                .with(logs)
                .with(spans)
                .try_init();
            Some(telemetry)
        }
        Err(e) => {
            eprintln!("dirk: warning: not exporting traces: {e}");
            let _ = tracing_subscriber::registry().with(logs).try_init();
            None
        }
    }
}
