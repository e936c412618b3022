//! Directories: a path inside an LLB state.

use super::error::{CoreError, CoreResult};
use super::file::File;
use super::layers;
use super::paths;
use super::patterns::Selection;
use super::runtime::Runtime;
use super::solve::evaluate;
use crate::llb::{FileAction, Platform, State};

/// A directory tree: `dir` inside `state`.
#[derive(Debug, Clone, PartialEq)]
pub struct Directory {
    /// The filesystem holding the directory.
    pub state: State,
    /// The directory's absolute path within `state`.
    pub dir: String,
    /// Platform of the filesystem.
    pub platform: Platform,
    /// The pipeline the directory's steps belong to (`outer / inner`), shown with each step.
    pub pipeline: String,
}

/// The LLB capability for include/exclude patterns on copies.
pub const COPY_PATTERNS_CAP: &str = "file.copy.includeexcludepatterns";

/// The LLB capability for computing diffs in the daemon.
pub const DIFF_OP_CAP: &str = "diffop";

/// Default mode of directories created implicitly.
const DIR_MODE: u32 = 0o755;

impl Directory {
    /// An empty directory.
    pub fn empty(platform: Platform) -> Self {
        Directory {
            state: State::scratch(),
            dir: "/".into(),
            platform,
            pipeline: String::new(),
        }
    }

    /// The directory with its next steps in sub-pipeline `name` of its current one.
    pub fn with_pipeline(&self, name: &str) -> CoreResult<Directory> {
        Ok(Directory {
            pipeline: super::pipeline::sub_pipeline(&self.pipeline, name)?,
            ..self.clone()
        })
    }

    /// The directory's contents at the root of a filesystem: its state when the directory is that
    /// state's root, else a copy onto an empty one (the step is named `what DIR`).
    pub fn rooted(&self, what: &str) -> State {
        if self.dir == "/" {
            self.state.clone()
        } else {
            layers::copy_onto_scratch(
                self.state.clone(),
                &self.dir,
                None,
                &self.platform,
                Some(format!("{what} {}", self.dir)),
            )
        }
    }

    /// `what`, prefixed with the pipeline when there is one: how a step shows in progress.
    fn step_name(&self, what: String) -> String {
        super::pipeline::step_name(&self.pipeline, &what)
    }

    /// What identifies this directory's content (for IDs).
    pub fn fingerprint(&self) -> String {
        let mut f = format!("dir\n{}\n{}\n{}", self.state.key(), self.dir, self.platform);
        if !self.pipeline.is_empty() {
            f.push_str("\npipeline ");
            f.push_str(&self.pipeline);
        }
        f
    }

    fn at(&self, path: &str) -> String {
        paths::resolve(&self.dir, path.trim_start_matches('/'))
    }

    fn apply(&self, actions: Vec<FileAction>, what: String) -> Directory {
        Directory {
            state: layers::write_on(&self.state, actions, &self.platform, self.step_name(what)),
            ..self.clone()
        }
    }

    /// The directory with every file's modification time set to `unix_seconds`.
    pub fn with_timestamps(&self, unix_seconds: i64) -> Directory {
        Directory {
            state: layers::retimed(
                self.state.clone(),
                &self.dir,
                "/",
                unix_seconds,
                &self.platform,
            ),
            dir: "/".into(),
            platform: self.platform.clone(),
            pipeline: self.pipeline.clone(),
        }
    }

    /// The subdirectory at `path`.
    pub fn directory(&self, path: &str) -> CoreResult<Directory> {
        paths::check("path", path)?;
        Ok(Directory {
            dir: self.at(path),
            ..self.clone()
        })
    }

    /// The file at `path`.
    pub fn file(&self, path: &str) -> CoreResult<File> {
        paths::check("path", path)?;
        Ok(File {
            state: self.state.clone(),
            path: self.at(path),
            platform: self.platform.clone(),
        })
    }

    /// Adds a file with `contents`, creating parent directories.
    pub fn with_new_file(
        &self,
        path: &str,
        contents: &str,
        permissions: Option<u32>,
    ) -> CoreResult<Directory> {
        paths::check("path", path)?;
        let target = self.at(path);
        let actions = new_file_actions(&target, contents, permissions, None);
        Ok(self.apply(actions, format!("write {target}")))
    }

