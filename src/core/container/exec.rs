//! Running commands: building shim-wrapped execs and reading their recorded output (a failed
//! exec is explained by [`crate::core::solve`]).

use super::{Container, MountSource, SECRET_FILE_MODE};
use crate::core::error::{CoreError, CoreResult};
use crate::core::layers;
use crate::core::runtime::Runtime;
use crate::core::secret::Secret;
use crate::core::solve::evaluate;
use crate::llb::{Exec, ExtraHost, FileAction, HostAddr, Mount, MountKind, State};
use crate::shim;

/// `PATH` used when the container's environment has none (the same default as Docker's).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How to run a command.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    /// The command; empty means the container's default arguments.
    pub args: Vec<String>,
    /// Do not prepend the entrypoint.
    pub skip_entrypoint: bool,
    /// Fed to the command's standard input.
    pub stdin: Option<String>,
    /// A file (in the container) that also receives standard output.
    pub redirect_stdout: Option<String>,
    /// A file (in the container) that also receives standard error.
    pub redirect_stderr: Option<String>,
    /// Run with all root capabilities.
    pub insecure_root_capabilities: bool,
}

impl Container {
    /// The container after running a command in it. Nothing runs until the result is needed.
    pub fn with_exec(&self, rt: &Runtime, opts: ExecOptions) -> CoreResult<Container> {
        rt.check_exec_platform(&self.platform)?;
        let mut args = if opts.args.is_empty() {
            self.config.cmd.clone().unwrap_or_default()
        } else {
            opts.args.clone()
        };
        if !opts.skip_entrypoint
            && let Some(ep) = self.config.entrypoint.as_ref().filter(|e| !e.is_empty())
        {
            args = ep.iter().cloned().chain(args).collect();
        }
        if args.is_empty() {
            return Err(CoreError::invalid(
                "withExec args",
                "[]",
                "no command given and the container has no entrypoint or default arguments",
            ));
        }
        let mut env = self.config.env.clone();
        if !env.iter().any(|kv| kv.starts_with("PATH=")) {
            env.push(format!("PATH={DEFAULT_PATH}"));
        }
        if !self.config.user.is_empty() {
            env.push(format!("{}={}", shim::ENV_USER, self.config.user));
        }
        if let Some(p) = &opts.redirect_stdout {
            env.push(format!("{}={p}", shim::ENV_REDIRECT_STDOUT));
        }
        if let Some(p) = &opts.redirect_stderr {
            env.push(format!("{}={p}", shim::ENV_REDIRECT_STDERR));
        }
        let meta_input = match &opts.stdin {
            Some(input) => State::scratch().file(
                vec![FileAction::Mkfile {
                    path: format!("/{}", shim::META_STDIN),
                    mode: 0o600,
                    data: input.as_bytes().to_vec(),
                    owner: None,
                }],
                Some(&self.platform),
                Some("stdin".into()),
            ),
            None => State::scratch(),
        };
        let mut mounts = vec![
            Mount::bind(shim::SHIM_DIR, rt.shim_state(), "").readonly(),
            Mount::bind(shim::META_DIR, meta_input, ""),
        ];
        let mut secret_files = Vec::new();
        for m in &self.mounts {
            mounts.push(match &m.source {
                MountSource::Directory { state, dir } => Mount::bind(
                    m.target.clone(),
                    layers::bounded(state.clone(), &self.platform),
                    dir.trim_start_matches('/'),
                ),
                MountSource::Cache {
                    volume,
                    sharing,
                    seed,
                } => Mount {
                    dest: m.target.clone(),
                    kind: MountKind::Cache {
                        id: volume.mount_id(),
                        sharing: *sharing,
                        source: seed.as_ref().map(|d| d.state.clone()),
                    },
                    selector: seed
                        .as_ref()
                        .map(|d| d.dir.trim_start_matches('/').to_owned())
                        .unwrap_or_default(),
                    readonly: false,
                },
                MountSource::Temp => Mount {
                    dest: m.target.clone(),
                    kind: MountKind::Tmpfs { size_bytes: 0 },
                    selector: String::new(),
                    readonly: false,
                },
                MountSource::Secret { secret, uid, gid } => {
                    secret_files.push(m.target.clone());
                    secret_mount(&m.target, secret, *uid, *gid)
                }
                MountSource::Socket { socket, uid, gid } => Mount {
                    dest: m.target.clone(),
                    kind: MountKind::Ssh {
                        id: socket.id.clone(),
                        uid: *uid,
                        gid: *gid,
                        mode: 0o600,
                    },
                    selector: String::new(),
                    readonly: true,
                },
            });
        }
        // Secret variables reach the command through files the shim reads (and masks in output),
        // which works whether or not the daemon can set secret variables itself.
        let mut secret_vars = Vec::new();
        for (i, (name, secret)) in self.secret_env.iter().enumerate() {
            let path = format!("{}/env-{i}", shim::SECRETS_DIR);
            mounts.push(secret_mount(&path, secret, 0, 0));
            secret_vars.push(format!("{name}={path}"));
        }
        if !secret_vars.is_empty() {
            env.push(format!(
                "{}={}",
                shim::ENV_SECRET_ENV,
                secret_vars.join("\n")
            ));
        }
        if !secret_files.is_empty() {
            env.push(format!(
                "{}={}",
                shim::ENV_SECRET_FILES,
                secret_files.join("\n")
            ));
        }
        // Which cache volume is mounted where. Newer daemons (BuildKit v0.13 on) leave a cache
        // mount's id out of the exec's cache key; without this, an exec on a fresh volume would be
        // answered by a run on another one, and the fresh volume would never be written.
        let volumes: Vec<String> = self
            .mounts
            .iter()
            .filter_map(|m| match &m.source {
                MountSource::Cache { volume, .. } => {
                    Some(format!("{}={}", m.target, volume.mount_id()))
                }
                _ => None,
            })
            .collect();
        if !volumes.is_empty() {
            env.push(format!(
                "{}={}",
                shim::ENV_CACHE_VOLUMES,
                volumes.join("\n")
            ));
        }
        let mut hosts: Vec<ExtraHost> = Vec::new();
        for (alias, hostname) in &self.bindings {
            for name in [alias, hostname] {
                if !hosts.iter().any(|h| &h.name == name) {
                    hosts.push(ExtraHost {
                        name: name.clone(),
                        addr: HostAddr::Service(hostname.clone()),
                    });
                }
            }
        }
        let description = self.step_name(&format!("exec {}", args.join(" ")));
        let exec = Exec {
            args: std::iter::once(shim::SHIM_PATH.to_owned())
                .chain(args)
                .collect(),
            env,
            cwd: self.workdir().to_owned(),
            // The shim starts as root to record output, then runs the command as the container's user.
            user: String::new(),
            rootfs: Some(layers::bounded(self.rootfs.clone(), &self.platform)),
            mounts,
            insecure: opts.insecure_root_capabilities,
            platform: Some(self.platform.clone()),
            description: Some(description),
            hosts,
            ..Default::default()
        };
        let out = exec.build();
        let mut next = self.clone();
        next.rootfs = out.root();
        if let Some(base) = next.base.as_mut() {
            base.marks.push(next.rootfs.clone());
        }
        next.meta = out.mount(shim::META_DIR);
        for m in next.mounts.iter_mut() {
            if let MountSource::Directory { dir, .. } = &m.source
                && let Some(state) = out.mount(&m.target)
            {
                m.source = MountSource::Directory {
                    state,
                    dir: dir.clone(),
                };
            }
        }
        Ok(next)
    }

