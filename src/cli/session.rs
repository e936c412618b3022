//! `dirk session`: how the official SDKs start an engine.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tokio::signal::unix::{SignalKind, signal};

use dirk::session::{Session, SessionConfig};

/// Arguments the SDKs pass (`--label`, `--workdir`, `--project`).
#[derive(Debug, Args)]
pub struct SessionArgs {
    /// A `key:value` label describing the client (repeatable).
    #[arg(long = "label", value_name = "KEY:VALUE")]
    labels: Vec<String>,
    /// Directory that relative host paths resolve against.
    #[arg(long, env = "DAGGER_WORKDIR", value_name = "DIR")]
    workdir: Option<PathBuf>,
    /// Project directory (accepted for compatibility; projects are not served).
    #[arg(long, value_name = "DIR")]
    project: Option<PathBuf>,
    /// How long to wait for the daemon when closing the session.
    #[arg(long, default_value = "10s", value_parser = humantime_secs, value_name = "DURATION")]
    cleanup_timeout: Duration,
}

/// Parses `10s`, `500ms`, `2m` or a bare number of seconds.
pub fn humantime_secs(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a duration like 10s, 500ms or 2m"))?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return Err(format!("{s:?} is not a duration like 10s, 500ms or 2m")),
    };
    Ok(Duration::from_secs_f64(secs))
}

fn parse_labels(labels: &[String]) -> Vec<(String, String)> {
    labels
        .iter()
        .map(|l| match l.split_once(':') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (l.clone(), String::new()),
        })
        .collect()
}

/// Resolves the working directory: the flag, else the current directory.
pub fn workdir(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let dir = match flag {
        Some(d) => d,
        None => std::env::current_dir().context("reading the current directory")?,
    };
    let dir = if dir.is_absolute() {
        dir
    } else {
        std::env::current_dir()
            .context("reading the current directory")?
            .join(dir)
    };
    Ok(dir)
}

pub async fn run(args: SessionArgs) -> anyhow::Result<i32> {
    // Handlers go in first: a client may signal as soon as it reads the connection line.
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let _ = &args.project;
    let config = SessionConfig {
        workdir: workdir(args.workdir)?,
        labels: parse_labels(&args.labels),
        port: 0,
    };
    let session = Session::start(config, |k| std::env::var(k).ok()).await?;
    let line = serde_json::json!({ "port": session.addr.port(), "session_token": session.token });
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{line}").context("writing the connection line")?;
        out.flush().context("writing the connection line")?;
    }

    let (eof_tx, eof_rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 4096];
        while matches!(stdin.read(&mut buf), Ok(n) if n > 0) {}
        let _ = eof_tx.send(());
    });
    tokio::select! {
        _ = eof_rx => tracing::info!("stdin closed; ending the session"),
        _ = term.recv() => tracing::info!("SIGTERM; ending the session"),
        _ = int.recv() => tracing::info!("SIGINT; ending the session"),
    }
    session.shutdown(args.cleanup_timeout).await;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(humantime_secs("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(humantime_secs("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(humantime_secs("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(humantime_secs("3"), Ok(Duration::from_secs(3)));
        assert!(humantime_secs("soon").is_err());
        assert!(humantime_secs("5h").is_err());
    }

    #[test]
    fn labels_split_at_the_first_colon() {
        assert_eq!(
            parse_labels(&["dagger.io/sdk.name:python".into(), "a:b:c".into()]),
            vec![
                ("dagger.io/sdk.name".to_owned(), "python".to_owned()),
                ("a".to_owned(), "b:c".to_owned())
            ]
        );
    }
}
