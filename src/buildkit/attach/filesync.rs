//! `moby.filesync.v1.FileSync`: the sending side of BuildKit's DiffCopy protocol.
//!
//! The daemon asks for a directory by name. The sender lists every entry as a STAT packet (in walk
//! order, directories before their contents, then one empty STAT), the daemon requests the regular
//! files it lacks by their index in that listing (REQ), each file is sent as DATA packets followed by
//! an empty DATA, and the daemon ends with FIN, which is answered with FIN.

use std::path::PathBuf;
use std::sync::Arc;

use bollard_buildkit_proto::fsutil::types::packet::PacketType;
use bollard_buildkit_proto::fsutil::types::{Packet, Stat};
use bollard_buildkit_proto::moby::filesync::v1::file_sync_server::FileSync;
use bytes::Bytes;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

/// Bytes per DATA packet.
pub const CHUNK_SIZE: usize = 32 * 1024;

/// Go's `os.FileMode` bits, which is what fsutil puts in `Stat.mode`.
pub mod go_mode {
    /// A directory.
    pub const DIR: u32 = 1 << 31;
    /// A symbolic link.
    pub const SYMLINK: u32 = 1 << 27;
    /// A named pipe.
    pub const NAMED_PIPE: u32 = 1 << 25;
    /// A unix socket.
    pub const SOCKET: u32 = 1 << 24;
    /// setuid.
    pub const SETUID: u32 = 1 << 23;
    /// setgid.
    pub const SETGID: u32 = 1 << 22;
    /// A character device (with `DEVICE`).
    pub const CHAR_DEVICE: u32 = 1 << 21;
    /// Sticky bit.
    pub const STICKY: u32 = 1 << 20;
    /// A device.
    pub const DEVICE: u32 = 1 << 26;
    /// Every type bit; a regular file has none.
    pub const TYPE_MASK: u32 = DIR | SYMLINK | NAMED_PIPE | SOCKET | DEVICE | CHAR_DEVICE;
}

/// Where a regular file's bytes come from.
#[derive(Debug, Clone)]
pub enum Content {
    /// Held in memory.
    Bytes(Bytes),
    /// Read from the host when requested.
    Path(PathBuf),
    /// Fetched when requested, from wherever the provider keeps them.
    Deferred(Arc<dyn DeferredContent>),
}

/// Bytes a provider fetches only if the daemon asks for them.
pub trait DeferredContent: Send + Sync + std::fmt::Debug {
    /// The file's bytes, or why they cannot be had.
    fn fetch(&self) -> futures::future::BoxFuture<'static, Result<Bytes, Status>>;
}

/// One entry of a listing: its stat, and for regular files where to read it.
#[derive(Debug, Clone)]
pub struct SyncEntry {
    /// fsutil's stat (relative path with `/` separators, Go file mode).
    pub stat: Stat,
    /// Contents, for regular files.
    pub content: Option<Content>,
}

/// What the daemon asked to sync.
#[derive(Debug, Clone, Default)]
pub struct SyncRequest {
    /// The local source name (`local://NAME`).
    pub dir_name: String,
    /// Include patterns (dockerignore syntax).
    pub include: Vec<String>,
    /// Exclude patterns (dockerignore syntax).
    pub exclude: Vec<String>,
    /// Paths to follow symlinks for.
    pub follow_paths: Vec<String>,
}

/// Produces the listing for a named directory.
pub trait SyncProvider: Send + Sync + 'static {
    /// The entries to send, in walk order, or why the directory cannot be sent.
    fn entries(&self, request: &SyncRequest) -> Result<Vec<SyncEntry>, Status>;
}

/// Methods of the file sync service this session does not serve: files go by DiffCopy only.
pub const UNSERVED: &[&str] = &["TarStream"];

/// The FileSync service over a provider.
pub struct FileSyncService {
    provider: Arc<dyn SyncProvider>,
}

