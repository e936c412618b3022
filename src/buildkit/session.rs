//! The session tunnel: one `Control.Session` stream to the daemon, carrying an HTTP/2 connection
//! on which the daemon is the client and dirk serves the attachables.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bollard_buildkit_proto::moby::buildkit::v1::BytesMessage;
use bollard_buildkit_proto::moby::buildkit::v1::control_client::ControlClient;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::metadata::MetadataValue;
use tonic::transport::Channel;

use super::attach::Attachables;

/// Who this session is, as the daemon sees it.
#[derive(Debug, Clone)]
pub struct SessionIdentity {
    /// Unique id; builds name it to reach this session's attachables.
    pub id: String,
    /// Human-readable name (shows in daemon logs).
    pub name: String,
    /// Key under which the daemon may reuse what earlier sessions of the same client synced.
    pub shared_key: String,
}

impl SessionIdentity {
    /// A fresh identity with a random id.
    pub fn new(name: &str, shared_key: &str) -> Self {
        SessionIdentity {
            id: random_id(),
            name: name.to_owned(),
            shared_key: shared_key.to_owned(),
        }
    }
}

/// A random identifier of 25 lowercase base-36 characters (as BuildKit's own ids look).
pub(crate) fn random_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    (0..25)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The tunnel's byte stream, as the attachable server sees it.
struct TunnelIo(DuplexStream);

impl tonic::transport::server::Connected for TunnelIo {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for TunnelIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TunnelIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// A running session tunnel. Dropping it (or calling [`SessionTunnel::close`]) ends the session.
pub(crate) struct SessionTunnel {
    tasks: Vec<JoinHandle<()>>,
}

impl SessionTunnel {
    /// Opens the tunnel and starts serving `attachables` on it.
    pub(crate) async fn open(
        channel: Channel,
        identity: &SessionIdentity,
        attachables: Attachables,
    ) -> Result<SessionTunnel, tonic::Status> {
        let (tx, rx) = mpsc::channel::<BytesMessage>(64);
        let mut request = tonic::Request::new(ReceiverStream::new(rx));
        let md = request.metadata_mut();
        let value = |s: &str| {
            MetadataValue::try_from(s)
                .map_err(|_| tonic::Status::invalid_argument(format!("session header value {s:?}")))
        };
        md.insert("x-docker-expose-session-uuid", value(&identity.id)?);
        md.insert("x-docker-expose-session-name", value(&identity.name)?);
        md.insert(
            "x-docker-expose-session-sharedkey",
            value(&identity.shared_key)?,
        );
        for method in &attachables.methods {
            md.append("x-docker-expose-session-grpc-method", value(method)?);
        }
        crate::telemetry::inject(md);
        let mut control = ControlClient::new(channel);
        let mut incoming = control.session(request).await?.into_inner();

        let (ours, theirs) = tokio::io::duplex(256 * 1024);
        let (mut their_read, mut their_write) = tokio::io::split(theirs);
        let inbound = tokio::spawn(async move {
            while let Some(Ok(msg)) = incoming.next().await {
                if their_write.write_all(&msg.data).await.is_err() {
                    break;
                }
            }
            let _ = their_write.shutdown().await;
        });
        let outbound = tokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match their_read.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx
                            .send(BytesMessage {
                                data: buf[..n].to_vec(),
                            })
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                }
            }
        });
        let routes = attachables.routes;
        let server = tokio::spawn(async move {
            let conn = futures::stream::iter([Ok::<_, io::Error>(TunnelIo(ours))])
                .chain(futures::stream::pending());
            // Large windows: exports and syncs stream many small messages each way.
            if let Err(e) = tonic::transport::Server::builder()
                .initial_connection_window_size(64 << 20)
                .initial_stream_window_size(16 << 20)
                .add_routes(routes)
                .serve_with_incoming(conn)
                .await
            {
                tracing::debug!(error = %e, "session attachable server ended");
            }
        });
        Ok(SessionTunnel {
            tasks: vec![inbound, outbound, server],
        })
    }

    /// Ends the session: the daemon sees the stream close.
    pub(crate) fn close(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for SessionTunnel {
    fn drop(&mut self) {
        self.close();
    }
}
