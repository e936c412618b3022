//! Containers: a root filesystem, its runtime configuration, mounts, and the output of the last exec.

use super::cache::CacheVolume;
use super::directory::{Directory, copy_directory, copy_file, new_file_actions};
use super::error::{CoreError, CoreResult};
use super::file::File;
use super::image::{ImageConfig, ImageRef};
use super::layers;
use super::paths;
use super::pipeline::{step_name, sub_pipeline};
use super::runtime::Runtime;
use super::secret::Secret;
use super::socket::Socket;
use crate::llb::{CacheSharing, Chown, FileAction, ImageSource, Platform, State};

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

/// A container: immutable; every `with_*` returns a new one.
#[derive(Debug, Clone, PartialEq)]
pub struct Container {
    /// Root filesystem.
    pub rootfs: State,
    /// Environment, entrypoint, arguments, working directory, user, labels.
    pub config: ImageConfig,
    /// Mounts, in the order they were added.
    pub mounts: Vec<ContainerMount>,
    /// The meta mount of the last exec (its stdout, stderr and exit code).
    pub meta: Option<State>,
    /// Platform the container runs on.
    pub platform: Platform,
    /// The image reference it was created from, pinned by digest when known.
    pub image_ref: Option<String>,
    /// Environment variables whose values are secrets, by name.
    pub secret_env: Vec<(String, Secret)>,
    /// The pipeline the container's steps belong to (`outer / inner`), shown with each step.
    pub pipeline: String,
}

/// A copy action owned by `owner` (`uid[:gid]` or names) when one is given.
fn owned(mut action: FileAction, owner: Option<&str>) -> CoreResult<FileAction> {
    if let (FileAction::Copy { owner: o, .. }, Some(owner)) = (&mut action, owner) {
        *o = Some(parse_owner(owner)?);
    }
    Ok(action)
}

/// Parses an `owner` argument: `uid[:gid]` or `user[:group]`.
pub fn parse_owner(owner: &str) -> CoreResult<Chown> {
    let (user, group) = match owner.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (owner, None),
    };
    if user.is_empty() || group.is_some_and(str::is_empty) {
        return Err(CoreError::invalid(
            "owner",
            owner,
            "expected user[:group], e.g. 1000:1000 or app",
        ));
    }
    match (user.parse::<u32>(), group.map(str::parse::<u32>)) {
        (Ok(uid), None) => Ok(Chown::Ids { uid, gid: uid }),
        (Ok(uid), Some(Ok(gid))) => Ok(Chown::Ids { uid, gid }),
        _ => Ok(Chown::Names {
            user: user.to_owned(),
            group: group.map(str::to_owned),
        }),
    }
}

impl Container {
    /// An empty container on `platform`.
    pub fn scratch(platform: Platform) -> Self {
        Container {
            rootfs: State::scratch(),
            config: ImageConfig::default(),
            mounts: Vec::new(),
            meta: None,
            platform,
            image_ref: None,
            secret_env: Vec::new(),
            pipeline: String::new(),
        }
    }

    /// The container with its next steps in sub-pipeline `name` of its current one.
    pub fn with_pipeline(&self, name: &str) -> CoreResult<Container> {
        let mut next = self.clone();
        next.pipeline = sub_pipeline(&self.pipeline, name)?;
        Ok(next)
    }

    /// How a step of this container is named in progress and traces: `[pipeline] what`.
    pub fn step_name(&self, what: &str) -> String {
        step_name(&self.pipeline, what)
    }

    /// What identifies this container (for IDs).
    pub fn fingerprint(&self) -> String {
        let mounts: Vec<String> = self
            .mounts
            .iter()
            .map(|m| match &m.source {
                MountSource::Directory { state, dir } => {
                    format!("{}=dir:{}:{dir}", m.target, state.key())
                }
                MountSource::Cache {
                    volume,
                    sharing,
                    seed,
                } => {
                    format!(
                        "{}=cache:{}:{sharing:?}:{}",
                        m.target,
                        volume.key,
                        seed.as_ref()
                            .map(Directory::fingerprint)
                            .unwrap_or_default()
                    )
                }
                MountSource::Temp => format!("{}=tmp", m.target),
                MountSource::Secret { secret, uid, gid } => {
                    format!("{}=secret:{}:{uid}:{gid}", m.target, secret.fingerprint())
                }
                MountSource::Socket { socket, uid, gid } => {
                    format!("{}=socket:{}:{uid}:{gid}", m.target, socket.fingerprint())
                }
            })
            .collect();
        let secret_env: Vec<String> = self
            .secret_env
            .iter()
            .map(|(name, secret)| format!("{name}={}", secret.fingerprint()))
            .collect();
        format!(
            "ctr\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.rootfs.key(),
            serde_json::to_string(&self.config).unwrap_or_default(),
            mounts.join("\n"),
            self.meta.as_ref().map(State::key).unwrap_or_default(),
            self.platform,
            self.image_ref.as_deref().unwrap_or_default(),
            secret_env.join("\n"),
        ) + &format!("\npipeline {}", self.pipeline)
    }