impl FileSyncService {
    /// Serves the directories `provider` knows.
    pub fn new(provider: Arc<dyn SyncProvider>) -> Self {
        FileSyncService { provider }
    }
}

fn metadata_values(md: &tonic::metadata::MetadataMap, key: &str) -> Vec<String> {
    md.get_all(key)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_owned)
        .collect()
}

fn request_from(md: &tonic::metadata::MetadataMap) -> SyncRequest {
    SyncRequest {
        dir_name: metadata_values(md, "dir-name")
            .into_iter()
            .next()
            .unwrap_or_default(),
        include: metadata_values(md, "include-patterns"),
        exclude: metadata_values(md, "exclude-patterns"),
        follow_paths: metadata_values(md, "followpaths"),
    }
}

fn packet(kind: PacketType) -> Packet {
    Packet {
        r#type: kind as i32,
        ..Default::default()
    }
}

type Outbox = mpsc::Sender<Result<Packet, Status>>;

/// Sends one file's content; returns how many bytes were sent.
async fn send_file(out: &Outbox, id: u32, content: &Content) -> Result<u64, Status> {
    let mut sent = 0u64;
    let data = |chunk: Vec<u8>| Packet {
        r#type: PacketType::PacketData as i32,
        id,
        data: chunk,
        stat: None,
    };
    let closed = || Status::cancelled("the daemon closed the file sync stream");
    let send_bytes = |bytes: Bytes| async move {
        let mut sent = 0u64;
        for chunk in bytes.chunks(CHUNK_SIZE) {
            sent += chunk.len() as u64;
            out.send(Ok(data(chunk.to_vec())))
                .await
                .map_err(|_| closed())?;
        }
        Ok::<u64, Status>(sent)
    };
    match content {
        Content::Bytes(bytes) => sent += send_bytes(bytes.clone()).await?,
        Content::Deferred(source) => sent += send_bytes(source.fetch().await?).await?,
        Content::Path(path) => {
            let mut file = tokio::fs::File::open(path)
                .await
                .map_err(|e| Status::not_found(format!("opening {}: {e}", path.display())))?;
            loop {
                let mut buf = vec![0u8; CHUNK_SIZE];
                let n = file
                    .read(&mut buf)
                    .await
                    .map_err(|e| Status::internal(format!("reading {}: {e}", path.display())))?;
                if n == 0 {
                    break;
                }
                buf.truncate(n);
                sent += n as u64;
                out.send(Ok(data(buf))).await.map_err(|_| closed())?;
            }
        }
    }
    out.send(Ok(data(Vec::new()))).await.map_err(|_| closed())?;
    Ok(sent)
}

/// Runs one DiffCopy exchange: the listing goes out while requests are answered.
async fn serve_diff_copy(
    dir_name: String,
    entries: Arc<Vec<SyncEntry>>,
    mut incoming: Streaming<Packet>,
    out: Outbox,
) {
    let listing = {
        let (entries, out) = (entries.clone(), out.clone());
        tokio::spawn(async move {
            for e in entries.iter() {
                let p = Packet {
                    r#type: PacketType::PacketStat as i32,
                    stat: Some(e.stat.clone()),
                    ..Default::default()
                };
                if out.send(Ok(p)).await.is_err() {
                    return;
                }
            }
            let _ = out.send(Ok(packet(PacketType::PacketStat))).await;
        })
    };
    // The daemon asks for files far faster than they can be sent: its requests are drained as
    // they arrive (they are a few bytes each), so that HTTP/2 never holds thousands of unread
    // small frames, which it treats as abuse and answers by closing the connection.
    let (requests, mut queued) = mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        while let Ok(Some(p)) = incoming.message().await {
            if requests.send(p).is_err() {
                return;
            }
        }
    });
    let (mut files, mut bytes) = (0u64, 0u64);
    loop {
        let Some(p) = queued.recv().await else { break };
        match PacketType::try_from(p.r#type) {
            Ok(PacketType::PacketReq) => {
                let Some(content) = entries.get(p.id as usize).and_then(|e| e.content.as_ref())
                else {
                    let _ = out
                        .send(Err(Status::invalid_argument(format!(
                            "invalid file id {}",
                            p.id
                        ))))
                        .await;
                    break;
                };
                match send_file(&out, p.id, content).await {
                    Ok(n) => {
                        files += 1;
                        bytes += n;
                    }
                    Err(status) => {
                        let _ = out.send(Err(status)).await;
                        break;
                    }
                }
            }
            Ok(PacketType::PacketFin) => {
                let _ = listing.await;
                tracing::info!(dir = %dir_name, entries = entries.len(), files, bytes, "file sync sent");
                let _ = out.send(Ok(packet(PacketType::PacketFin))).await;
                break;
            }
            Ok(PacketType::PacketErr) => {
                tracing::warn!(error = %String::from_utf8_lossy(&p.data), "the daemon aborted a file sync");
                break;
            }
            _ => {}
        }
    }
    reader.abort();
}

