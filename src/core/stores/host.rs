//! The session's host: its working directory, the BuildKit session its directories are served
//! through, and the directories and sockets it has handed out. The verbs that read the host
//! (directories, files, sockets) are in [`crate::core::host`].

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::core::error::{CoreError, CoreResult};
use crate::core::socket::SocketRegistry;
use crate::sync::Locked;

/// The host directories a session has handed out, by the name they are served under. The file
/// sync service reads it to know what to send.
#[derive(Debug, Default)]
pub struct HostDirs {
    by_name: Mutex<HashMap<String, PathBuf>>,
}

impl HostDirs {
    /// Registers `path` (absolute) and returns the name it is served under.
    pub(crate) fn register(&self, path: &Path) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(path.as_os_str().as_encoded_bytes());
        let name = format!("host-{}", hex::encode(&digest[..12]));
        self.by_name
            .locked()
            .entry(name.clone())
            .or_insert_with(|| path.to_owned());
        name
    }

    /// The host path served under `name`.
    pub fn path_of(&self, name: &str) -> Option<PathBuf> {
        self.by_name.locked().get(name).cloned()
    }
}

/// What a session may read from its host.
#[derive(Debug)]
pub struct Host {
    pub(crate) workdir: PathBuf,
    pub(crate) session_id: String,
    pub(crate) dirs: Arc<HostDirs>,
    pub(crate) sockets: Arc<SocketRegistry>,
}

pub(crate) fn host_error(path: &str, reason: impl Into<String>) -> CoreError {
    CoreError::InvalidArgument {
        what: "path".into(),
        value: path.to_owned(),
        reason: reason.into(),
    }
}

impl Host {
    /// The host of a session whose BuildKit session is `session_id`, resolving relative paths
    /// against `workdir` and registering directories in `dirs` and sockets in `sockets`.
    pub fn new(
        workdir: PathBuf,
        session_id: String,
        dirs: Arc<HostDirs>,
        sockets: Arc<SocketRegistry>,
    ) -> Self {
        let workdir = std::fs::canonicalize(&workdir).unwrap_or(workdir);
        Host {
            workdir,
            session_id,
            dirs,
            sockets,
        }
    }

    /// The session's working directory.
    pub fn workdir(&self) -> &Path {
        &self.workdir
    }

    /// The absolute host path for `path`: relative paths stay inside the working directory.
    pub fn resolve(&self, path: &str) -> CoreResult<PathBuf> {
        if path.is_empty() {
            return Err(host_error(path, "a host path cannot be empty"));
        }
        if path.contains('\0') {
            return Err(host_error(path, "a host path cannot contain NUL"));
        }
        let given = Path::new(path);
        if given.is_absolute() {
            return Ok(given.to_owned());
        }
        let mut resolved = self.workdir.clone();
        for part in given.components() {
            match part {
                Component::Normal(p) => resolved.push(p),
                Component::CurDir => {}
                Component::ParentDir => {
                    if resolved == self.workdir {
                        return Err(host_error(
                            path,
                            format!(
                                "a relative host path may not leave the working directory {}; use an absolute path",
                                self.workdir.display()
                            ),
                        ));
                    }
                    resolved.pop();
                }
                Component::RootDir | Component::Prefix(_) => {}
            }
        }
        Ok(resolved)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A host for tests, working in `workdir`.
    pub(crate) fn host(workdir: &Path) -> Host {
        Host::new(
            workdir.to_owned(),
            "sess".into(),
            Default::default(),
            Default::default(),
        )
    }

    #[test]
    fn relative_paths_stay_in_the_workdir() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let h = host(tmp.path());
        let w = h.workdir().to_owned();
        assert_eq!(h.resolve("a/b").ok(), Some(w.join("a/b")));
        assert_eq!(h.resolve("./a/../c").ok(), Some(w.join("c")));
        assert_eq!(h.resolve(".").ok(), Some(w.clone()));
        assert_eq!(h.resolve("/etc").ok(), Some(PathBuf::from("/etc")));
        let e = h
            .resolve("../x")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("may not leave the working directory"), "{e}");
        assert!(h.resolve("a/../../x").is_err());
        assert!(h.resolve("").is_err());
    }

    #[test]
    fn one_name_per_path() {
        let dirs = HostDirs::default();
        assert_eq!(
            dirs.register(Path::new("/a")),
            dirs.register(Path::new("/a"))
        );
        assert_ne!(
            dirs.register(Path::new("/a")),
            dirs.register(Path::new("/b"))
        );
    }
}
