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

use std::path::PathBuf;

pub use super::stores::host::{Host, HostDirs};

use super::directory::Directory;
use super::error::CoreResult;
use super::file::File;
use super::patterns::Selection;
use super::socket::Socket;
use super::stores::host::host_error;
use crate::llb::{LocalSource, Platform, State};

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
        Selection::new(&include, &exclude)?;
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
    use crate::core::stores::host::tests::host;

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
    fn special_characters_are_literal() {
        assert_eq!(literal_pattern("a[1]*.txt"), "a\\[1\\]\\*.txt");
    }
}
