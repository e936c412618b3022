//! Byte streams to a BuildKit daemon, one kind per runner address, turned into a gRPC channel.

use std::io;
use std::path::Path;
use std::pin::Pin;
use std::process::Stdio;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};
use tonic::transport::{Channel, Endpoint, Uri};

use super::address::{DockerEndpoint, RunnerAddress, TlsFiles};
use super::tls::TlsClient;
use crate::sync::Locked;
use bollard_buildkit_proto::moby::buildkit::v1 as control;
use control::control_client::ControlClient;

/// How long establishing a connection may take before it is reported as unreachable.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A failure to reach the daemon.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// Nothing answered at the address.
    #[error("cannot reach BuildKit at {address}: {reason}")]
    Unreachable { address: String, reason: String },
    /// The address form is understood but this build cannot use it yet.
    #[error("cannot use BuildKit at {address}: {reason}")]
    Unsupported { address: String, reason: String },
}

trait ByteStream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> ByteStream for T {}

/// Any of the byte streams below, boxed.
struct BoxedStream(Box<dyn ByteStream>);

impl AsyncRead for BoxedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for BoxedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

/// A helper process (`docker exec … buildctl dial-stdio`) whose stdin/stdout carry the connection.
struct ChildStream {
    io: tokio::io::Join<tokio::process::ChildStdout, tokio::process::ChildStdin>,
    _child: tokio::process::Child,
}

impl AsyncRead for ChildStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for ChildStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The command line that bridges stdio to a buildkitd in a container or pod, for the address kinds that need one.
pub fn dial_stdio_command(address: &RunnerAddress) -> Option<Vec<String>> {
    let mut argv: Vec<String> = Vec::new();
    match address {
        RunnerAddress::DockerContainer { name, context } => {
            argv.push("docker".into());
            if let Some(c) = context {
                argv.extend(["--context".into(), c.clone()]);
            }
            argv.extend(["exec".into(), "-i".into(), name.clone()]);
        }
        RunnerAddress::PodmanContainer { name } => {
            argv.extend(["podman".into(), "exec".into(), "-i".into(), name.clone()])
        }
        RunnerAddress::KubePod {
            pod,
            context,
            namespace,
            container,
        } => {
            argv.push("kubectl".into());
            if let Some(c) = context {
                argv.push(format!("--context={c}"));
            }
            if let Some(n) = namespace {
                argv.push(format!("--namespace={n}"));
            }
            argv.push("exec".into());
            if let Some(c) = container {
                argv.push(format!("--container={c}"));
            }
            argv.extend(["-i".into(), pod.clone(), "--".into()]);
        }
        _ => return None,
    }
    argv.extend(["buildctl".into(), "dial-stdio".into()]);
    Some(argv)
}

async fn docker_upgrade<S>(stream: S) -> io::Result<hyper::upgrade::Upgraded>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let other = |e: &dyn std::fmt::Display| io::Error::other(e.to_string());
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| other(&e))?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    let request = http::Request::post("/grpc")
        .header(http::header::HOST, "docker")
        .header(http::header::CONNECTION, "Upgrade")
        .header(http::header::UPGRADE, "h2c")
        .body(Empty::<Bytes>::new())
        .map_err(|e| other(&e))?;
    let response = sender.send_request(request).await.map_err(|e| other(&e))?;
    if response.status() != http::StatusCode::SWITCHING_PROTOCOLS {
        return Err(io::Error::other(format!(
            "the Docker daemon answered {} to POST /grpc instead of switching to gRPC (its BuildKit may be disabled)",
            response.status()
        )));
    }
    hyper::upgrade::on(response).await.map_err(|e| other(&e))
}

/// The last lines a dial helper (`docker exec`, `kubectl exec`...) wrote to its standard error, kept
/// to explain a connection that fails.
#[derive(Clone, Default)]
struct HelperOutput(std::sync::Arc<std::sync::Mutex<String>>);

impl HelperOutput {
    const KEEP: usize = 2048;

