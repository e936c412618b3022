//! Where the session's file-send service writes the export in progress: a fresh staging directory
//! next to the destination, filled by the daemon and moved into place only when complete. Exports
//! of one session run one at a time: older daemons do not say which export a transfer belongs to.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::core::error::{CoreError, CoreResult};
use crate::sync::Locked;

/// The file a tarball export is received into, inside the staging directory.
pub const TARBALL_NAME: &str = "export.tar";

/// What an export sends: a file tree (the local exporter) or one tarball.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Files, by DiffCopy, into the staging directory.
    Tree,
    /// A byte stream, into [`TARBALL_NAME`] in the staging directory.
    Tarball,
}

/// Where the session's file-send service writes the transfer in progress.
#[derive(Debug, Default)]
pub struct ExportSlot {
    turn: tokio::sync::Mutex<()>,
    staging: Mutex<Option<(PathBuf, Received)>>,
}

impl ExportSlot {
    /// The staging directory of the export in progress and what it receives, if any.
    pub fn staging(&self) -> Option<(PathBuf, Received)> {
        self.staging.locked().clone()
    }

    /// Runs `transfer` with a fresh staging directory next to `dest` (the daemon fills it with
    /// `received`), then hands the filled directory to `install`. The staging directory is always
    /// removed.
    pub async fn run<F, Fut, I>(
        &self,
        dest: &Path,
        received: Received,
        transfer: F,
        install: I,
    ) -> CoreResult<()>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = CoreResult<()>>,
        I: FnOnce(&Path) -> CoreResult<()>,
    {
        let _turn = self.turn.lock().await;
        let staging = staging_dir(dest)?;
        *self.staging.locked() = Some((staging.clone(), received));
        let result = match transfer().await {
            Ok(()) => install(&staging),
            Err(e) => Err(e),
        };
        *self.staging.locked() = None;
        let _ = std::fs::remove_dir_all(&staging);
        result
    }
}

pub(crate) fn export_error(dest: &Path, reason: impl std::fmt::Display) -> CoreError {
    CoreError::invalid(
        "export path",
        dest.display().to_string(),
        reason.to_string(),
    )
}

/// A new, empty directory beside `dest` (same filesystem, so moving out of it is a rename).
pub(crate) fn staging_dir(dest: &Path) -> CoreResult<PathBuf> {
    let parent = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("/"));
    std::fs::create_dir_all(parent)
        .map_err(|e| export_error(dest, format!("cannot create {}: {e}", parent.display())))?;
    for attempt in 0..100u32 {
        let name = format!(
            ".dirk-export-{}-{attempt}",
            std::process::id() ^ rand::random::<u32>()
        );
        let path = parent.join(name);
        match std::fs::create_dir(&path) {
            Ok(()) => return Ok(path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(export_error(
                    dest,
                    format!("cannot write in {}: {e}", parent.display()),
                ));
            }
        }
    }
    Err(export_error(dest, "cannot create a staging directory"))
}
