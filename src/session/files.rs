//! The directories a session serves to the daemon through filesync: the exec shim (from memory)
//! and the host directories its pipelines use (from disk, listed when the daemon asks).
//!
//! Host files are frozen at their first use in the session, whichever selection first read them:
//! every entry sent is remembered by its absolute host path, with its stat and the sync that sent
//! it. A later sync of the session (other patterns, or another directory holding the same file)
//! lists the entry as first sent, a file changed on disk since then is served as that first sync
//! delivered it (read back from the daemon, which answers that sync from its own result), and a
//! file deleted since is still listed. Files first selected later are read from disk then.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use bollard_buildkit_proto::fsutil::types::Stat;
use bytes::Bytes;
use futures::future::BoxFuture;
use tonic::Status;

use crate::buildkit::attach::filesync::{
    Content, DeferredContent, MemoryTree, SyncEntry, SyncProvider, SyncRequest, go_mode,
};
use crate::buildkit::attach::hostfs;
use crate::core::HostDirs;
use crate::core::patterns::{DirVerdict, Selection, split};
use crate::core::runtime::shim_source_name;
use crate::shim::SHIM_BINARY;
use crate::sync::Locked;

/// One sync: the served directory's name and its patterns (shared by every entry it sent).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SyncSource {
    /// The name the directory is served under.
    pub dir_name: String,
    /// That sync's include patterns.
    pub include: Vec<String>,
    /// That sync's exclude patterns.
    pub exclude: Vec<String>,
}

impl SyncSource {
    /// Whether `request` is this very sync.
    fn is(&self, request: &SyncRequest) -> bool {
        self.dir_name == request.dir_name
            && self.include == request.include
            && self.exclude == request.exclude
    }
}

/// The sync that first delivered a file, and the file's path in its directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyncOrigin {
    /// The sync.
    pub source: Arc<SyncSource>,
    /// The file's path relative to the directory.
    pub rel: String,
}

/// Reads a file as the sync that first delivered it in this session did.
pub(crate) trait FrozenReader: Send + Sync {
    /// The file's bytes as `origin` delivered them.
    fn read(&self, origin: SyncOrigin)
    -> BoxFuture<'static, Result<Bytes, crate::core::CoreError>>;
}

/// One host entry as first sent in this session.
#[derive(Debug, Clone)]
struct Frozen {
    /// Its stat as sent (the path is relative to whichever directory sent it).
    stat: Stat,
    origin: SyncOrigin,
}

/// What the daemon reads for a frozen file that changed on disk since it was first sent.
struct FirstContent {
    origin: SyncOrigin,
    reader: Arc<dyn FrozenReader>,
}

impl std::fmt::Debug for FirstContent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FirstContent({:?})", self.origin)
    }
}

impl DeferredContent for FirstContent {
    fn fetch(&self) -> BoxFuture<'static, Result<Bytes, Status>> {
        let read = self.reader.read(self.origin.clone());
        Box::pin(async move { read.await.map_err(|e| Status::unavailable(e.to_string())) })
    }
}

/// Whether two stats describe the same entry (the path aside).
fn same_entry(a: &Stat, b: &Stat) -> bool {
    a.mode == b.mode
        && a.uid == b.uid
        && a.gid == b.gid
        && a.size == b.size
        && a.mod_time == b.mod_time
        && a.linkname == b.linkname
}

/// Orders relative paths as fsutil's walk does: component by component, each by its bytes, so a
/// directory's contents follow it directly.
fn walk_order(a: &str, b: &str) -> std::cmp::Ordering {
    a.split('/').cmp(b.split('/'))
}

/// Serves the exec shim and the session's host directories.
pub(crate) struct SessionFiles {
    shim: MemoryTree,
    host: Arc<HostDirs>,
    frozen: Mutex<HashMap<PathBuf, Frozen>>,
    reader: OnceLock<Arc<dyn FrozenReader>>,
}

impl SessionFiles {
    /// The files of a new session, with host directories registered in `host`.
    pub(crate) fn new(host: Arc<HostDirs>) -> Self {
        SessionFiles {
            shim: MemoryTree::new(
                shim_source_name(),
                vec![("shim", 0o755, Bytes::from_static(SHIM_BINARY))],
            ),
            host,
            frozen: Mutex::default(),
            reader: OnceLock::new(),
        }
    }

    /// Where frozen files that changed on disk are read back from (set once, when the session's
    /// engine is up; until then such files are served from disk).
    pub(crate) fn set_reader(&self, reader: Arc<dyn FrozenReader>) {
        let _ = self.reader.set(reader);
    }

