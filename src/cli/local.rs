//! What `run`, `up` and `query` share: they start a session of their own, show its progress, and
//! close it when done.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use super::progress::{self, Display, ProgressMode};
use super::session::{humantime_secs, workdir};
use dirk::session::{Session, SessionConfig};

/// Options of commands that run their own session.
#[derive(Debug, Args)]
pub struct LocalSession {
    /// Directory that relative host paths resolve against (default: the current directory).
    #[arg(long, value_name = "DIR")]
    workdir: Option<PathBuf>,
    /// How long to wait for the daemon when closing the session.
    #[arg(long, default_value = "10s", value_parser = humantime_secs, value_name = "DURATION")]
    cleanup_timeout: Duration,
    /// Live progress on standard error: auto (tty on a terminal, plain otherwise), tty, plain or none.
    #[arg(long, value_enum, default_value = "auto", value_name = "MODE")]
    progress: ProgressMode,
}

/// A session started for one command, with its progress display.
pub struct Running {
    /// The session.
    pub session: Session,
    display: Display,
    cleanup_timeout: Duration,
}

impl LocalSession {
    /// The working directory the session will use.
    pub fn workdir(&self) -> anyhow::Result<PathBuf> {
        workdir(self.workdir.clone())
    }

    /// Starts the session and its progress display.
    pub async fn start(&self) -> anyhow::Result<Running> {
        let config = SessionConfig {
            workdir: self.workdir()?,
            labels: Vec::new(),
            port: 0,
        };
        let session = Session::start(config, |k| std::env::var(k).ok())
            .await
            .context("starting a session")?;
        let display = progress::start(self.progress, || session.watch_status());
        Ok(Running {
            session,
            display,
            cleanup_timeout: self.cleanup_timeout,
        })
    }
}

impl Running {
    /// Closes the session (within the cleanup timeout) and lets the display print what is left.
    pub async fn stop(self) {
        self.session.shutdown(self.cleanup_timeout).await;
        self.display.finish().await;
    }
}
