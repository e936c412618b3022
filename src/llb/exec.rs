//! Exec ops: run a process over a root filesystem and a set of mounts.

use super::node::{Inputs, Node, OpKind, State};
use super::pb;
use super::platform::Platform;

/// How concurrent users of one cache mount share it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum CacheSharing {
    /// Everyone writes to the same directory at the same time.
    Shared,
    /// Each concurrent user gets its own copy.
    Private,
    /// One user at a time; others wait.
    Locked,
}

impl CacheSharing {
    fn to_pb(self) -> i32 {
        match self {
            CacheSharing::Shared => pb::CacheSharingOpt::Shared as i32,
            CacheSharing::Private => pb::CacheSharingOpt::Private as i32,
            CacheSharing::Locked => pb::CacheSharingOpt::Locked as i32,
        }
    }
}

/// What is mounted at a path of an exec.
#[derive(Debug, Clone)]
pub enum MountKind {
    /// A bind mount of (a sub-path of) another state.
    Bind(State),
    /// A persistent cache directory identified by `id`, optionally seeded from `source`.
    Cache {
        id: String,
        sharing: CacheSharing,
        source: Option<State>,
    },
    /// An in-memory filesystem.
    Tmpfs { size_bytes: i64 },
    /// A secret served by the client session, as a file.
    Secret {
        id: String,
        uid: u32,
        gid: u32,
        mode: u32,
    },
    /// A unix socket forwarded from the client session.
    Ssh {
        id: String,
        uid: u32,
        gid: u32,
        mode: u32,
    },
}

/// One mount of an exec.
#[derive(Debug, Clone)]
pub struct Mount {
    /// Where it appears inside the container.
    pub dest: String,
    /// What is mounted.
    pub kind: MountKind,
    /// Path inside the source state to mount (bind and cache seeds only).
    pub selector: String,
    /// Read-only mounts produce no output.
    pub readonly: bool,
}

impl Mount {
    /// A writable bind mount of `state` at `dest`.
    pub fn bind(dest: impl Into<String>, state: State, selector: impl Into<String>) -> Self {
        Mount {
            dest: dest.into(),
            kind: MountKind::Bind(state),
            selector: selector.into(),
            readonly: false,
        }
    }

    /// Makes this mount read-only.
    pub fn readonly(mut self) -> Self {
        self.readonly = true;
        self
    }

    fn has_output(&self) -> bool {
        !self.readonly && matches!(self.kind, MountKind::Bind(_))
    }
}

/// A process to run. Build it with the fields, then call [`Exec::build`].
#[derive(Debug, Clone, Default)]
pub struct Exec {
    /// argv; `args[0]` is looked up in the container's `PATH`.
    pub args: Vec<String>,
    /// `NAME=value` pairs.
    pub env: Vec<String>,
    /// Working directory (absolute).
    pub cwd: String,
    /// `user[:group]`, empty for the image default.
    pub user: String,
    /// The root filesystem.
    pub rootfs: Option<State>,
    /// Further mounts, in order.
    pub mounts: Vec<Mount>,
    /// Secrets exposed as environment variables: (variable name, secret id).
    pub secret_env: Vec<(String, String)>,
    /// Run with extended privileges (`security.insecure`).
    pub insecure: bool,
    /// Platform to run on.
    pub platform: Option<Platform>,
    /// Name shown in progress output.
    pub description: Option<String>,
    /// Never take this exec from the cache.
    pub ignore_cache: bool,
    /// The host name the process sees (`None`: the daemon's default).
    pub hostname: Option<String>,
    /// Names added to the process's `/etc/hosts`.
    pub hosts: Vec<ExtraHost>,
}

/// A name added to an exec's `/etc/hosts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtraHost {
    /// The name.
    pub name: String,
    /// What it points at.
    pub addr: HostAddr,
}

/// What an extra host name points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostAddr {
    /// A fixed IP address.
    Ip(String),
    /// The address of the service with this hostname, known only once it runs: the graph must be
    /// given the address ([`State::with_service_addrs`]) before it is solved.
    Service(String),
}

/// What a service's address reads as in a graph that has not been given it. Not an IP: a daemon
/// sent such a graph by mistake fails the step instead of running it against a wrong address.
pub(crate) fn unresolved_addr(hostname: &str) -> String {
    format!("service:{hostname}")
}

/// The outputs of a built exec: the root filesystem and each writable mount.
#[derive(Debug, Clone)]
pub struct ExecOutputs {
    root: State,
    mounts: Vec<(String, State)>,
}

impl ExecOutputs {
    /// The root filesystem after the process ran.
    pub fn root(&self) -> State {
        self.root.clone()
    }

    /// The contents of the writable mount at `dest` after the process ran.
    pub fn mount(&self, dest: &str) -> Option<State> {
        self.mounts
            .iter()
            .find(|(d, _)| d == dest)
            .map(|(_, s)| s.clone())
    }
}

