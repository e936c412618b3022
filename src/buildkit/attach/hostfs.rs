//! Lists a host directory the way fsutil's walker does for DiffCopy: depth first, entries of a
//! directory in byte order of their names, directories before their contents, paths relative and
//! slash-separated, modes in Go's `os.FileMode` form, real owners and modification times, symlinks
//! as links, a second name of a hard-linked file as a link to the first. Include and exclude
//! patterns select what is listed; a directory that is not itself selected is listed only when
//! something below it is.

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use bollard_buildkit_proto::fsutil::types::Stat;

use super::filesync::{Content, SyncEntry, go_mode};
use crate::core::patterns::{DirVerdict, Selection, split};

/// A host directory that cannot be listed.
#[derive(Debug, thiserror::Error)]
#[error("reading {}: {source}", path.display())]
pub struct WalkError {
    /// The path that failed.
    pub path: PathBuf,
    /// Why.
    pub source: std::io::Error,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> WalkError + '_ {
    move |source| WalkError {
        path: path.to_owned(),
        source,
    }
}

/// Go's `os.FileMode` for a unix `st_mode`.
pub fn go_file_mode(st_mode: u32) -> u32 {
    let mut mode = st_mode & 0o777;
    mode |= match st_mode & libc_mode::IFMT {
        libc_mode::IFDIR => go_mode::DIR,
        libc_mode::IFLNK => go_mode::SYMLINK,
        libc_mode::IFIFO => go_mode::NAMED_PIPE,
        libc_mode::IFSOCK => go_mode::SOCKET,
        libc_mode::IFBLK => go_mode::DEVICE,
        libc_mode::IFCHR => go_mode::DEVICE | go_mode::CHAR_DEVICE,
        _ => 0,
    };
    if st_mode & libc_mode::ISUID != 0 {
        mode |= go_mode::SETUID;
    }
    if st_mode & libc_mode::ISGID != 0 {
        mode |= go_mode::SETGID;
    }
    if st_mode & libc_mode::ISVTX != 0 {
        mode |= go_mode::STICKY;
    }
    mode
}

/// The POSIX `st_mode` bits (fixed by POSIX; spelled out to avoid a libc dependency).
mod libc_mode {
    pub(super) const IFMT: u32 = 0o170000;
    pub(super) const IFSOCK: u32 = 0o140000;
    pub(super) const IFLNK: u32 = 0o120000;
    pub(super) const IFBLK: u32 = 0o060000;
    pub(super) const IFDIR: u32 = 0o040000;
    pub(super) const IFCHR: u32 = 0o020000;
    pub(super) const IFIFO: u32 = 0o010000;
    pub(super) const ISUID: u32 = 0o4000;
    pub(super) const ISGID: u32 = 0o2000;
    pub(super) const ISVTX: u32 = 0o1000;
}