    fn record(&self, line: &str) {
        tracing::debug!(target: "dirk::transport", "dial helper: {line}");
        let mut text = self.0.locked();
        text.push_str(line.trim_end());
        text.push('\n');
        if text.len() > Self::KEEP {
            let mut cut = text.len() - Self::KEEP;
            while !text.is_char_boundary(cut) {
                cut += 1;
            }
            text.drain(..cut);
        }
    }

    /// `reason`, followed by what the helper said, if anything.
    fn explain(&self, reason: String) -> String {
        let said = self.0.locked().trim().to_owned();
        if said.is_empty() {
            reason
        } else {
            format!(
                "{reason}; the dial helper said: {}",
                said.replace('\n', " / ")
            )
        }
    }
}

async fn open_stream(
    address: &RunnerAddress,
    tls: Option<&TlsClient>,
    helper_output: &HelperOutput,
) -> io::Result<BoxedStream> {
    let boxed = |s: Box<dyn ByteStream>| BoxedStream(s);
    Ok(match address {
        RunnerAddress::Unix(path) => boxed(Box::new(UnixStream::connect(path).await?)),
        RunnerAddress::Tcp { host, port, .. } => {
            let s = TcpStream::connect((host.as_str(), *port)).await?;
            s.set_nodelay(true)?;
            match tls {
                Some(tls) => boxed(Box::new(tls.connect(s).await?)),
                None => boxed(Box::new(s)),
            }
        }
        RunnerAddress::Docker(DockerEndpoint::Unix(path)) => {
            let s = UnixStream::connect(path).await?;
            boxed(Box::new(TokioIo::new(docker_upgrade(s).await?)))
        }
        RunnerAddress::Docker(DockerEndpoint::Tcp { host, port, .. }) => {
            let s = TcpStream::connect((host.as_str(), *port)).await?;
            let upgraded = match tls {
                Some(tls) => docker_upgrade(tls.connect(s).await?).await?,
                None => docker_upgrade(s).await?,
            };
            boxed(Box::new(TokioIo::new(upgraded)))
        }
        RunnerAddress::Docker(DockerEndpoint::Ssh { target, port }) => {
            // What the docker CLI does for ssh:// hosts: the remote docker CLI relays its daemon's API.
            let mut argv = vec!["ssh".to_owned()];
            if let Some(p) = port {
                argv.extend(["-p".into(), p.to_string()]);
            }
            argv.extend([
                "--".into(),
                target.clone(),
                "docker".into(),
                "system".into(),
                "dial-stdio".into(),
            ]);
            let helper = spawn_helper(&argv, helper_output)?;
            boxed(Box::new(TokioIo::new(docker_upgrade(helper).await?)))
        }
        other => {
            let argv = dial_stdio_command(other)
                .ok_or_else(|| io::Error::other("no dial command for this address"))?;
            boxed(Box::new(spawn_helper(&argv, helper_output)?))
        }
    })
}

/// Starts a helper whose stdin/stdout carry the connection; its stderr goes to `helper_output`.
fn spawn_helper(argv: &[String], helper_output: &HelperOutput) -> io::Result<ChildStream> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| io::Error::other("an empty helper command"))?;
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| io::Error::new(e.kind(), format!("running {program}: {e}")))?;
    if let Some(stderr) = child.stderr.take() {
        let log = helper_output.clone();
        tokio::spawn(async move {
            use tokio::io::AsyncBufReadExt;
            let mut lines = tokio::io::BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                log.record(&line);
            }
        });
    }
    let (Some(stdout), Some(stdin)) = (child.stdout.take(), child.stdin.take()) else {
        return Err(io::Error::other("the dial helper has no stdio"));
    };
    Ok(ChildStream {
        io: tokio::io::join(stdout, stdin),
        _child: child,
    })
}

