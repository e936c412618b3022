//! File ops: make, copy and remove files and directories without running a process.

use super::node::{Inputs, Node, OpKind, State};
use super::pb;
use super::platform::Platform;

/// Who owns what a file action creates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chown {
    /// Numeric user and group ids.
    Ids { uid: u32, gid: u32 },
    /// Names looked up in the target's `/etc/passwd` and `/etc/group`.
    Names { user: String, group: Option<String> },
}

impl Chown {
    fn to_pb(&self) -> pb::ChownOpt {
        use pb::user_opt::User;
        let by_id = |id: u32| {
            Some(pb::UserOpt {
                user: Some(User::ById(id)),
            })
        };
        let by_name = |name: &str| {
            Some(pb::UserOpt {
                user: Some(User::ByName(pb::NamedUserOpt {
                    name: name.to_owned(),
                    input: 0,
                })),
            })
        };
        match self {
            Chown::Ids { uid, gid } => pb::ChownOpt {
                user: by_id(*uid),
                group: by_id(*gid),
            },
            Chown::Names { user, group } => pb::ChownOpt {
                user: by_name(user),
                group: group.as_deref().and_then(by_name),
            },
        }
    }
}

/// One step of a file op.
#[derive(Debug, Clone)]
pub enum FileAction {
    /// Create a directory.
    Mkdir {
        path: String,
        mode: u32,
        parents: bool,
        owner: Option<Chown>,
    },
    /// Create (or replace) a file with the given contents.
    Mkfile {
        path: String,
        mode: u32,
        data: Vec<u8>,
        owner: Option<Chown>,
    },
    /// Remove a path.
    Rm { path: String, allow_not_found: bool },
    /// Copy `src` from another state to `dest`.
    Copy {
        /// The state to copy from.
        from: State,
        /// Path inside `from`.
        src: String,
        /// Path in the state being changed.
        dest: String,
        /// Copy the contents of a directory rather than the directory itself.
        contents_only: bool,
        /// Create missing parent directories of `dest`.
        create_parents: bool,
        /// New owner of the copied files.
        owner: Option<Chown>,
        /// New mode of the copied files.
        mode: Option<u32>,
        /// Modification time given to every copied file (nanoseconds since the epoch).
        timestamp: Option<i64>,
        /// Only copy paths matching these patterns.
        include: Vec<String>,
        /// Skip paths matching these patterns.
        exclude: Vec<String>,
    },
    /// Extract archive `src` (a tar, plain or compressed) of another state into directory `dest`,
    /// the way Docker's `ADD` does; a file that is no archive is copied as it is.
    Unpack {
        from: State,
        src: String,
        dest: String,
    },
}

impl FileAction {
    /// The path the action writes: the one it creates, writes or removes, or the copy's destination.
    pub fn target_mut(&mut self) -> &mut String {
        match self {
            FileAction::Mkdir { path, .. }
            | FileAction::Mkfile { path, .. }
            | FileAction::Rm { path, .. } => path,
            FileAction::Copy { dest, .. } | FileAction::Unpack { dest, .. } => dest,
        }
    }
}

impl State {
    /// Applies `actions`, in order, to this state.
    pub fn file(
        &self,
        actions: Vec<FileAction>,
        platform: Option<&Platform>,
        description: Option<String>,
    ) -> State {
        let mut inputs = Inputs::default();
        let base = inputs.index(self);
        // Secondary inputs must be registered before indexes of action outputs are computed.
        let secondaries: Vec<i64> = actions
            .iter()
            .map(|a| match a {
                FileAction::Copy { from, .. } | FileAction::Unpack { from, .. } => {
                    inputs.index(from)
                }
                _ => -1,
            })
            .collect();
        let n_inputs = inputs.len();
        let last = actions.len().saturating_sub(1);
        let pb_actions = actions
            .into_iter()
            .zip(secondaries)
            .enumerate()
            .map(|(i, (action, secondary))| {
                let input = if i == 0 {
                    base
                } else {
                    n_inputs + i as i64 - 1
                };
                let output = if i == last { 0 } else { -1 };
                let (secondary_input, action) = action_to_pb(action, secondary);
                pb::FileAction {
                    input,
                    secondary_input,
                    output,
                    action: Some(action),
                }
            })
            .collect();
        let op = pb::FileOp {
            actions: pb_actions,
        };
        let mut node = Node::new(
            OpKind::File(op),
            inputs.into_states(),
            platform.map(Platform::to_pb),
        );
        if let Some(d) = description {
            node.description.insert("llb.customname".into(), d);
        }
        State::from_node(node, 0)
    }
}

fn action_to_pb(action: FileAction, secondary: i64) -> (i64, pb::file_action::Action) {
    use pb::file_action::Action;
    match action {
        FileAction::Mkdir {
            path,
            mode,
            parents,
            owner,
        } => (
            -1,
            Action::Mkdir(pb::FileActionMkDir {
                path,
                mode: mode as i32,
                make_parents: parents,
                owner: owner.map(|o| o.to_pb()),
                timestamp: -1,
            }),
        ),
        FileAction::Mkfile {
            path,
            mode,
            data,
            owner,
        } => (
            -1,
            Action::Mkfile(pb::FileActionMkFile {
                path,
                mode: mode as i32,
                data,
                owner: owner.map(|o| o.to_pb()),
                timestamp: -1,
            }),
        ),
        FileAction::Rm {
            path,
            allow_not_found,
        } => (
            -1,
            Action::Rm(pb::FileActionRm {
                path,
                allow_not_found,
                allow_wildcard: false,
            }),
        ),
        FileAction::Copy {
            src,
            dest,
            contents_only,
            create_parents,
            owner,
            mode,
            include,
            exclude,
            timestamp,
            ..
        } => (
            secondary,
            Action::Copy(pb::FileActionCopy {
                src,
                dest,
                owner: owner.map(|o| o.to_pb()),
                mode: mode.map(|m| m as i32).unwrap_or(-1),
                follow_symlink: false,
                dir_copy_contents: contents_only,
                create_dest_path: create_parents,
                allow_wildcard: false,
                allow_empty_wildcard: false,
                timestamp: timestamp.unwrap_or(-1),
                include_patterns: include,
                exclude_patterns: exclude,
                ..Default::default()
            }),
        ),
        FileAction::Unpack { src, dest, .. } => (
            secondary,
            Action::Copy(pb::FileActionCopy {
                src,
                dest,
                mode: -1,
                follow_symlink: true,
                create_dest_path: true,
                attempt_unpack_docker_compatibility: true,
                timestamp: -1,
                ..Default::default()
            }),
        ),
    }
}