    /// The walk of `root` for `request`, with every entry this session sent before listed as it
    /// was sent, and every entry it sends now remembered.
    fn frozen_walk(
        &self,
        root: &Path,
        request: &SyncRequest,
        selection: &Selection,
    ) -> Result<Vec<SyncEntry>, Status> {
        let current =
            hostfs::walk(root, selection).map_err(|e| Status::unavailable(e.to_string()))?;
        let mut frozen = self.frozen.locked();
        let source = Arc::new(SyncSource {
            dir_name: request.dir_name.clone(),
            include: request.include.clone(),
            exclude: request.exclude.clone(),
        });
        let origin_of = |rel: &str| SyncOrigin {
            source: source.clone(),
            rel: rel.to_owned(),
        };
        let mut listed: HashSet<String> = HashSet::with_capacity(current.len());
        let mut out = Vec::with_capacity(current.len());
        // A frozen file or link where the disk now has a directory: what is below it is not listed.
        let mut shadowed: Option<String> = None;
        for mut entry in current {
            if let Some(prefix) = &shadowed {
                if entry.stat.path.starts_with(prefix.as_str()) {
                    continue;
                }
                shadowed = None;
            }
            let abs = root.join(&entry.stat.path);
            listed.insert(entry.stat.path.clone());
            match frozen.get(&abs) {
                Some(first) => {
                    let changed = !same_entry(&first.stat, &entry.stat);
                    if entry.stat.mode & go_mode::DIR != 0 && first.stat.mode & go_mode::DIR == 0 {
                        shadowed = Some(format!("{}/", entry.stat.path));
                    }
                    entry.stat = Stat {
                        path: entry.stat.path.clone(),
                        ..first.stat.clone()
                    };
                    if first.stat.mode & go_mode::TYPE_MASK != 0 {
                        entry.content = None;
                    } else if changed && let Some(content) = self.first_content(first, request) {
                        entry.content = Some(content);
                    }
                }
                None => {
                    frozen.insert(
                        abs,
                        Frozen {
                            stat: entry.stat.clone(),
                            origin: origin_of(&entry.stat.path),
                        },
                    );
                }
            }
            out.push(entry);
        }
        // Entries sent earlier in the session that this selection takes but the disk no longer
        // has (or no longer has as that kind of entry) are still part of the tree.
        let mut missing: Vec<SyncEntry> = Vec::new();
        for (abs, first) in frozen.iter() {
            let Ok(rel) = abs.strip_prefix(root) else {
                continue;
            };
            let rel = rel.to_string_lossy().into_owned();
            if rel.is_empty() || listed.contains(&rel) {
                continue;
            }
            let segs = split(&rel);
            let is_dir = first.stat.mode & go_mode::DIR != 0;
            let selected = if is_dir {
                selection.directory(&segs) == DirVerdict::Selected
            } else {
                selection.selects_file(&segs)
            };
            let regular = first.stat.mode & go_mode::TYPE_MASK == 0;
            let content = self.first_content(first, request);
            if !selected || (regular && content.is_none()) {
                continue;
            }
            missing.push(SyncEntry {
                stat: Stat {
                    path: rel,
                    ..first.stat.clone()
                },
                content,
            });
        }
        if missing.is_empty() {
            return Ok(out);
        }
        // Their parent directories, when those are gone from the disk too.
        let mut have: HashSet<String> = listed;
        have.extend(missing.iter().map(|e| e.stat.path.clone()));
        let mut parents = Vec::new();
        for entry in &missing {
            let mut dir = Path::new(&entry.stat.path).parent();
            while let Some(d) = dir.filter(|d| !d.as_os_str().is_empty()) {
                let rel = d.to_string_lossy().into_owned();
                if have.insert(rel.clone()) {
                    let stat = frozen
                        .get(&root.join(&rel))
                        .map(|f| f.stat.clone())
                        .unwrap_or(Stat {
                            mode: go_mode::DIR | 0o755,
                            ..Default::default()
                        });
                    parents.push(SyncEntry {
                        stat: Stat { path: rel, ..stat },
                        content: None,
                    });
                }
                dir = d.parent();
            }
        }
        out.extend(missing);
        out.extend(parents);
        out.sort_by(|a, b| walk_order(&a.stat.path, &b.stat.path));
        Ok(out)
    }

    /// What the daemon reads for a frozen regular file whose disk content may have changed: the
    /// bytes the sync that first sent it delivered. None for other kinds of entry, before the
    /// session's engine is up, and when `request` is that very sync (the daemon syncing it again
    /// gets the disk's content rather than waiting on itself).
    fn first_content(&self, first: &Frozen, request: &SyncRequest) -> Option<Content> {
        if first.stat.mode & go_mode::TYPE_MASK != 0 {
            return None;
        }
        if first.origin.source.is(request) {
            return None;
        }
        self.reader.get().map(|reader| {
            Content::Deferred(Arc::new(FirstContent {
                origin: first.origin.clone(),
                reader: reader.clone(),
            }))
        })
    }
}

impl SyncProvider for SessionFiles {
    fn entries(&self, request: &SyncRequest) -> Result<Vec<SyncEntry>, Status> {
        if request.dir_name == self.shim.name() {
            return Ok(self.shim.entries().to_vec());
        }
        let Some(root) = self.host.path_of(&request.dir_name) else {
            return Err(Status::not_found(format!(
                "this session serves no local directory named {:?}",
                request.dir_name
            )));
        };
        let selection = Selection::new(&request.include, &request.exclude)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        self.frozen_walk(&root, request, &selection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_order_puts_a_directorys_contents_right_after_it() {
        let mut paths = vec!["a.txt", "a/b", "a", "z", "a/b/c", "a-b"];
        paths.sort_by(|a, b| walk_order(a, b));
        assert_eq!(paths, ["a", "a/b", "a/b/c", "a-b", "a.txt", "z"]);
    }
}
