//! The user's machine as pipelines see it: host directories and files, named by path and synced
//! into the daemon by the session's file sync service. Relative paths resolve against the session's
//! working directory and may not leave it; absolute paths are taken as given.
//!
//! Each host directory is served under a name derived from its absolute path, and that name is
//! also the daemon's shared-key hint, so a later session syncing the same path transfers only what
//! changed. Within a session a directory's graph is always the same, so the daemon syncs it once,
//! at first use, and the session keeps seeing that content. Each file is frozen too, whichever
//! selection first read it: the session's file sync service lists a file as it first sent it, and
//! serves its first content, for every later selection of the session (see `session::files`).

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Mutex;

use super::directory::Directory;
use super::error::{CoreError, CoreResult};
use super::file::File;
use super::patterns::Selection;
use super::socket::{Socket, SocketRegistry};
use crate::llb::{LocalSource, Platform, State};

/// The host directories a session has handed out, by the name they are served under. The file
/// sync service reads it to know what to send.
#[derive(Debug, Default)]
pub struct HostDirs {
    by_name: Mutex<HashMap<String, PathBuf>>,
}

impl HostDirs {
    /// Registers `path` (absolute) and returns the name it is served under.
    fn register(&self, path: &Path) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(path.as_os_str().as_encoded_bytes());
        let name = format!("host-{}", hex::encode(&digest[..12]));
        if let Ok(mut map) = self.by_name.lock() {
            map.entry(name.clone()).or_insert_with(|| path.to_owned());
        }
        name
    }

    /// The host path served under `name`.
    pub fn path_of(&self, name: &str) -> Option<PathBuf> {
        self.by_name.lock().ok()?.get(name).cloned()
    }
}

/// What a session may read from its host.
#[derive(Debug)]
pub struct Host {
    workdir: PathBuf,
    session_id: String,
    dirs: std::sync::Arc<HostDirs>,
    sockets: std::sync::Arc<SocketRegistry>,
}

fn host_error(path: &str, reason: impl Into<String>) -> CoreError {
    CoreError::InvalidArgument {
        what: "path".into(),
        value: path.to_owned(),
        reason: reason.into(),
    }
}

/// Escapes pattern syntax so that `name` matches only itself.
fn literal_pattern(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\' | '!') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl Host {
    /// The host of a session whose BuildKit session is `session_id`, resolving relative paths
    /// against `workdir` and registering directories in `dirs` and sockets in `sockets`.
    pub fn new(
        workdir: PathBuf,
        session_id: String,
        dirs: std::sync::Arc<HostDirs>,
        sockets: std::sync::Arc<SocketRegistry>,
    ) -> Self {
        let workdir = std::fs::canonicalize(&workdir).unwrap_or(workdir);
        Host {
            workdir,
            session_id,
            dirs,
            sockets,
        }
    }

    /// The host unix socket at `path`, to forward into containers.
    pub fn unix_socket(&self, path: &str) -> CoreResult<Socket> {
        use std::os::unix::fs::FileTypeExt;
        let abs = self.resolve(path)?;
        match std::fs::metadata(&abs) {
            Ok(md) if md.file_type().is_socket() => Ok(self.sockets.register(&abs)),
            Ok(_) => Err(host_error(
                path,
                format!("{} is not a unix socket", abs.display()),
            )),
            Err(e) => Err(host_error(
                path,
                format!("cannot read host socket {}: {e}", abs.display()),
            )),
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

    /// The absolute path of `path`, which must exist and be a directory (`dir`) or not.
    fn existing(&self, path: &str, dir: bool) -> CoreResult<PathBuf> {
        let abs = self.resolve(path)?;
        let what = if dir { "directory" } else { "file" };
        match std::fs::metadata(&abs) {
            Ok(md) if md.is_dir() == dir => Ok(abs),
            Ok(_) if dir => Err(host_error(
                path,
                format!("{} is not a directory", abs.display()),
            )),
            Ok(_) => Err(host_error(
                path,
                format!("{} is a directory; use Host.directory", abs.display()),
            )),
            Err(e) => Err(host_error(
                path,
                format!("cannot read host {what} {}: {e}", abs.display()),
            )),
        }
    }

    /// The host directory at `path`, limited by `.dockerignore`-style `include`/`exclude` patterns.
    pub fn directory(
        &self,
        path: &str,
        include: Vec<String>,
        exclude: Vec<String>,
        platform: &Platform,
    ) -> CoreResult<Directory> {
        let abs = self.existing(path, true)?;
        Selection::new(&include, &exclude).map_err(|e| CoreError::InvalidArgument {
            what: "pattern".into(),
            value: e.pattern.clone(),
            reason: e.reason,
        })?;
        let name = self.dirs.register(&abs);
        let state = self.synced_source(&name, include, exclude);
        Ok(Directory {
            state,
            dir: "/".into(),
            platform: platform.clone(),
            pipeline: String::new(),
        })
    }

    /// The daemon's source for the host directory served as `name`, selected by `include` and
    /// `exclude`. It is the same graph each time it is asked for, so within a session the daemon
    /// answers it from its first sync: what that sync delivered stays readable however the host
    /// has changed since.
    pub fn synced_source(&self, name: &str, include: Vec<String>, exclude: Vec<String>) -> State {
        let shown = self
            .dirs
            .path_of(name)
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| name.to_owned());
        LocalSource {
            shared_key_hint: Some(name.to_owned()),
            session_id: Some(self.session_id.clone()),
            description: Some(format!("host directory {shown}")),
            include,
            exclude,
            name: name.to_owned(),
        }
        .build()
    }

    /// The host file at `path` (synced alone: its directory's other files are not sent).
    pub fn file(&self, path: &str, platform: &Platform) -> CoreResult<File> {
        let abs = self.existing(path, false)?;
        let (Some(parent), Some(name)) = (abs.parent(), abs.file_name()) else {
            return Err(host_error(path, "not a file path"));
        };
        let name = name.to_string_lossy().into_owned();
        let parent = parent.to_string_lossy().into_owned();
        let dir = self.directory(&parent, vec![literal_pattern(&name)], vec![], platform)?;
        dir.file(&name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(workdir: &Path) -> Host {
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
    fn missing_and_mistyped_paths_are_named() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let _ = std::fs::write(tmp.path().join("f"), "x");
        let h = host(tmp.path());
        let p = Platform::linux("amd64");
        let e = h
            .directory("nope", vec![], vec![], &p)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("nope"), "{e}");
        assert!(h.directory("f", vec![], vec![], &p).is_err());
        assert!(h.file(".", &p).is_err());
        assert!(h.file("f", &p).is_ok());
        let e = h
            .directory(".", vec!["[".into()], vec![], &p)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("\"[\""), "{e}");
    }

    #[test]
    fn one_name_per_path_and_special_characters_are_literal() {
        let dirs = HostDirs::default();
        assert_eq!(
            dirs.register(Path::new("/a")),
            dirs.register(Path::new("/a"))
        );
        assert_ne!(
            dirs.register(Path::new("/a")),
            dirs.register(Path::new("/b"))
        );
        assert_eq!(literal_pattern("a[1]*.txt"), "a\\[1\\]\\*.txt");
    }
}