    /// What `other` adds to or changes in this directory, with the parent directories of what it
    /// holds. Read directly, the result holds no deletions.
    ///
    /// A daemon with the diff op (`diffop`) computes it: what differs by content or metadata
    /// (including the modification time) counts as changed, and where the result is merged or
    /// exported as a layer, deletions apply as well. Elsewhere the exec shim computes it: entries
    /// count as changed when their content, type, mode or owner differ, and deletions are not
    /// represented.
    pub fn diff(&self, rt: &Runtime, other: &Directory) -> CoreResult<Directory> {
        let name = self.step_name(format!("diff {} {}", self.dir, other.dir));
        let state = if rt.engine().supports(DIFF_OP_CAP) {
            State::diff(
                &self.rooted("diff lower"),
                &other.rooted("diff upper"),
                Some(&self.platform),
                Some(name),
            )
        } else {
            let sub = |d: &Directory| d.dir.trim_start_matches('/').to_owned();
            super::solve::shim_tool(
                rt,
                &self.platform,
                crate::shim::DIFF_ARG,
                vec![
                    ("/.dirk-diff/lower", self.state.clone(), sub(self)),
                    ("/.dirk-diff/upper", other.state.clone(), sub(other)),
                ],
                ("/.dirk-diff/out", State::scratch()),
                &[],
                name,
            )?
        };
        Ok(Directory {
            state,
            dir: "/".into(),
            platform: self.platform.clone(),
            pipeline: self.pipeline.clone(),
        })
    }

    /// Adds an empty directory (and its parents).
    pub fn with_new_directory(
        &self,
        path: &str,
        permissions: Option<u32>,
    ) -> CoreResult<Directory> {
        paths::check("path", path)?;
        let target = self.at(path);
        Ok(self.apply(
            vec![FileAction::Mkdir {
                path: target.clone(),
                mode: permissions.unwrap_or(DIR_MODE),
                parents: true,
                owner: None,
            }],
            format!("mkdir {target}"),
        ))
    }

    /// Copies the contents of `source` to `path`.
    pub fn with_directory(
        &self,
        rt: &Runtime,
        path: &str,
        source: &Directory,
        include: Vec<String>,
        exclude: Vec<String>,
    ) -> CoreResult<Directory> {
        paths::check("path", path)?;
        let target = self.at(path);
        if let Some(state) = layers::merged_copy(
            rt.engine().supports(layers::MERGE_OP_CAP),
            &self.state,
            &target,
            (&source.state, &source.dir),
            include.is_empty() && exclude.is_empty(),
            &self.platform,
            self.step_name(format!("merge directory onto {target}")),
        ) {
            return Ok(Directory {
                state,
                ..self.clone()
            });
        }
        let copy = copy_directory(rt, source, &target, include, exclude)?;
        Ok(self.apply(vec![copy], format!("copy directory to {target}")))
    }

    /// Copies `source` to `path`.
    pub fn with_file(
        &self,
        path: &str,
        source: &File,
        permissions: Option<u32>,
    ) -> CoreResult<Directory> {
        paths::check("path", path)?;
        let target = self.at(path);
        Ok(self.apply(
            vec![copy_file(source, &target, permissions)],
            format!("copy file to {target}"),
        ))
    }

    /// Removes the file at `path`.
    pub fn without_file(&self, path: &str) -> CoreResult<Directory> {
        self.remove(path)
    }

    /// Removes the directory at `path`.
    pub fn without_directory(&self, path: &str) -> CoreResult<Directory> {
        self.remove(path)
    }

    fn remove(&self, path: &str) -> CoreResult<Directory> {
        paths::check("path", path)?;
        let target = self.at(path);
        Ok(self.apply(
            vec![FileAction::Rm {
                path: target.clone(),
                allow_not_found: true,
            }],
            format!("remove {target}"),
        ))
    }

    /// Names of the entries of `path` (or of this directory), sorted.
    pub async fn entries(&self, rt: &Runtime, path: Option<&str>) -> CoreResult<Vec<String>> {
        let target = match path {
            Some(p) => {
                paths::check("path", p)?;
                self.at(p)
            }
            None => self.dir.clone(),
        };
        let Some(result) = evaluate(rt, &self.state, "evaluating directory").await? else {
            return if target == "/" {
                Ok(Vec::new())
            } else {
                Err(CoreError::NotFound {
                    object: "directory".into(),
                    path: target,
                })
            };
        };
        let mut names: Vec<String> = rt
            .engine()
            .read_dir(&result, &target)
            .await
            .map_err(|e| CoreError::engine("reading directory", e))?
            .into_iter()
            .map(|s| s.path)
            .collect();
        names.sort();
        Ok(names)
    }

