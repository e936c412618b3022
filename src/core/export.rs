//! Exports to the host. The daemon sends exported files to the session (its file-send service),
//! which writes them into a fresh staging directory next to the destination; only when the export
//! has fully arrived is it moved into place, so a failed export leaves the destination as it was.
//! The staging itself is the session's export slot ([`super::stores::exports`]).

use std::path::{Path, PathBuf};

use super::directory::{Directory, copy_file};
use super::error::{CoreError, CoreResult};
use super::file::File;
use super::paths;
use super::runtime::Runtime;
use super::stores::exports::{Received, export_error, staging_dir};
use crate::llb::State;

/// Moves everything in `from` into directory `into` (created if missing): entries replace
/// same-named ones, directories merge.
pub fn merge_into(from: &Path, into: &Path) -> CoreResult<()> {
    let io = |e: std::io::Error, p: &Path| export_error(into, format!("{}: {e}", p.display()));
    match std::fs::symlink_metadata(into) {
        Ok(md) if md.is_dir() => {}
        Ok(_) => {
            return Err(export_error(into, "it exists and is not a directory"));
        }
        Err(_) => return std::fs::rename(from, into).map_err(|e| io(e, into)),
    }
    for entry in std::fs::read_dir(from).map_err(|e| io(e, from))? {
        let entry = entry.map_err(|e| io(e, from))?;
        let src = entry.path();
        let dst = into.join(entry.file_name());
        let src_is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        match std::fs::symlink_metadata(&dst) {
            Ok(md) if md.is_dir() && src_is_dir => merge_into(&src, &dst)?,
            Ok(md) if md.is_dir() => {
                std::fs::remove_dir_all(&dst).map_err(|e| io(e, &dst))?;
                std::fs::rename(&src, &dst).map_err(|e| io(e, &dst))?;
            }
            _ => std::fs::rename(&src, &dst).map_err(|e| io(e, &dst))?,
        }
    }
    Ok(())
}

/// Exports `state` (an existing filesystem) with the daemon's `exporter` into a staging directory
/// beside `dest`, then installs what arrived with `install`. The `local` exporter sends a file
/// tree; the others send one tarball ([`TARBALL_NAME`]).
pub(crate) async fn export_state(
    rt: &Runtime,
    state: &State,
    dest: &Path,
    what: &str,
    exporter: &str,
    install: impl FnOnce(&Path) -> CoreResult<()>,
) -> CoreResult<()> {
    let (state, _services) = rt.with_services(state).await?;
    let def = state.marshal();
    let received = if exporter == "local" {
        Received::Tree
    } else {
        Received::Tarball
    };
    rt.exports()
        .run(
            dest,
            received,
            || async {
                let Some(def) = def else { return Ok(()) };
                rt.engine().export(&def, exporter).await.map_err(|e| {
                    CoreError::engine(format!("exporting {what} to {}", dest.display()), e)
                })
            },
            install,
        )
        .await
}

/// A scratch directory, removed with everything in it when dropped.
pub struct WorkDir(pub PathBuf);

impl WorkDir {
    /// A fresh scratch directory under the system's temporary directory.
    pub fn temporary() -> CoreResult<WorkDir> {
        staging_dir(&std::env::temp_dir().join("dirk")).map(WorkDir)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Directory {
    /// Writes the directory's contents into host directory `path` (created if missing; files of the
    /// same name are replaced, others are kept).
    pub async fn export(&self, rt: &Runtime, path: &str) -> CoreResult<()> {
        let dest = rt.host()?.resolve(path)?;
        self.sync(rt).await?;
        let state = self.rooted("export");
        export_state(rt, &state, &dest, "directory", "local", |staging| {
            merge_into(staging, &dest)
        })
        .await
    }
}

impl File {
    /// Writes the file to host path `path`; with `allow_parent_dir`, `path` may be an existing
    /// directory to write the file into under its own name.
    pub async fn export(&self, rt: &Runtime, path: &str, allow_parent_dir: bool) -> CoreResult<()> {
        let mut dest = rt.host()?.resolve(path)?;
        self.sync(rt).await?;
        let name = paths::base_name(&self.path);
        if dest.is_dir() {
            if !allow_parent_dir {
                return Err(export_error(
                    &dest,
                    "it is a directory; pass allowParentDirPath to write the file into it",
                ));
            }
            dest = dest.join(name);
        }
        let state = State::scratch().file(
            vec![copy_file(self, &format!("/{name}"), None)],
            Some(&self.platform),
            Some(format!("export {}", self.path)),
        );
        export_state(rt, &state, &dest, "file", "local", |staging| {
            std::fs::rename(staging.join(name), &dest).map_err(|e| {
                export_error(&dest, format!("moving the exported file into place: {e}"))
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::stores::exports::ExportSlot;

    #[test]
    fn merge_replaces_files_and_keeps_others() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let (from, into) = (tmp.path().join("from"), tmp.path().join("into"));
        for (root, rel, body) in [
            (&from, "a.txt", "new"),
            (&from, "sub/b.txt", "new b"),
            (&into, "a.txt", "old"),
            (&into, "sub/c.txt", "kept"),
            (&into, "d.txt", "kept too"),
        ] {
            let p = root.join(rel);
            let _ = std::fs::create_dir_all(p.parent().unwrap_or(root));
            let _ = std::fs::write(p, body);
        }
        assert!(merge_into(&from, &into).is_ok());
        let read = |rel: &str| std::fs::read_to_string(into.join(rel)).unwrap_or_default();
        assert_eq!(read("a.txt"), "new");
        assert_eq!(read("sub/b.txt"), "new b");
        assert_eq!(read("sub/c.txt"), "kept");
        assert_eq!(read("d.txt"), "kept too");
        // A missing destination is the staging directory, renamed.
        let fresh = tmp.path().join("fresh");
        let _ = std::fs::create_dir_all(tmp.path().join("from2"));
        assert!(merge_into(&tmp.path().join("from2"), &fresh).is_ok());
        assert!(fresh.is_dir());
    }

    #[tokio::test]
    async fn a_failed_transfer_leaves_nothing_behind() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dest = tmp.path().join("out");
        let slot = ExportSlot::default();
        let r = slot
            .run(
                &dest,
                Received::Tree,
                || async {
                    let staging = slot.staging().map(|s| s.0).unwrap_or_default();
                    let _ = std::fs::write(staging.join("half"), "x");
                    Err(CoreError::Unsupported("daemon went away".into()))
                },
                |_| Ok(()),
            )
            .await;
        assert!(r.is_err());
        assert!(!dest.exists());
        let leftovers = std::fs::read_dir(tmp.path())
            .map(|d| d.count())
            .unwrap_or(99);
        assert_eq!(leftovers, 0);
        assert!(slot.staging().is_none());
    }
}
