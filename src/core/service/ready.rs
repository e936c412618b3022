//! The readiness channel: a socket of the session's, forwarded into a service's exec (as commands
//! reach host sockets through `withUnixSocket`), through which the exec shim reports the service's
//! address, then that it is ready or that its command ended first.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::core::socket::{Socket, SocketRegistry};

/// What the shim reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Report {
    /// The address the service is reachable at.
    Addr(String),
    /// Every exposed TCP port accepts connections.
    Ready,
    /// The command ended before that, with `code`; `output` is the end of what it printed.
    Exited { code: i32, output: String },
    /// The shim hung up without saying more.
    Closed,
}

/// One start's channel: a listening socket, registered with the session's forwarded sockets.
pub(super) struct ReadyChannel {
    listener: UnixListener,
    path: PathBuf,
    pub(super) socket: Socket,
    sockets: std::sync::Arc<SocketRegistry>,
}

static NEXT: AtomicU64 = AtomicU64::new(0);

impl ReadyChannel {
    /// A new channel in the system's temporary directory.
    pub(super) fn open(sockets: std::sync::Arc<SocketRegistry>) -> std::io::Result<Self> {
        let path = std::env::temp_dir().join(format!(
            "dirk-service-{}-{}.sock",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)?;
        let socket = sockets.register(&path);
        Ok(ReadyChannel {
            listener,
            path,
            socket,
            sockets,
        })
    }

    /// Waits for the shim to connect.
    pub(super) async fn accept(&self) -> std::io::Result<ReportReader> {
        let (stream, _) = self.listener.accept().await?;
        Ok(ReportReader {
            lines: BufReader::new(stream),
        })
    }
}

impl Drop for ReadyChannel {
    fn drop(&mut self) {
        self.sockets.unregister(&self.socket.id);
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The shim's side of a connected channel, as reports.
pub(super) struct ReportReader {
    lines: BufReader<UnixStream>,
}

impl ReportReader {
    /// The next report.
    pub(super) async fn next(&mut self) -> Report {
        let mut line = String::new();
        match self.lines.read_line(&mut line).await {
            Ok(0) | Err(_) => return Report::Closed,
            Ok(_) => {}
        }
        let line = line.trim_end();
        if let Some(addr) = line.strip_prefix("addr ") {
            return Report::Addr(addr.to_owned());
        }
        if line == "ready" {
            return Report::Ready;
        }
        if let Some(code) = line.strip_prefix("exit ") {
            let mut rest = Vec::new();
            let _ = self.lines.read_to_end(&mut rest).await;
            return Report::Exited {
                code: code.trim().parse().unwrap_or(-1),
                output: String::from_utf8_lossy(&rest).into_owned(),
            };
        }
        Report::Closed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn reports_are_read_in_order_and_the_socket_goes_away() {
        let sockets = std::sync::Arc::new(SocketRegistry::default());
        let channel = ReadyChannel::open(sockets.clone()).unwrap_or_else(|e| panic!("{e}"));
        let path = sockets
            .path_of(&channel.socket.id)
            .unwrap_or_else(|| panic!("registered"));
        let writer = tokio::spawn(async move {
            let mut s = UnixStream::connect(&path)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let _ = s
                .write_all(b"addr 10.0.0.7\nexit 3\nboom\nlast line\n")
                .await;
        });
        let mut reader = channel.accept().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reader.next().await, Report::Addr("10.0.0.7".into()));
        assert_eq!(
            reader.next().await,
            Report::Exited {
                code: 3,
                output: "boom\nlast line\n".into()
            }
        );
        let _ = writer.await;
        let id = channel.socket.id.clone();
        drop(channel);
        assert!(sockets.path_of(&id).is_none());
    }
}
