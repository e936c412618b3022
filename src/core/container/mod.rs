//! Containers: a root filesystem, its runtime configuration, mounts, and the output of the last exec.
//! This file holds the value and its configuration builders; each family of verbs has a file:
//! `exec` (running commands and reading their output), `import` (image tarballs), `publish`
//! (images out of the session: publish and image export), `build` (Dockerfile builds), `service`
//! (exposed ports, hostnames and service bindings).

pub mod build;
mod daemon_image;
pub mod exec;
mod fingerprint;
pub mod import;
pub mod mounts;
pub mod owner;
pub mod publish;
pub mod service;

pub use mounts::{ContainerMount, MountSource, SECRET_FILE_MODE};
use owner::owned;
pub use owner::parse_owner;

use crate::core::directory::{Directory, copy_directory, copy_file, new_file_actions};
use crate::core::error::{CoreError, CoreResult};
use crate::core::file::File;
use crate::core::image::{ImageConfig, ImageRef};
use crate::core::layers;
use crate::core::paths;
use crate::core::pipeline::{step_name, sub_pipeline};
use crate::core::runtime::Runtime;
use crate::core::secret::Secret;
use crate::llb::{Chown, ImageSource, Platform, State};

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
    /// Ports it exposes when it runs as a service, in the order they were added.
    pub ports: Vec<crate::core::service::Port>,
    /// Services its later commands reach, by alias: (alias, service hostname).
    pub bindings: Vec<(String, String)>,
    /// The image it was created `from`, while its filesystem still builds on that image's:
    /// images written from it keep that image's layers.
    pub base: Option<BaseImage>,
}

/// The image a container was created from.
#[derive(Debug, Clone, PartialEq)]
pub struct BaseImage {
    /// The image's reference (pinned by digest when the daemon said which).
    pub reference: String,
    /// The image's root filesystem.
    pub rootfs: State,
    /// Its layers' diff IDs, as the daemon resolved it: the layers a registry offers are the
    /// image's only when their diff IDs are these.
    pub diff_ids: Vec<String>,
    /// The root filesystem after each command run on it since: where images written from the
    /// container start a new layer (so that a later change does not resend earlier ones).
    pub marks: Vec<State>,
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
            ports: Vec::new(),
            bindings: Vec::new(),
            base: None,
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
        let (pinned, config, diff_ids) = rt.resolve_image(&reference, &self.platform).await?;
        let rootfs = ImageSource {
            reference: pinned.to_string(),
            platform: Some(self.platform.clone()),
        }
        .build();
        // Like a new image under the same mounts and secrets: only the filesystem and config change.
        let base = (!diff_ids.is_empty()).then(|| BaseImage {
            reference: pinned.to_string(),
            rootfs: rootfs.clone(),
            diff_ids,
            marks: Vec::new(),
        });
        Ok(Container {
            rootfs,
            config,
            meta: None,
            image_ref: Some(pinned.to_string()),
            base,
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
        if self.mount_index_for(&target).is_none()
            && let Some(rootfs) = layers::merged_copy(
                rt.engine().supports(layers::MERGE_OP_CAP),
                &self.rootfs,
                &target,
                (&source.state, &source.dir),
                include.is_empty() && exclude.is_empty() && owner.is_none(),
                &self.platform,
                self.step_name(&format!("merge directory onto {target}")),
            )
        {
            return Ok(Container {
                rootfs,
                ..self.clone()
            });
        }
        let action = owned(
            copy_directory(rt, source, &target, include, exclude)?,
            owner,
        )?;
        Ok(self.write_at(&target, vec![action], format!("copy directory to {target}")))
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
        next.base = None;
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
}

/// The contents of `source` copied to the root of an empty filesystem, owned by `owner` when given.
pub(super) fn copy_to_root(source: &Directory, owner: Option<Chown>) -> Directory {
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

#[cfg(test)]
mod tests {
    use super::*;

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
