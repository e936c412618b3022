//! The container's mount table: what is mounted where (directories, files, caches, temporary
//! directories, secrets, sockets), how paths inside mounts resolve, and how writes to a path
//! inside a mounted directory are rebased into that directory.

use super::owner::{owned, parse_owner};
use super::{Container, copy_to_root};
use crate::core::cache::CacheVolume;
use crate::core::directory::{Directory, copy_file};
use crate::core::error::{CoreError, CoreResult};
use crate::core::file::File;
use crate::core::layers;
use crate::core::paths;
use crate::core::runtime::Runtime;
use crate::core::secret::Secret;
use crate::core::socket::Socket;
use crate::llb::{CacheSharing, FileAction, State};

/// What is mounted at a container path.
#[derive(Debug, Clone, PartialEq)]
pub enum MountSource {
    /// A directory (writable: execs may change it, and later reads see the changes).
    Directory { state: State, dir: String },
    /// A cache volume, optionally seeded from a directory.
    Cache {
        volume: CacheVolume,
        sharing: CacheSharing,
        seed: Option<Directory>,
    },
    /// An empty in-memory filesystem.
    Temp,
    /// A secret, as a read-only file owned by `uid:gid`.
    Secret { secret: Secret, uid: u32, gid: u32 },
    /// A forwarded host unix socket, owned by `uid:gid`.
    Socket { socket: Socket, uid: u32, gid: u32 },
}

/// Mode of mounted secret files (readable by their owner only).
pub const SECRET_FILE_MODE: u32 = 0o400;

/// One mount of a container.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerMount {
    /// Absolute path inside the container.
    pub target: String,
    /// What is mounted there.
    pub source: MountSource,
}

impl Container {
    /// Mounts the file `source` at `path`.
    pub fn with_mounted_file(
        &self,
        path: &str,
        source: &File,
        owner: Option<&str>,
    ) -> CoreResult<Container> {
        let target = self.path("path", path)?;
        let (state, file) = match owner {
            None => (source.state.clone(), source.path.clone()),
            Some(owner) => {
                let name = paths::base_name(&source.path);
                let action = owned(copy_file(source, &format!("/{name}"), None), Some(owner))?;
                let state =
                    State::scratch().file(vec![action], Some(&self.platform), Some("chown".into()));
                (state, format!("/{name}"))
            }
        };
        Ok(self.replace_mount(target, MountSource::Directory { state, dir: file }))
    }

    /// Applies file actions written for container path `target`, to the mount that holds it or to the rootfs.
    pub(super) fn write_at(
        &self,
        target: &str,
        actions: Vec<FileAction>,
        what: String,
    ) -> Container {
        let what = self.step_name(&what);
        let mut next = self.clone();
        if let Some(i) = self.mount_index_for(target)
            && let MountSource::Directory { state, dir } = &self.mounts[i].source
        {
            let rel = paths::strip_root(target, &self.mounts[i].target).unwrap_or("");
            let offset = |p: &str| {
                paths::resolve(
                    dir,
                    paths::strip_root(p, &self.mounts[i].target).unwrap_or(rel),
                )
            };
            let actions = actions
                .into_iter()
                .map(|a| rebase_action(a, &offset))
                .collect();
            next.mounts[i].source = MountSource::Directory {
                state: layers::write_on(state, actions, &self.platform, what),
                dir: dir.clone(),
            };
            return next;
        }
        next.rootfs = layers::write_on(&self.rootfs, actions, &self.platform, what);
        next
    }

    pub(super) fn mount_index_for(&self, path: &str) -> Option<usize> {
        self.mounts
            .iter()
            .enumerate()
            .filter(|(_, m)| paths::strip_root(path, &m.target).is_some())
            .max_by_key(|(_, m)| m.target.len())
            .map(|(i, _)| i)
    }

    pub(super) fn replace_mount(&self, target: String, source: MountSource) -> Container {
        let mut next = self.clone();
        next.mounts.retain(|m| m.target != target);
        next.mounts.push(ContainerMount { target, source });
        next
    }

    /// Mounts a directory at `path`.
    pub fn with_mounted_directory(
        &self,
        path: &str,
        source: &Directory,
        owner: Option<&str>,
    ) -> CoreResult<Container> {
        let target = self.path("path", path)?;
        let source = match owner {
            None => source.clone(),
            Some(owner) => copy_to_root(source, Some(parse_owner(owner)?)),
        };
        Ok(self.replace_mount(
            target,
            MountSource::Directory {
                state: source.state,
                dir: source.dir,
            },
        ))
    }