    /// Evaluates the directory and checks that it exists.
    pub async fn sync(&self, rt: &Runtime) -> CoreResult<()> {
        let Some(result) = evaluate(rt, &self.state, "evaluating directory").await? else {
            return if self.dir == "/" {
                Ok(())
            } else {
                Err(CoreError::NotFound {
                    object: "directory".into(),
                    path: self.dir.clone(),
                })
            };
        };
        if self.dir != "/" {
            let stat = rt
                .engine()
                .stat(&result, &self.dir)
                .await
                .map_err(|e| CoreError::engine("evaluating directory", e))?;
            if !stat.is_dir() {
                return Err(CoreError::invalid(
                    "directory",
                    self.dir.clone(),
                    "it is a file, not a directory",
                ));
            }
        }
        Ok(())
    }
}

/// Actions that write `contents` to `target`, creating its parent directories first.
pub(crate) fn new_file_actions(
    target: &str,
    contents: &str,
    permissions: Option<u32>,
    owner: Option<crate::llb::Chown>,
) -> Vec<FileAction> {
    let mut actions = Vec::new();
    let parent = paths::parent(target);
    if parent != "/" {
        actions.push(FileAction::Mkdir {
            path: parent,
            mode: DIR_MODE,
            parents: true,
            owner: None,
        });
    }
    // Writing over an existing file would keep its old mode: replace it instead.
    actions.push(FileAction::Rm {
        path: target.to_owned(),
        allow_not_found: true,
    });
    actions.push(FileAction::Mkfile {
        path: target.to_owned(),
        mode: permissions.unwrap_or(0o644),
        data: contents.as_bytes().to_vec(),
        owner,
    });
    actions
}

/// The action copying the contents of `source` into `target` (created if missing), filtered by
/// `.dockerignore`-style patterns: by the daemon's copy where it can filter
/// (`file.copy.includeexcludepatterns`, BuildKit v0.9 and newer), else by the exec shim, which
/// first copies what the patterns select (with the walk host directories are sent with) and the
/// daemon then copies that. Both give the same tree.
pub(crate) fn copy_directory(
    rt: &Runtime,
    source: &Directory,
    target: &str,
    include: Vec<String>,
    exclude: Vec<String>,
) -> CoreResult<FileAction> {
    let filtered = !include.is_empty() || !exclude.is_empty();
    if filtered {
        Selection::new(&include, &exclude)?;
    }
    if filtered && !rt.engine().supports(COPY_PATTERNS_CAP) {
        let options: Vec<String> = include
            .iter()
            .map(|p| format!("i:{p}"))
            .chain(exclude.iter().map(|p| format!("x:{p}")))
            .collect();
        let selected = super::solve::shim_tool(
            rt,
            &source.platform,
            crate::shim::SELECT_ARG,
            vec![(
                "/.dirk-select/source",
                source.state.clone(),
                source.dir.trim_start_matches('/').to_owned(),
            )],
            ("/.dirk-select/out", State::scratch()),
            &options,
            source.step_name(format!(
                "select from {}{}{}",
                source.dir,
                patterns_label("include", &include),
                patterns_label("exclude", &exclude)
            )),
        )?;
        return Ok(copy_contents(selected, "/", target, Vec::new(), Vec::new()));
    }
    Ok(copy_contents(
        source.state.clone(),
        &source.dir,
        target,
        include,
        exclude,
    ))
}

/// ` (include a, b)`: a step name's mention of the patterns it applies (empty when none).
fn patterns_label(what: &str, patterns: &[String]) -> String {
    if patterns.is_empty() {
        String::new()
    } else {
        format!(" ({what} {})", patterns.join(", "))
    }
}

/// The action copying what directory `src` of `from` holds into `target`.
fn copy_contents(
    from: State,
    src: &str,
    target: &str,
    include: Vec<String>,
    exclude: Vec<String>,
) -> FileAction {
    FileAction::Copy {
        from,
        src: src.to_owned(),
        dest: target.to_owned(),
        contents_only: true,
        create_parents: true,
        owner: None,
        mode: None,
        include,
        exclude,
        timestamp: None,
    }
}

pub(crate) fn copy_file(source: &File, target: &str, permissions: Option<u32>) -> FileAction {
    FileAction::Copy {
        from: source.state.clone(),
        src: source.path.clone(),
        dest: target.to_owned(),
        contents_only: false,
        create_parents: true,
        owner: None,
        mode: permissions,
        include: Vec::new(),
        exclude: Vec::new(),
        timestamp: None,
    }
}
