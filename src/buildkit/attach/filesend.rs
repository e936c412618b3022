//! `moby.filesync.v1.FileSend`: the receiving side of exports.
//!
//! The daemon calls `DiffCopy` to hand over an export. The method is declared with `BytesMessage`
//! but carries two protocols: the local exporter runs DiffCopy over it with fsutil packets (the
//! daemon lists entries as STAT packets, the session requests each regular file by its index with
//! REQ, DATA packets carry the bytes, FIN ends it), and tarball exporters stream `BytesMessage`s.
//! Messages are therefore taken raw and decoded as the export in progress expects. Everything is written into the staging directory of the export in progress.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use bollard_buildkit_proto::fsutil::types::packet::PacketType;
use bollard_buildkit_proto::fsutil::types::{Packet, Stat};
use bollard_buildkit_proto::moby::filesync::v1::BytesMessage;
use bytes::{Buf, BufMut, Bytes};
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{BoxFuture, Context, Poll, Service, StdError, http};
use tonic::{Status, Streaming};

use super::filesync::go_mode;
use crate::core::stores::exports::{ExportSlot, Received};

use crate::core::stores::exports::TARBALL_NAME;

/// Passes message bytes through untouched.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawCodec;
    type Decoder = RawCodec;
    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }
    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = Bytes;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// The FileSend service, writing into the session's export slot.
#[derive(Clone)]
pub struct FileSendServer {
    slot: Arc<ExportSlot>,
}

impl FileSendServer {
    /// Receives exports into `slot`.
    pub fn new(slot: Arc<ExportSlot>) -> Self {
        FileSendServer { slot }
    }
}

impl tonic::server::NamedService for FileSendServer {
    const NAME: &'static str = "moby.filesync.v1.FileSend";
}

struct DiffCopy(Arc<ExportSlot>);

impl tonic::server::StreamingService<Bytes> for DiffCopy {
    type Response = Bytes;
    type ResponseStream = ReceiverStream<Result<Bytes, Status>>;
    type Future = BoxFuture<tonic::Response<Self::ResponseStream>, Status>;

    fn call(&mut self, request: tonic::Request<Streaming<Bytes>>) -> Self::Future {
        let slot = self.0.clone();
        Box::pin(async move {
            let (staging, received) = slot.staging().ok_or_else(|| {
                Status::failed_precondition("this session is not expecting an export")
            })?;
            let tarball = received == Received::Tarball;
            let incoming = request.into_inner();
            let (tx, rx) = mpsc::channel(64);
            tokio::spawn(async move {
                let result = if tarball {
                    receive_tarball(incoming, &staging.join(TARBALL_NAME)).await
                } else {
                    receive_tree(incoming, &staging, &tx).await
                };
                if let Err(status) = result {
                    tracing::warn!(error = %status.message(), "export transfer failed");
                    let _ = tx.send(Err(status)).await;
                }
            });
            Ok(tonic::Response::new(ReceiverStream::new(rx)))
        })
    }
}

impl<B> Service<http::Request<B>> for FileSendServer
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let slot = self.slot.clone();
        Box::pin(async move {
            if req.uri().path() != "/moby.filesync.v1.FileSend/DiffCopy" {
                return Ok(Status::unimplemented("no such method").into_http());
            }
            let mut grpc = tonic::server::Grpc::new(RawCodec);
            Ok(grpc.streaming(DiffCopy(slot), req).await)
        })
    }
}

fn io_status(what: &str, path: &Path, e: std::io::Error) -> Status {
    Status::internal(format!("{what} {}: {e}", path.display()))
}

async fn receive_tarball(mut incoming: Streaming<Bytes>, path: &Path) -> Result<(), Status> {
    let mut file = std::fs::File::create(path).map_err(|e| io_status("creating", path, e))?;
    while let Some(raw) = incoming.message().await? {
        let msg = BytesMessage::decode(raw)
            .map_err(|e| Status::invalid_argument(format!("malformed tarball message: {e}")))?;
        file.write_all(&msg.data)
            .map_err(|e| io_status("writing", path, e))?;
    }
    file.sync_all().map_err(|e| io_status("writing", path, e))
}

/// A relative path from the daemon, checked to stay inside the destination.
fn safe_join(root: &Path, rel: &str) -> Result<PathBuf, Status> {
    let mut out = root.to_path_buf();
    let mut depth = 0usize;
    for part in Path::new(rel).components() {
        match part {
            Component::Normal(p) => {
                out.push(p);
                depth += 1;
            }
            Component::CurDir => {}
            _ => {
                return Err(Status::invalid_argument(format!(
                    "refusing export path {rel:?}: it leaves the destination"
                )));
            }
        }
    }
    if depth == 0 {
        return Err(Status::invalid_argument(format!(
            "empty export path {rel:?}"
        )));
    }
    Ok(out)
}