#[tonic::async_trait]
impl FileSync for FileSyncService {
    type DiffCopyStream = ReceiverStream<Result<Packet, Status>>;

    async fn diff_copy(
        &self,
        request: Request<Streaming<Packet>>,
    ) -> Result<Response<Self::DiffCopyStream>, Status> {
        let sync = request_from(request.metadata());
        tracing::debug!(dir = %sync.dir_name, include = ?sync.include, exclude = ?sync.exclude, "file sync requested");
        let provider = self.provider.clone();
        let listed = sync.clone();
        let entries = tokio::task::spawn_blocking(move || provider.entries(&listed))
            .await
            .map_err(|e| Status::internal(format!("listing files: {e}")))??;
        let (tx, rx) = mpsc::channel(64);
        let span = tracing::debug_span!("session.filesync", dir = %sync.dir_name);
        tokio::spawn(tracing::Instrument::instrument(
            serve_diff_copy(
                sync.dir_name.clone(),
                Arc::new(entries),
                request.into_inner(),
                tx,
            ),
            span,
        ));
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    type TarStreamStream = ReceiverStream<Result<Packet, Status>>;

    async fn tar_stream(
        &self,
        _: Request<Streaming<Packet>>,
    ) -> Result<Response<Self::TarStreamStream>, Status> {
        Err(Status::unimplemented("dirk sends files with DiffCopy only"))
    }
}

/// A modification time derived from the content, so that the daemon (which skips files whose size and
/// time it has seen) always notices when in-memory content changes between sessions.
fn content_time(bytes: &[u8]) -> i64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(bytes);
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    // A time within about 30 years after the epoch, in nanoseconds.
    (u64::from_be_bytes(first) % (1u64 << 60)) as i64
}

/// A fixed, in-memory directory: used to serve dirk's own files (the exec shim).
pub struct MemoryTree {
    name: String,
    entries: Vec<SyncEntry>,
}

impl MemoryTree {
    /// A directory named `name` holding regular files `(path, mode, bytes)` at its top level.
    pub fn new(name: impl Into<String>, files: Vec<(&str, u32, Bytes)>) -> Self {
        let mut files = files;
        files.sort_by(|a, b| a.0.cmp(b.0));
        let entries = files
            .into_iter()
            .map(|(path, mode, bytes)| SyncEntry {
                stat: Stat {
                    path: path.to_owned(),
                    mode: mode & 0o7777,
                    size: bytes.len() as i64,
                    mod_time: content_time(&bytes),
                    ..Default::default()
                },
                content: Some(Content::Bytes(bytes)),
            })
            .collect();
        MemoryTree {
            name: name.into(),
            entries,
        }
    }

    /// The name it is served under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its listing.
    pub fn entries(&self) -> &[SyncEntry] {
        &self.entries
    }
}