    /// Mounts a cache volume at `path`.
    pub fn with_mounted_cache(
        &self,
        path: &str,
        volume: &CacheVolume,
        seed: Option<&Directory>,
        sharing: CacheSharing,
        owner: Option<&str>,
    ) -> CoreResult<Container> {
        let target = self.path("path", path)?;
        let seed = match (seed, owner) {
            (Some(s), Some(o)) => Some(copy_to_root(s, Some(parse_owner(o)?))),
            (Some(s), None) => Some(s.clone()),
            (None, Some(o)) => {
                let empty = Directory::empty(self.platform.clone());
                let chown = parse_owner(o)?;
                Some(Directory {
                    state: empty.state.file(
                        vec![FileAction::Mkdir {
                            path: "/cache".into(),
                            mode: 0o755,
                            parents: true,
                            owner: Some(chown),
                        }],
                        Some(&self.platform),
                        None,
                    ),
                    dir: "/cache".into(),
                    platform: self.platform.clone(),
                    pipeline: String::new(),
                })
            }
            (None, None) => None,
        };
        Ok(self.replace_mount(
            target,
            MountSource::Cache {
                volume: volume.clone(),
                sharing,
                seed,
            },
        ))
    }

    /// Mounts an empty in-memory filesystem at `path`.
    pub fn with_mounted_temp(&self, path: &str) -> CoreResult<Container> {
        let target = self.path("path", path)?;
        Ok(self.replace_mount(target, MountSource::Temp))
    }

    /// Sets environment variable `name` to the value of `secret` for the commands that follow.
    pub fn with_secret_variable(&self, name: &str, secret: &Secret) -> CoreResult<Container> {
        if name.is_empty() || name.contains(['=', '\n', '\0']) {
            return Err(CoreError::invalid(
                "variable name",
                name,
                "a variable name cannot be empty or contain '=', NUL or a newline",
            ));
        }
        let mut next = self.clone();
        next.secret_env.retain(|(n, _)| n != name);
        next.secret_env.push((name.to_owned(), secret.clone()));
        Ok(next)
    }

    /// Mounts `secret` as a read-only file at `path`, owned by `owner` (`uid[:gid]` or names from
    /// the container's `/etc/passwd` and `/etc/group`; root when absent).
    pub async fn with_mounted_secret(
        &self,
        rt: &Runtime,
        path: &str,
        secret: &Secret,
        owner: Option<&str>,
    ) -> CoreResult<Container> {
        let target = self.path("path", path)?;
        if target.contains('\n') {
            return Err(CoreError::invalid(
                "path",
                path,
                "a path cannot contain a newline",
            ));
        }
        let (uid, gid) = self.owner_ids(rt, owner).await?;
        Ok(self.replace_mount(
            target,
            MountSource::Secret {
                secret: secret.clone(),
                uid,
                gid,
            },
        ))
    }

    /// Forwards host socket `socket` to `path` in the container, owned by `owner` (as for
    /// [`Container::with_mounted_secret`]).
    pub async fn with_unix_socket(
        &self,
        rt: &Runtime,
        path: &str,
        socket: &Socket,
        owner: Option<&str>,
    ) -> CoreResult<Container> {
        let target = self.path("path", path)?;
        let (uid, gid) = self.owner_ids(rt, owner).await?;
        Ok(self.replace_mount(
            target,
            MountSource::Socket {
                socket: socket.clone(),
                uid,
                gid,
            },
        ))
    }

    /// Stops forwarding the socket at `path`.
    pub fn without_unix_socket(&self, path: &str) -> CoreResult<Container> {
        let target = self.path("path", path)?;
        let mut next = self.clone();
        next.mounts
            .retain(|m| !(m.target == target && matches!(m.source, MountSource::Socket { .. })));
        Ok(next)
    }

    /// Removes the mount at `path`.
    pub fn without_mount(&self, path: &str) -> CoreResult<Container> {
        let target = self.path("path", path)?;
        let mut next = self.clone();
        next.mounts.retain(|m| m.target != target);
        Ok(next)
    }

    /// Paths of the container's mounts.
    pub fn mount_targets(&self) -> Vec<String> {
        self.mounts.iter().map(|m| m.target.clone()).collect()
    }

    pub(super) fn locate(&self, target: &str) -> CoreResult<(State, String)> {
        match self.mount_index_for(target).map(|i| &self.mounts[i]) {
            None => Ok((self.rootfs.clone(), target.to_owned())),
            Some(ContainerMount {
                source: MountSource::Directory { state, dir },
                target: mt,
            }) => Ok((
                state.clone(),
                paths::resolve(dir, paths::strip_root(target, mt).unwrap_or("")),
            )),
            Some(ContainerMount { target: mt, .. }) => Err(CoreError::invalid(
                "path",
                target,
                format!(
                    "it is inside the cache or temporary mount at {mt}, whose contents are not part of the container"
                ),
            )),
        }
    }
}

/// Rewrites the path a file action written for the container writes to into the mounted directory.
fn rebase_action(mut action: FileAction, offset: &impl Fn(&str) -> String) -> FileAction {
    let target = action.target_mut();
    *target = offset(target);
    action
}