fn packet(kind: PacketType, id: u32) -> Bytes {
    Bytes::from(
        Packet {
            r#type: kind as i32,
            id,
            ..Default::default()
        }
        .encode_to_vec(),
    )
}

fn set_mtime(path: &Path, nanos: i64) {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(nanos.max(0) as u64);
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.set_modified(time);
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<(), Status> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o7777))
        .map_err(|e| io_status("setting the mode of", path, e))
}

/// Refuses `path` when an entry between `root` and it is a symlink: a transfer that made `a` a
/// link to `/etc` must not write `a/passwd` through it.
fn no_symlink_between(root: &Path, path: &Path) -> Result<(), Status> {
    let Ok(rel) = path.strip_prefix(root) else {
        return Err(Status::invalid_argument(format!(
            "refusing export path {}: it leaves the destination",
            path.display()
        )));
    };
    let mut at = root.to_path_buf();
    let parts: Vec<_> = rel.components().collect();
    for part in parts.iter().take(parts.len().saturating_sub(1)) {
        at.push(part);
        if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(Status::invalid_argument(format!(
                "refusing export path {}: {} is a symlink",
                path.display(),
                at.display()
            )));
        }
    }
    Ok(())
}

/// One DiffCopy transfer into a directory, fed packet by packet: the daemon lists entries (STAT),
/// the receiver requests each regular file (REQ), DATA packets fill them, and FIN ends the
/// transfer. Every path stays inside the destination, through symlinks too.
pub struct TreeReceiver {
    root: PathBuf,
    index: u32,
    open: HashMap<u32, (PathBuf, std::fs::File, Stat)>,
    dirs: Vec<(PathBuf, Stat)>,
    links: Vec<(PathBuf, PathBuf)>,
    listed: bool,
    finished: bool,
    ended: bool,
}

impl TreeReceiver {
    /// A receiver writing into the existing directory `root`.
    pub fn new(root: &Path) -> TreeReceiver {
        TreeReceiver {
            root: root.to_path_buf(),
            index: 0,
            open: HashMap::new(),
            dirs: Vec::new(),
            links: Vec::new(),
            listed: false,
            finished: false,
            ended: false,
        }
    }

    /// Whether the daemon has ended the transfer (FIN).
    pub fn ended(&self) -> bool {
        self.ended
    }

    fn entry_path(&self, rel: &str) -> Result<PathBuf, Status> {
        let path = safe_join(&self.root, rel)?;
        no_symlink_between(&self.root, &path)?;
        Ok(path)
    }

    /// Handles one packet; returns the packets to send back to the daemon.
    pub fn handle(&mut self, p: Packet) -> Result<Vec<Bytes>, Status> {
        let mut replies = Vec::new();
        match PacketType::try_from(p.r#type) {
            Ok(PacketType::PacketStat) => match p.stat {
                // The empty STAT ends the listing.
                None => self.listed = true,
                Some(stat) => {
                    let id = self.index;
                    self.index = self.index.wrapping_add(1);
                    let path = self.entry_path(&stat.path)?;
                    let kind = stat.mode & go_mode::TYPE_MASK;
                    if kind == go_mode::DIR {
                        if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.is_dir()) {
                            return Err(Status::invalid_argument(format!(
                                "refusing export directory {}: something else is there",
                                path.display()
                            )));
                        }
                        std::fs::create_dir_all(&path)
                            .map_err(|e| io_status("creating", &path, e))?;
                        self.dirs.push((path, stat));
                    } else if kind == go_mode::SYMLINK {
                        std::os::unix::fs::symlink(&stat.linkname, &path)
                            .map_err(|e| io_status("creating", &path, e))?;
                    } else if kind == 0 && !stat.linkname.is_empty() {
                        let target = self.entry_path(&stat.linkname)?;
                        self.links.push((target, path));
                    } else if kind == 0 {
                        let file = std::fs::OpenOptions::new()
                            .write(true)
                            .create_new(true)
                            .open(&path)
                            .map_err(|e| io_status("creating", &path, e))?;
                        self.open.insert(id, (path, file, stat));
                        replies.push(packet(PacketType::PacketReq, id));
                    }
                    // Devices, pipes and sockets are not recreated on the host.
                }
            },
            Ok(PacketType::PacketData) => {
                let Some((path, file, _)) = self.open.get_mut(&p.id) else {
                    return Err(Status::invalid_argument(format!(
                        "data for a file that was not requested ({})",
                        p.id
                    )));
                };
                if !p.data.is_empty() {
                    file.write_all(&p.data)
                        .map_err(|e| io_status("writing", path, e))?;
                } else if let Some((path, _, stat)) = self.open.remove(&p.id) {
                    set_mode(&path, stat.mode)?;
                    set_mtime(&path, stat.mod_time);
                }
            }
            Ok(PacketType::PacketFin) => self.ended = true,
            Ok(PacketType::PacketErr) => {
                return Err(Status::aborted(format!(
                    "the daemon aborted the export: {}",
                    String::from_utf8_lossy(&p.data)
                )));
            }
            _ => {}
        }
        // Everything listed has arrived: tell the daemon, once.
        if self.listed && self.open.is_empty() && !self.finished {
            self.finished = true;
            replies.push(packet(PacketType::PacketFin, 0));
        }
        Ok(replies)
    }

    /// Completes the transfer: hard links, then directory modes and times.
    pub fn finish(self) -> Result<(), Status> {
        if !self.finished || !self.open.is_empty() {
            return Err(Status::aborted(
                "the export stream ended before every file arrived",
            ));
        }
        for (target, link) in self.links {
            std::fs::hard_link(&target, &link).map_err(|e| io_status("linking", &link, e))?;
        }
        // Directory modes and times last: writing into a directory changes its time, and a
        // read-only directory could not have been filled.
        for (path, stat) in self.dirs.iter().rev() {
            set_mode(path, stat.mode)?;
            set_mtime(path, stat.mod_time);
        }
        Ok(())
    }
}

