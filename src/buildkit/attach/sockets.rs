//! `moby.sshforward.v1.SSH`: forwards connections to host unix sockets. The daemon creates the
//! socket inside the container; each connection a command opens there becomes one `ForwardAgent`
//! stream (its socket id in the `buildkit.ssh.id` metadata), which the session pipes to the host
//! socket, bytes in both directions, until either side closes.

use std::sync::Arc;

use bollard_buildkit_proto::moby::sshforward::v1::ssh_server::Ssh;
use bollard_buildkit_proto::moby::sshforward::v1::{
    BytesMessage, CheckAgentRequest, CheckAgentResponse,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::core::socket::SocketRegistry;

/// The metadata key naming the socket a forwarded connection is for.
pub const SOCKET_ID_KEY: &str = "buildkit.ssh.id";

/// The socket-forwarding service over a session's registry.
pub struct SocketService {
    sockets: Arc<SocketRegistry>,
}

impl SocketService {
    /// Forwards the sockets in `sockets`.
    pub fn new(sockets: Arc<SocketRegistry>) -> Self {
        SocketService { sockets }
    }

    fn path(&self, id: &str) -> Result<std::path::PathBuf, Status> {
        self.sockets
            .path_of(id)
            .ok_or_else(|| Status::not_found(format!("this session forwards no socket {id:?}")))
    }
}

#[tonic::async_trait]
impl Ssh for SocketService {
    async fn check_agent(
        &self,
        request: Request<CheckAgentRequest>,
    ) -> Result<Response<CheckAgentResponse>, Status> {
        self.path(&request.into_inner().id)?;
        Ok(Response::new(CheckAgentResponse {}))
    }

    type ForwardAgentStream = ReceiverStream<Result<BytesMessage, Status>>;

    async fn forward_agent(
        &self,
        request: Request<Streaming<BytesMessage>>,
    ) -> Result<Response<Self::ForwardAgentStream>, Status> {
        let id = request
            .metadata()
            .get(SOCKET_ID_KEY)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let path = self.path(&id)?;
        let stream = tokio::net::UnixStream::connect(&path).await.map_err(|e| {
            Status::unavailable(format!("connecting to host socket {}: {e}", path.display()))
        })?;
        let (mut reader, mut writer) = stream.into_split();
        let mut incoming = request.into_inner();
        let (tx, rx) = mpsc::channel(16);
        // Container → host.
        tokio::spawn(async move {
            while let Ok(Some(msg)) = incoming.message().await {
                if writer.write_all(&msg.data).await.is_err() {
                    break;
                }
            }
            let _ = writer.shutdown().await;
        });
        // Host → container.
        tokio::spawn(async move {
            let mut buf = vec![0u8; 32 * 1024];
            loop {
                match reader.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let msg = BytesMessage {
                            data: buf[..n].to_vec(),
                        };
                        if tx.send(Ok(msg)).await.is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}