/// The TLS client for a `tcp://` address that asks for TLS.
fn tls_for(address: &RunnerAddress) -> Result<Option<TlsClient>, TransportError> {
    let (host, files, protocol): (&str, &TlsFiles, &[u8]) = match address {
        // BuildKit serves gRPC: HTTP/2 from the start.
        RunnerAddress::Tcp {
            host,
            tls: Some(files),
            ..
        } => (host, files, b"h2"),
        // Docker's API is HTTP/1.1 until the /grpc upgrade.
        RunnerAddress::Docker(DockerEndpoint::Tcp {
            host,
            tls: Some(files),
            ..
        }) => (host, files, b"http/1.1"),
        _ => return Ok(None),
    };
    TlsClient::new(host, files, protocol)
        .map(Some)
        .map_err(|e| TransportError::Unsupported {
            address: address.to_string(),
            reason: e.to_string(),
        })
}

/// Opens a gRPC channel to the daemon. The connection is made (and checked) before this returns,
/// within [`CONNECT_TIMEOUT`]; later reconnects go through the same path.
pub async fn connect(address: &RunnerAddress) -> Result<Channel, TransportError> {
    let tls = tls_for(address)?;
    if let RunnerAddress::Unix(p) | RunnerAddress::Docker(DockerEndpoint::Unix(p)) = address
        && !Path::new(p).exists()
    {
        return Err(TransportError::Unreachable {
            address: address.to_string(),
            reason: format!("{} does not exist (is the daemon running?)", p.display()),
        });
    }
    let target = address.clone();
    let helper_output = HelperOutput::default();
    let log = helper_output.clone();
    let connector = tower::service_fn(move |_: Uri| {
        let target = target.clone();
        let tls = tls.clone();
        let log = log.clone();
        async move {
            open_stream(&target, tls.as_ref(), &log)
                .await
                .map(TokioIo::new)
        }
    });
    let endpoint = Endpoint::from_static("http://buildkit")
        .connect_timeout(CONNECT_TIMEOUT)
        .http2_keep_alive_interval(Duration::from_secs(10))
        .keep_alive_timeout(Duration::from_secs(5))
        .keep_alive_while_idle(true);
    let unreachable = |reason: String| TransportError::Unreachable {
        address: address.to_string(),
        reason: helper_output.explain(reason),
    };
    let timed_out = || format!("no answer within {}s", CONNECT_TIMEOUT.as_secs());
    let channel =
        match tokio::time::timeout(CONNECT_TIMEOUT, endpoint.connect_with_connector(connector))
            .await
        {
            Ok(Ok(channel)) => channel,
            Ok(Err(e)) => return Err(unreachable(error_chain(&e))),
            Err(_) => return Err(unreachable(timed_out())),
        };
    // A byte stream is not yet a daemon (a helper may start and fail, a proxy may accept and hang
    // up): one cheap call proves that BuildKit answers before anything is built on the channel.
    let mut control = ControlClient::new(channel.clone());
    let probe = control.list_workers(control::ListWorkersRequest::default());
    match tokio::time::timeout(CONNECT_TIMEOUT, probe).await {
        Ok(Ok(_)) => Ok(channel),
        Ok(Err(status)) => Err(unreachable(format!(
            "it did not answer as BuildKit ({})",
            status.message()
        ))),
        Err(_) => Err(unreachable(timed_out())),
    }
}

/// Relays `input`/`output` (dirk's stdin/stdout) to the daemon at `address`, byte for byte, until
/// either side closes: the gRPC connection is whatever the other end of the pipe speaks.
pub async fn dial_stdio<I, O>(
    address: &RunnerAddress,
    input: I,
    output: O,
) -> Result<(), TransportError>
where
    I: AsyncRead + Send + Unpin,
    O: AsyncWrite + Send + Unpin,
{
    let unreachable = |reason: String| TransportError::Unreachable {
        address: address.to_string(),
        reason,
    };
    let tls = tls_for(address)?;
    let helper_output = HelperOutput::default();
    let stream = tokio::time::timeout(
        CONNECT_TIMEOUT,
        open_stream(address, tls.as_ref(), &helper_output),
    )
    .await
    .map_err(|_| unreachable(format!("no answer within {}s", CONNECT_TIMEOUT.as_secs())))?
    .map_err(|e| unreachable(e.to_string()))?;
    let mut pipe = tokio::io::join(input, output);
    let mut stream = stream;
    match tokio::io::copy_bidirectional(&mut pipe, &mut stream).await {
        Ok(_) => Ok(()),
        Err(e)
            if e.kind() == io::ErrorKind::BrokenPipe
                || e.kind() == io::ErrorKind::ConnectionReset =>
        {
            Ok(())
        }
        Err(e) => Err(unreachable(format!("relaying: {e}"))),
    }
}