impl Exec {
    /// Turns the description into an op and returns its outputs.
    pub fn build(self) -> ExecOutputs {
        let mut inputs = Inputs::default();
        let mut pb_mounts = Vec::with_capacity(self.mounts.len() + 1);
        let rootfs = self.rootfs.clone().unwrap_or_else(State::scratch);
        let mut next_output = 0i64;
        pb_mounts.push(pb::Mount {
            input: inputs.index(&rootfs),
            dest: "/".into(),
            output: next_output,
            ..Default::default()
        });
        next_output += 1;
        let mut output_of_mount = Vec::new();
        for m in &self.mounts {
            let mut pm = pb::Mount {
                dest: m.dest.clone(),
                selector: m.selector.clone(),
                readonly: m.readonly,
                output: -1,
                ..Default::default()
            };
            match &m.kind {
                MountKind::Bind(state) => {
                    pm.input = inputs.index(state);
                    pm.mount_type = pb::MountType::Bind as i32;
                }
                MountKind::Cache {
                    id,
                    sharing,
                    source,
                } => {
                    pm.input = source.as_ref().map(|s| inputs.index(s)).unwrap_or(-1);
                    pm.mount_type = pb::MountType::Cache as i32;
                    pm.cache_opt = Some(pb::CacheOpt {
                        id: id.clone(),
                        sharing: sharing.to_pb(),
                    });
                }
                MountKind::Tmpfs { size_bytes } => {
                    pm.input = -1;
                    pm.mount_type = pb::MountType::Tmpfs as i32;
                    pm.tmpfs_opt = Some(pb::TmpfsOpt { size: *size_bytes });
                }
                MountKind::Secret { id, uid, gid, mode } => {
                    pm.input = -1;
                    pm.mount_type = pb::MountType::Secret as i32;
                    pm.secret_opt = Some(pb::SecretOpt {
                        id: id.clone(),
                        uid: *uid,
                        gid: *gid,
                        mode: *mode,
                        optional: false,
                    });
                }
                MountKind::Ssh { id, uid, gid, mode } => {
                    pm.input = -1;
                    pm.mount_type = pb::MountType::Ssh as i32;
                    pm.ssh_opt = Some(pb::SshOpt {
                        id: id.clone(),
                        uid: *uid,
                        gid: *gid,
                        mode: *mode,
                        optional: false,
                    });
                }
            }
            if m.has_output() {
                pm.output = next_output;
                output_of_mount.push((m.dest.clone(), next_output as u32));
                next_output += 1;
            }
            pb_mounts.push(pm);
        }
        let op = pb::ExecOp {
            meta: Some(pb::Meta {
                args: self.args.clone(),
                env: self.env.clone(),
                cwd: if self.cwd.is_empty() {
                    "/".into()
                } else {
                    self.cwd.clone()
                },
                user: self.user.clone(),
                hostname: self.hostname.clone().unwrap_or_default(),
                extra_hosts: self
                    .hosts
                    .iter()
                    .map(|h| pb::HostIp {
                        host: h.name.clone(),
                        ip: match &h.addr {
                            HostAddr::Ip(ip) => ip.clone(),
                            HostAddr::Service(name) => unresolved_addr(name),
                        },
                    })
                    .collect(),
                ..Default::default()
            }),
            mounts: pb_mounts,
            network: pb::NetMode::Unset as i32,
            security: if self.insecure {
                pb::SecurityMode::Insecure as i32
            } else {
                pb::SecurityMode::Sandbox as i32
            },
            secretenv: self
                .secret_env
                .iter()
                .map(|(name, id)| pb::SecretEnv {
                    id: id.clone(),
                    name: name.clone(),
                    optional: false,
                })
                .collect(),
            cdi_devices: Vec::new(),
        };
        let platform = self.platform.as_ref().map(Platform::to_pb);
        let description = self.description.clone();
        let ignore_cache = self.ignore_cache;
        let services = self
            .hosts
            .iter()
            .filter_map(|h| match &h.addr {
                HostAddr::Service(name) => Some(name.clone()),
                HostAddr::Ip(_) => None,
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut node = Node::new(
            OpKind::Exec(Box::new(self), op),
            inputs.into_states(),
            platform,
        );
        if let Some(name) = description {
            node.description.insert("llb.customname".into(), name);
        }
        node.ignore_cache = ignore_cache;
        node.services = services;
        let node = std::sync::Arc::new(node);
        let at = |output: u32| State {
            node: Some(node.clone()),
            output,
        };
        ExecOutputs {
            root: at(0),
            mounts: output_of_mount
                .into_iter()
                .map(|(dest, o)| (dest, at(o)))
                .collect(),
        }
    }

    /// Every state this description reads (its root filesystem and mount sources), mutably.
    pub(crate) fn states_mut(&mut self) -> Vec<&mut State> {
        let mut out: Vec<&mut State> = self.rootfs.iter_mut().collect();
        for m in &mut self.mounts {
            match &mut m.kind {
                MountKind::Bind(s) => out.push(s),
                MountKind::Cache {
                    source: Some(s), ..
                } => out.push(s),
                _ => {}
            }
        }
        out
    }

    /// Takes every state this description holds, leaving it empty (used to drop long chains iteratively).
    pub(crate) fn take_states(&mut self) -> Vec<State> {
        self.states_mut()
            .into_iter()
            .map(|s| std::mem::replace(s, State::scratch()))
            .collect()
    }
}