fn stat_of(rel: &str, path: &Path, md: &std::fs::Metadata) -> Result<Stat, WalkError> {
    let kind = md.mode() & libc_mode::IFMT;
    let linkname = if kind == libc_mode::IFLNK {
        let target = std::fs::read_link(path).map_err(io_err(path))?;
        String::from_utf8_lossy(target.as_os_str().as_bytes()).into_owned()
    } else {
        String::new()
    };
    let rdev = md.rdev();
    let (major, minor) = if kind == libc_mode::IFBLK || kind == libc_mode::IFCHR {
        // glibc's encoding of dev_t.
        (
            ((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff),
            (rdev & 0xff) | ((rdev >> 12) & !0xff),
        )
    } else {
        (0, 0)
    };
    Ok(Stat {
        path: rel.to_owned(),
        mode: go_file_mode(md.mode()),
        uid: md.uid(),
        gid: md.gid(),
        size: if kind == libc_mode::IFDIR {
            0
        } else {
            md.size() as i64
        },
        mod_time: md.mtime() * 1_000_000_000 + md.mtime_nsec(),
        linkname,
        devmajor: major as i64,
        devminor: minor as i64,
        xattrs: Default::default(),
    })
}

/// One directory being walked.
struct Frame {
    rel: String,
    abs: PathBuf,
    names: std::vec::IntoIter<std::ffi::OsString>,
    /// The directory's stat while it waits to be sent (it is sent before its first sent child).
    pending: Option<Stat>,
}

fn sorted_names(dir: &Path) -> Result<Vec<std::ffi::OsString>, WalkError> {
    let mut names = std::fs::read_dir(dir)
        .map_err(io_err(dir))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_err(dir))?;
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

/// Lists `root` (which must be a directory) as DiffCopy entries, selected by `selection`.
pub fn walk(root: &Path, selection: &Selection) -> Result<Vec<SyncEntry>, WalkError> {
    let mut out: Vec<SyncEntry> = Vec::new();
    let mut first_link: HashMap<(u64, u64), String> = HashMap::new();
    let mut stack = vec![Frame {
        rel: String::new(),
        abs: root.to_owned(),
        names: sorted_names(root)?.into_iter(),
        pending: None,
    }];
    // Sends the pending directories on the stack (outermost first), then `entry`.
    let emit = |stack: &mut Vec<Frame>, out: &mut Vec<SyncEntry>, entry: Option<SyncEntry>| {
        for frame in stack.iter_mut() {
            if let Some(stat) = frame.pending.take() {
                out.push(SyncEntry {
                    stat,
                    content: None,
                });
            }
        }
        out.extend(entry);
    };
    while let Some(frame) = stack.last_mut() {
        let Some(name) = frame.names.next() else {
            stack.pop();
            continue;
        };
        let name = String::from_utf8_lossy(name.as_bytes()).into_owned();
        let rel = if frame.rel.is_empty() {
            name.clone()
        } else {
            format!("{}/{name}", frame.rel)
        };
        let abs = frame.abs.join(&name);
        let md = std::fs::symlink_metadata(&abs).map_err(io_err(&abs))?;
        let segs = split(&rel);
        let stat = stat_of(&rel, &abs, &md)?;
        if md.is_dir() {
            match selection.directory(&segs) {
                DirVerdict::Skip => continue,
                verdict => {
                    let names = sorted_names(&abs)?.into_iter();
                    let selected = verdict == DirVerdict::Selected;
                    stack.push(Frame {
                        rel,
                        abs,
                        names,
                        pending: Some(stat),
                    });
                    if selected {
                        emit(&mut stack, &mut out, None);
                    }
                }
            }
            continue;
        }
        if !selection.selects_file(&segs) || md.mode() & libc_mode::IFMT == libc_mode::IFSOCK {
            continue;
        }
        let mut stat = stat;
        let content = if md.is_file() {
            match first_link.get(&(md.dev(), md.ino())) {
                Some(first) if md.nlink() > 1 => {
                    stat.linkname = first.clone();
                    None
                }
                _ => {
                    if md.nlink() > 1 {
                        first_link.insert((md.dev(), md.ino()), rel.clone());
                    }
                    Some(Content::Path(abs))
                }
            }
        } else {
            None
        };
        emit(&mut stack, &mut out, Some(SyncEntry { stat, content }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tree() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let p = dir.path();
        let write = |rel: &str, body: &str| {
            let path = p.join(rel);
            if let Some(parent) = path.parent() {
                let _ = std::fs::create_dir_all(parent);
            }
            let _ = std::fs::write(path, body);
        };
        write("a.txt", "a");
        write("a/b.txt", "b");
        write("a/c/d.rs", "d");
        write("z/keep.md", "k");
        write("z/drop.md", "x");
        let _ = std::fs::create_dir_all(p.join("empty"));
        let _ = std::os::unix::fs::symlink("a.txt", p.join("link"));
        let _ = std::fs::hard_link(p.join("a.txt"), p.join("hard.txt"));
        let _ =
            std::fs::set_permissions(p.join("a/b.txt"), std::fs::Permissions::from_mode(0o4751));
        dir
    }

    fn paths(entries: &[SyncEntry]) -> Vec<&str> {
        entries.iter().map(|e| e.stat.path.as_str()).collect()
    }

    fn listing(root: &Path, include: &[&str], exclude: &[&str]) -> Vec<SyncEntry> {
        let own = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let selection = Selection::new(&own(include), &own(exclude)).unwrap_or_default();
        walk(root, &selection).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn walk_order_is_fsutils() {
        let t = tree();
        let all = listing(t.path(), &[], &[]);
        assert_eq!(
            paths(&all),
            vec![
                "a",
                "a/b.txt",
                "a/c",
                "a/c/d.rs",
                "a.txt",
                "empty",
                "hard.txt",
                "link",
                "z",
                "z/drop.md",
                "z/keep.md"
            ]
        );
        let by_path: HashMap<&str, &Stat> = all
            .iter()
            .map(|e| (e.stat.path.as_str(), &e.stat))
            .collect();
        assert_eq!(by_path["a"].mode & go_mode::DIR, go_mode::DIR);
        assert_eq!(by_path["a/b.txt"].mode, 0o751 | go_mode::SETUID);
        assert_eq!(by_path["link"].mode & go_mode::SYMLINK, go_mode::SYMLINK);
        assert_eq!(by_path["link"].linkname, "a.txt");
        // The first name of a hard-linked file carries the content; the second links to it.
        assert_eq!(by_path["a.txt"].linkname, "");
        assert_eq!(by_path["hard.txt"].linkname, "a.txt");
        assert!(by_path["a.txt"].mod_time > 1_000_000_000 * 1_000_000_000);
        assert_eq!(by_path["a/c/d.rs"].size, 1);
    }

    #[test]
    fn patterns_select_with_parents_sent_lazily() {
        let t = tree();
        let rs = listing(t.path(), &["**/*.rs"], &[]);
        assert_eq!(paths(&rs), vec!["a", "a/c", "a/c/d.rs"]);
        let no_md = listing(t.path(), &[], &["**/*.md", "!z/keep.md", "a"]);
        assert_eq!(
            paths(&no_md),
            vec!["a.txt", "empty", "hard.txt", "link", "z", "z/keep.md"]
        );
        let only_z = listing(t.path(), &["z"], &["z/drop.md"]);
        assert_eq!(paths(&only_z), vec!["z", "z/keep.md"]);
    }

    #[test]
    fn unreadable_roots_name_the_path() {
        let e = walk(Path::new("/nonexistent/dirk"), &Selection::default()).err();
        assert!(
            e.map(|e| e.to_string())
                .unwrap_or_default()
                .contains("/nonexistent/dirk")
        );
    }
}