/// An error and its sources on one line.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ")
}

/// Whether the daemon at `address` shares this process's network namespace, so that it reaches
/// what this process serves on 127.0.0.1. Known only for a daemon on a local unix socket whose
/// serving process this user may inspect (its `/proc/PID/ns/net` is this process's); `false`
/// whenever it cannot be told (TCP, containers, pods, a daemon in a namespace of its own such as
/// rootless Docker's).
pub async fn shares_loopback(address: &RunnerAddress) -> bool {
    let path = match address {
        RunnerAddress::Unix(path) | RunnerAddress::Docker(DockerEndpoint::Unix(path)) => path,
        _ => return false,
    };
    let Ok(stream) = UnixStream::connect(path).await else {
        return false;
    };
    let Some(pid) = stream.peer_cred().ok().and_then(|c| c.pid()) else {
        return false;
    };
    same_network_namespace(pid)
}

/// Whether process `pid` is in this process's network namespace (`false` when either is unreadable).
fn same_network_namespace(pid: i32) -> bool {
    match (
        std::fs::read_link(format!("/proc/{pid}/ns/net")),
        std::fs::read_link("/proc/self/ns/net"),
    ) {
        (Ok(theirs), Ok(ours)) => theirs == ours,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dial_commands() {
        let kube = RunnerAddress::KubePod {
            pod: "bk-0".into(),
            context: Some("prod".into()),
            namespace: Some("ci".into()),
            container: Some("buildkitd".into()),
        };
        assert_eq!(
            dial_stdio_command(&kube).map(|v| v.join(" ")),
            Some("kubectl --context=prod --namespace=ci exec --container=buildkitd -i bk-0 -- buildctl dial-stdio".into())
        );
        let docker = RunnerAddress::DockerContainer {
            name: "bk".into(),
            context: None,
        };
        assert_eq!(
            dial_stdio_command(&docker).map(|v| v.join(" ")),
            Some("docker exec -i bk buildctl dial-stdio".into())
        );
        let podman = RunnerAddress::PodmanContainer { name: "bk".into() };
        assert_eq!(
            dial_stdio_command(&podman).map(|v| v.join(" ")),
            Some("podman exec -i bk buildctl dial-stdio".into())
        );
        assert_eq!(dial_stdio_command(&RunnerAddress::Unix("/x".into())), None);
    }

    #[tokio::test]
    async fn a_daemon_on_a_socket_of_this_process_shares_its_loopback() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let path = dir.path().join("d.sock");
        let listener =
            tokio::net::UnixListener::bind(&path).unwrap_or_else(|e| panic!("bind: {e}"));
        let accept = tokio::spawn(async move {
            listener.accept().await.is_ok() && listener.accept().await.is_ok()
        });
        assert!(shares_loopback(&RunnerAddress::Unix(path.clone())).await);
        assert!(
            shares_loopback(&RunnerAddress::Docker(DockerEndpoint::Unix(path))).await,
            "a docker socket is checked the same way"
        );
        assert!(accept.await.unwrap_or(false));
        assert!(!shares_loopback(&RunnerAddress::Unix(dir.path().join("missing.sock"))).await);
        let tcp = RunnerAddress::Tcp {
            host: "127.0.0.1".into(),
            port: 1,
            tls: None,
        };
        assert!(
            !shares_loopback(&tcp).await,
            "nothing is assumed of a TCP daemon"
        );
        assert!(
            !same_network_namespace(i32::MAX),
            "an unknown process shares nothing"
        );
    }
}