    /// The working directory (`/` when unset).
    pub fn workdir(&self) -> &str {
        if self.config.working_dir.is_empty() {
            "/"
        } else {
            &self.config.working_dir
        }
    }

    fn path(&self, what: &str, path: &str) -> CoreResult<String> {
        paths::check(what, path)?;
        Ok(paths::resolve(self.workdir(), path))
    }

    /// Initialises the container from an image.
    pub async fn from(&self, rt: &Runtime, address: &str) -> CoreResult<Container> {
        let reference = ImageRef::parse(address)?;
        let (pinned, config) = rt.resolve_image(&reference, &self.platform).await?;
        let rootfs = ImageSource {
            reference: pinned.to_string(),
            platform: Some(self.platform.clone()),
        }
        .build();
        // Like a new image under the same mounts and secrets: only the filesystem and config change.
        Ok(Container {
            rootfs,
            config,
            meta: None,
            image_ref: Some(pinned.to_string()),
            ..self.clone()
        })
    }

    /// Sets an environment variable (with `$VAR` expansion when `expand`).
    pub fn with_env_variable(
        &self,
        name: &str,
        value: &str,
        expand: bool,
    ) -> CoreResult<Container> {
        if name.is_empty() || name.contains('=') || name.contains('\0') {
            return Err(CoreError::invalid(
                "environment variable name",
                name,
                "it must be non-empty and contain no '=' or NUL",
            ));
        }
        let mut next = self.clone();
        let value = if expand {
            self.config.expand(value)
        } else {
            value.to_owned()
        };
        next.config.set_env(name, &value);
        Ok(next)
    }

    /// Removes an environment variable.
    pub fn without_env_variable(&self, name: &str) -> Container {
        let mut next = self.clone();
        next.config.unset_env(name);
        next
    }

    /// Sets the working directory.
    pub fn with_workdir(&self, path: &str) -> CoreResult<Container> {
        let mut next = self.clone();
        next.config.working_dir = self.path("path", path)?;
        Ok(next)
    }

    /// Sets the user commands run as.
    pub fn with_user(&self, name: &str) -> Container {
        let mut next = self.clone();
        next.config.user = name.to_owned();
        next
    }

    /// Sets the entrypoint.
    pub fn with_entrypoint(&self, args: Vec<String>) -> Container {
        let mut next = self.clone();
        next.config.entrypoint = Some(args);
        next
    }

    /// Sets (or clears, with `None`) the default arguments.
    pub fn with_default_args(&self, args: Option<Vec<String>>) -> Container {
        let mut next = self.clone();
        next.config.cmd = args;
        next
    }

    /// Sets a label.
    pub fn with_label(&self, name: &str, value: &str) -> Container {
        let mut next = self.clone();
        next.config
            .labels
            .get_or_insert_with(Default::default)
            .insert(name.to_owned(), value.to_owned());
        next
    }

    /// Removes a label.
    pub fn without_label(&self, name: &str) -> Container {
        let mut next = self.clone();
        if let Some(l) = next.config.labels.as_mut() {
            l.remove(name);
        }
        next
    }

    /// Writes a file into the root filesystem (or into a mounted directory).
    pub fn with_new_file(
        &self,
        path: &str,
        contents: &str,
        permissions: Option<u32>,
        owner: Option<&str>,
    ) -> CoreResult<Container> {
        let target = self.path("path", path)?;
        let owner = owner.map(parse_owner).transpose()?;
        let actions = new_file_actions(&target, contents, permissions, owner);
        Ok(self.write_at(&target, actions, format!("write {target}")))
    }

