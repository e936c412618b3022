//! What the domain needs from a build engine. `core` defines it; `buildkit` implements it; unit
//! tests may fake it.

use async_trait::async_trait;

use std::collections::{BTreeMap, HashMap};

use crate::llb::{Definition, Platform, pb};

/// An image one of the daemon's own image exporters writes: `image` (which pushes it), `docker`
/// or `oci` (which send a tarball to the session's file-send service).
#[derive(Debug, Clone)]
pub struct ImageWrite {
    /// The image's filesystem.
    pub rootfs: Definition,
    /// The image config (platform and `config`, and the base image's `history`); the exporter adds
    /// `rootfs` and the history of the layers after the base image's.
    pub config: Vec<u8>,
    /// The exporter.
    pub exporter: String,
    /// Its options (`name`, `push`, `oci-mediatypes`, `compression`).
    pub options: BTreeMap<String, String>,
}

/// A build done by one of the daemon's frontends (`dockerfile.v0` for Dockerfiles).
#[derive(Debug, Clone)]
pub struct FrontendRequest {
    /// The frontend's name.
    pub frontend: String,
    /// Its options (`filename`, `target`, `build-arg:NAME`, `platform`...).
    pub options: BTreeMap<String, String>,
    /// Named inputs (`context`, `dockerfile`) given as graphs instead of local sources.
    pub inputs: BTreeMap<String, Definition>,
}

/// What a frontend produced: the graph of its result (none for an empty result) and metadata such
/// as `containerimage.config`.
#[derive(Debug, Clone, Default)]
pub struct FrontendResult {
    pub definition: Option<pb::Definition>,
    pub metadata: HashMap<String, Vec<u8>>,
}

/// A result the engine holds for the session: a solved graph whose files can be read.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SolvedRef(pub String);

/// Metadata of one file in a solved result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStat {
    /// Path relative to the directory that was read (or the path asked for).
    pub path: String,
    /// Go `os.FileMode` bits, as BuildKit reports them.
    pub mode: u32,
    /// Size in bytes.
    pub size: i64,
    /// Modification time, nanoseconds since the epoch.
    pub mod_time: i64,
}

impl FileStat {
    /// True for directories.
    pub fn is_dir(&self) -> bool {
        self.mode & (1 << 31) != 0
    }
}

/// An image's pinned reference and its config JSON.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    /// `sha256:…` of the manifest for the requested platform.
    pub digest: String,
    /// The OCI image config, as JSON.
    pub config: Vec<u8>,
}

/// Why the engine could not do something.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// Solving failed; `vertex` names the failing op's digest when the daemon said which.
    #[error("{message}")]
    Solve {
        message: String,
        vertex: Option<String>,
    },
    /// A path does not exist in a result.
    #[error("{path}: no such file or directory")]
    NotFound { path: String },
    /// The daemon cannot be reached, or the session with it has ended.
    #[error("BuildKit is unavailable: {message}")]
    Unavailable { message: String },
    /// The daemon lacks something this request needs.
    #[error("{message}")]
    Unsupported { message: String },
    /// Anything else the daemon reported.
    #[error("{message}")]
    Other { message: String },
}

/// The operations the domain performs on the build engine.
#[async_trait]
pub trait Engine: Send + Sync + 'static {
    /// Solves `def` and returns a reference to its result. Identical definitions are solved once.
    async fn solve(&self, def: &Definition) -> Result<SolvedRef, EngineError>;
    /// Solves `def` on its own: not shared with identical solves, not remembered, and outside the
    /// bound on solves at once. For long-running processes (services); dropping the future cancels
    /// the solve on the daemon.
    async fn run(&self, def: &Definition) -> Result<SolvedRef, EngineError> {
        self.solve(def).await
    }
    /// Reads `len` bytes (all when `None`) of `path` in `result`, starting at `offset`.
    async fn read_file(
        &self,
        result: &SolvedRef,
        path: &str,
        offset: u64,
        len: Option<u64>,
    ) -> Result<Vec<u8>, EngineError>;
    /// Lists the directory `path` in `result`.
    async fn read_dir(&self, result: &SolvedRef, path: &str) -> Result<Vec<FileStat>, EngineError>;
    /// Stats `path` in `result`.
    async fn stat(&self, result: &SolvedRef, path: &str) -> Result<FileStat, EngineError>;
    /// Resolves an image reference to a digest and config for `platform`.
    async fn resolve_image(
        &self,
        reference: &str,
        platform: &Platform,
    ) -> Result<ResolvedImage, EngineError>;
    /// Solves `def` and has the daemon's `exporter` (`local` for files, `tar` for one tarball)
    /// send the result to the session's file-send service.
    async fn export(&self, def: &Definition, exporter: &str) -> Result<(), EngineError>;
    /// Runs a frontend build; its result can then be built upon like any other graph.
    async fn frontend_solve(&self, request: FrontendRequest)
    -> Result<FrontendResult, EngineError>;
    /// Has the daemon's image exporter `image.exporter` write `image.rootfs` as an image, one
    /// layer per step of its graph, with credentials from the session where it pushes; returns
    /// what the exporter answered (`containerimage.digest`...). [`EngineError::Unsupported`] when
    /// the daemon has no such exporter (Docker's embedded BuildKit with graph drivers).
    async fn write_image(
        &self,
        image: &ImageWrite,
    ) -> Result<BTreeMap<String, String>, EngineError> {
        Err(EngineError::Unsupported {
            message: format!("this engine has no {} exporter", image.exporter),
        })
    }
    /// Platforms the engine's workers can run, the default first.
    fn platforms(&self) -> Vec<Platform>;
    /// Whether the daemon supports an LLB capability (e.g. `file.copy.includeexcludepatterns`).
    fn supports(&self, capability: &str) -> bool;
}