    /// The meta state of the last exec, running the default command first when nothing has run yet.
    pub(crate) fn meta_state(&self, rt: &Runtime) -> CoreResult<State> {
        if let Some(m) = &self.meta {
            return Ok(m.clone());
        }
        let ran = self.with_exec(rt, ExecOptions::default())?;
        ran.meta
            .ok_or_else(|| CoreError::Unsupported("the container produced no exec output".into()))
    }

    /// The last command's standard output.
    pub async fn stdout(&self, rt: &Runtime) -> CoreResult<String> {
        read_meta(rt, &self.meta_state(rt)?, shim::META_STDOUT).await
    }

    /// The last command's standard error.
    pub async fn stderr(&self, rt: &Runtime) -> CoreResult<String> {
        read_meta(rt, &self.meta_state(rt)?, shim::META_STDERR).await
    }

    /// The last command's exit code.
    pub async fn exit_code(&self, rt: &Runtime) -> CoreResult<i32> {
        let text = read_meta(rt, &self.meta_state(rt)?, shim::META_EXIT_CODE).await?;
        text.trim().parse().map_err(|_| {
            CoreError::Unsupported(format!(
                "the exec recorded an unreadable exit code {text:?}"
            ))
        })
    }

    /// Evaluates the container: every command runs, and a failure is reported.
    pub async fn sync(&self, rt: &Runtime) -> CoreResult<()> {
        evaluate(rt, &self.rootfs, "evaluating container").await?;
        for m in &self.mounts {
            if let MountSource::Directory { state, .. } = &m.source {
                evaluate(rt, state, "evaluating container mount").await?;
            }
        }
        if let Some(meta) = &self.meta {
            evaluate(rt, meta, "evaluating container").await?;
        }
        Ok(())
    }
}

fn secret_mount(dest: &str, secret: &Secret, uid: u32, gid: u32) -> Mount {
    Mount {
        dest: dest.to_owned(),
        kind: MountKind::Secret {
            id: secret.id.clone(),
            uid,
            gid,
            mode: SECRET_FILE_MODE,
        },
        selector: String::new(),
        readonly: true,
    }
}

async fn read_meta(rt: &Runtime, meta: &State, name: &str) -> CoreResult<String> {
    let result = evaluate(rt, meta, "running command")
        .await?
        .ok_or_else(|| CoreError::Unsupported("no command has run".into()))?;
    let bytes = rt
        .engine()
        .read_file(&result, name, 0, None)
        .await
        .map_err(|e| CoreError::engine("reading command output", e))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