    /// Copies a file into the container.
    pub fn with_file(
        &self,
        path: &str,
        source: &File,
        permissions: Option<u32>,
        owner: Option<&str>,
    ) -> CoreResult<Container> {
        let target = self.path("path", path)?;
        let action = owned(copy_file(source, &target, permissions), owner)?;
        Ok(self.write_at(&target, vec![action], format!("copy file to {target}")))
    }

    /// Copies the contents of `source` to `path`, filtered by `include`/`exclude` patterns and
    /// owned by `owner` when given.
    pub fn with_directory(
        &self,
        rt: &Runtime,
        path: &str,
        source: &Directory,
        include: Vec<String>,
        exclude: Vec<String>,
        owner: Option<&str>,
    ) -> CoreResult<Container> {
        let target = self.path("path", path)?;
        let action = owned(
            copy_directory(rt, source, &target, include, exclude)?,
            owner,
        )?;
        Ok(self.write_at(&target, vec![action], format!("copy directory to {target}")))
    }

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
    fn write_at(&self, target: &str, actions: Vec<FileAction>, what: String) -> Container {
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

    fn mount_index_for(&self, path: &str) -> Option<usize> {
        self.mounts
            .iter()
            .enumerate()
            .filter(|(_, m)| paths::strip_root(path, &m.target).is_some())
            .max_by_key(|(_, m)| m.target.len())
            .map(|(i, _)| i)
    }

    fn replace_mount(&self, target: String, source: MountSource) -> Container {
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

    /// Numeric ids for an `owner` argument (root when absent).
    async fn owner_ids(&self, rt: &Runtime, owner: Option<&str>) -> CoreResult<(u32, u32)> {
        match owner {
            None => Ok((0, 0)),
            Some(owner) => match parse_owner(owner)? {
                Chown::Ids { uid, gid } => Ok((uid, gid)),
                Chown::Names { user, group } => self.lookup_ids(rt, &user, group.as_deref()).await,
            },
        }
    }

    /// Resolves user and group names through the container's own `/etc/passwd` and `/etc/group`.
    async fn lookup_ids(
        &self,
        rt: &Runtime,
        user: &str,
        group: Option<&str>,
    ) -> CoreResult<(u32, u32)> {
        let read = |path: &str| File {
            state: self.rootfs.clone(),
            path: path.to_owned(),
            platform: self.platform.clone(),
        };
        let field = |db: &str, name: &str, index: usize| -> Option<u32> {
            db.lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.first() == Some(&name))
                .and_then(|f| f.get(index).and_then(|v| v.parse().ok()))
        };
        let not_found = |what: &str, name: &str| {
            CoreError::invalid(
                "owner",
                name,
                format!("the container has no {what} {name:?}"),
            )
        };
        let passwd = read("/etc/passwd").contents(rt).await?;
        let uid = user
            .parse()
            .ok()
            .or_else(|| field(&passwd, user, 2))
            .ok_or_else(|| not_found("user", user))?;
        let gid = match group {
            None => field(&passwd, user, 3).unwrap_or(uid),
            Some(g) => match g.parse() {
                Ok(gid) => gid,
                Err(_) => {
                    let groups = read("/etc/group").contents(rt).await?;
                    field(&groups, g, 2).ok_or_else(|| not_found("group", g))?
                }
            },
        };
        Ok((uid, gid))
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

    /// The root filesystem as a directory.
    pub fn rootfs_directory(&self) -> Directory {
        Directory {
            state: self.rootfs.clone(),
            dir: "/".into(),
            platform: self.platform.clone(),
            pipeline: self.pipeline.clone(),
        }
    }

    /// Replaces the root filesystem.
    pub fn with_rootfs(&self, dir: &Directory) -> Container {
        let mut next = self.clone();
        next.rootfs = if dir.dir == "/" {
            dir.state.clone()
        } else {
            copy_to_root(dir, None).state
        };
        next
    }

    /// The directory at `path` (in the rootfs or in a mounted directory).
    pub fn directory(&self, path: &str) -> CoreResult<Directory> {
        let target = self.path("path", path)?;
        let (state, dir) = self.locate(&target)?;
        Ok(Directory {
            state,
            dir,
            platform: self.platform.clone(),
            pipeline: self.pipeline.clone(),
        })
    }

    /// The file at `path` (in the rootfs or in a mounted directory).
    pub fn file(&self, path: &str) -> CoreResult<File> {
        let target = self.path("path", path)?;
        let (state, path) = self.locate(&target)?;
        Ok(File {
            state,
            path,
            platform: self.platform.clone(),
        })
    }

    fn locate(&self, target: &str) -> CoreResult<(State, String)> {
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

/// The contents of `source` copied to the root of an empty filesystem, owned by `owner` when given.
fn copy_to_root(source: &Directory, owner: Option<Chown>) -> Directory {
    let description = owner.as_ref().map(|_| "chown".to_owned());
    Directory {
        state: layers::copy_onto_scratch(
            source.state.clone(),
            &source.dir,
            owner,
            &source.platform,
            description,
        ),
        dir: "/".into(),
        platform: source.platform.clone(),
        pipeline: source.pipeline.clone(),
    }
}

/// Rewrites the paths of a file action written for the container into the mounted directory.
fn rebase_action(action: FileAction, offset: &impl Fn(&str) -> String) -> FileAction {
    match action {
        FileAction::Mkdir {
            path,
            mode,
            parents,
            owner,
        } => FileAction::Mkdir {
            path: offset(&path),
            mode,
            parents,
            owner,
        },
        FileAction::Mkfile {
            path,
            mode,
            data,
            owner,
        } => FileAction::Mkfile {
            path: offset(&path),
            mode,
            data,
            owner,
        },
        FileAction::Rm {
            path,
            allow_not_found,
        } => FileAction::Rm {
            path: offset(&path),
            allow_not_found,
        },
        FileAction::Copy {
            from,
            src,
            dest,
            contents_only,
            create_parents,
            owner,
            mode,
            include,
            exclude,
            timestamp,
        } => FileAction::Copy {
            from,
            src,
            dest: offset(&dest),
            contents_only,
            create_parents,
            owner,
            mode,
            include,
            exclude,
            timestamp,
        },
        FileAction::Unpack { from, src, dest } => FileAction::Unpack {
            from,
            src,
            dest: offset(&dest),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners() {
        assert_eq!(
            parse_owner("1000").ok(),
            Some(Chown::Ids {
                uid: 1000,
                gid: 1000
            })
        );
        assert_eq!(parse_owner("1:2").ok(), Some(Chown::Ids { uid: 1, gid: 2 }));
        assert_eq!(
            parse_owner("app:staff").ok(),
            Some(Chown::Names {
                user: "app".into(),
                group: Some("staff".into())
            })
        );
        assert!(parse_owner("").is_err());
        assert!(parse_owner("a:").is_err());
    }

    #[test]
    fn with_methods_do_not_change_the_original() {
        let base = Container::scratch(Platform::linux("amd64"));
        let a = base
            .with_env_variable("A", "1", false)
            .map_err(|e| e.to_string());
        assert_eq!(base.config.env.len(), 0);
        assert_eq!(a.map(|c| c.config.env), Ok(vec!["A=1".to_owned()]));
        assert!(base.with_env_variable("", "1", false).is_err());
        let w = base
            .with_workdir("src")
            .map(|c| c.workdir().to_owned())
            .map_err(|e| e.to_string());
        assert_eq!(w, Ok("/src".into()));
    }

    #[test]
    fn paths_inside_mounts_resolve_into_the_mount() {
        let base = Container::scratch(Platform::linux("amd64"));
        let dir = Directory::empty(Platform::linux("amd64"))
            .with_new_file("a.txt", "x", None)
            .map_err(|e| e.to_string());
        let Ok(dir) = dir else {
            panic!("with_new_file failed")
        };
        let c = base
            .with_mounted_directory("/mnt", &dir, None)
            .map_err(|e| e.to_string());
        let Ok(c) = c else { panic!("mount failed") };
        let f = c.file("/mnt/a.txt").map_err(|e| e.to_string());
        assert_eq!(
            f.map(|f| (f.path, f.state == dir.state)),
            Ok(("/a.txt".to_owned(), true))
        );
        let tmp = c.with_mounted_temp("/tmp").map_err(|e| e.to_string());
        let Ok(tmp) = tmp else {
            panic!("tmp mount failed")
        };
        assert!(tmp.file("/tmp/x").is_err());
        assert_eq!(
            tmp.mount_targets(),
            vec!["/mnt".to_owned(), "/tmp".to_owned()]
        );
    }
}