/// Receives a DiffCopy transfer into `root`.
async fn receive_tree(
    mut incoming: Streaming<Bytes>,
    root: &Path,
    out: &mpsc::Sender<Result<Bytes, Status>>,
) -> Result<(), Status> {
    let closed = || Status::cancelled("the daemon closed the export stream");
    let mut receiver = TreeReceiver::new(root);
    while let Some(raw) = incoming.message().await? {
        let p = Packet::decode(raw)
            .map_err(|e| Status::invalid_argument(format!("malformed export packet: {e}")))?;
        for reply in receiver.handle(p)? {
            out.send(Ok(reply)).await.map_err(|_| closed())?;
        }
        if receiver.ended() {
            break;
        }
    }
    receiver.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat_packet(path: &str, mode: u32, linkname: &str) -> Packet {
        Packet {
            r#type: PacketType::PacketStat as i32,
            stat: Some(Stat {
                path: path.into(),
                mode,
                linkname: linkname.into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_transfer_cannot_write_through_a_symlink_it_made() {
        let sandbox = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (root, outside) = (sandbox.path().join("root"), sandbox.path().join("outside"));
        for d in [&root, &outside] {
            std::fs::create_dir_all(d).unwrap_or_else(|e| panic!("{e}"));
        }
        let target = outside.display().to_string();
        let mut rx = TreeReceiver::new(&root);
        assert!(
            rx.handle(stat_packet("l", go_mode::SYMLINK | 0o777, &target))
                .is_ok()
        );
        assert!(rx.handle(stat_packet("l/passwd", 0o644, "")).is_err());
        let mut rx = TreeReceiver::new(&root);
        assert!(
            rx.handle(stat_packet("l", go_mode::DIR | 0o755, ""))
                .is_err()
        );
        // A regular transfer still works: a file is requested, filled and closed.
        let mut rx = TreeReceiver::new(&root);
        let replies = rx
            .handle(stat_packet("f", 0o600, ""))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(replies.len(), 1, "one REQ");
        let data = |bytes: &[u8]| Packet {
            r#type: PacketType::PacketData as i32,
            id: 0,
            data: bytes.to_vec(),
            ..Default::default()
        };
        assert!(rx.handle(data(b"hello")).is_ok());
        assert!(rx.handle(data(b"")).is_ok());
        let end = Packet {
            r#type: PacketType::PacketStat as i32,
            ..Default::default()
        };
        assert_eq!(rx.handle(end).map(|r| r.len()).ok(), Some(1), "FIN");
        assert!(rx.finish().is_ok());
        assert_eq!(std::fs::read(root.join("f")).unwrap_or_default(), b"hello");
        assert_eq!(
            std::fs::read_dir(&outside).map(|d| d.count()).unwrap_or(9),
            0
        );
    }

    #[test]
    fn daemon_paths_stay_inside_the_destination() {
        let root = Path::new("/tmp/x");
        assert_eq!(
            safe_join(root, "a/b").ok(),
            Some(PathBuf::from("/tmp/x/a/b"))
        );
        assert_eq!(safe_join(root, "./a").ok(), Some(PathBuf::from("/tmp/x/a")));
        for bad in ["../a", "a/../../b", "/etc/passwd", "", "."] {
            assert!(safe_join(root, bad).is_err(), "{bad:?}");
        }
    }
}
