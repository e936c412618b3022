//! Git sources. The daemon clones; the session pins. A branch or tag is resolved to its commit the
//! first time the session uses it (with `git ls-remote` on this machine, so the user's credentials
//! and configuration apply), and the session keeps using that commit even if the branch moves.
//! When `git` is not available here, the reference is passed to the daemon as given.

use super::directory::Directory;
use super::error::{CoreError, CoreResult};
use super::runtime::Runtime;
use crate::llb::GitSource;

pub use super::stores::git_pins::RefKind;

/// `Query.git(url)`.
#[derive(Debug, Clone, PartialEq)]
pub struct GitRepository {
    /// The remote URL.
    pub url: String,
    /// Keep `.git` in checked-out trees.
    pub keep_git_dir: bool,
    /// The hostname of the service that serves it (`experimentalServiceHost`), if one does.
    pub service: Option<String>,
}

/// A reference in a repository.
#[derive(Debug, Clone, PartialEq)]
pub struct GitRef {
    /// The repository.
    pub repo: GitRepository,
    /// What kind of reference.
    pub kind: RefKind,
    /// Its name or commit id.
    pub name: String,
}

impl GitRepository {
    /// The repository at `url`.
    pub fn new(url: &str, keep_git_dir: bool) -> CoreResult<GitRepository> {
        let url = url.trim();
        let known = ["https://", "http://", "ssh://", "git://"]
            .iter()
            .any(|p| url.starts_with(p))
            || (url.contains('@') && url.contains(':'));
        if !known {
            return Err(CoreError::invalid(
                "git URL",
                url,
                "expected https://, http://, ssh://, git:// or user@host:path",
            ));
        }
        Ok(GitRepository {
            url: url.to_owned(),
            keep_git_dir,
            service: None,
        })
    }

    /// The repository, served by the service with `hostname`: the daemon fetches it from the
    /// service's address, which the service's hostname in the URL stands for.
    pub fn served_by(mut self, hostname: &str) -> GitRepository {
        self.service = Some(hostname.to_owned());
        self
    }

    /// A reference of `kind` named `name`.
    pub fn reference(&self, kind: RefKind, name: &str) -> CoreResult<GitRef> {
        let name = name.trim();
        if name.is_empty() || name.starts_with('-') || name.contains(char::is_whitespace) {
            return Err(CoreError::invalid(
                "git reference",
                name,
                "expected a branch, tag or commit name",
            ));
        }
        Ok(GitRef {
            repo: self.clone(),
            kind,
            name: name.to_owned(),
        })
    }
}

/// Asks the remote for the commit a branch or tag points at.
async fn ls_remote(url: &str, kind: RefKind, name: &str) -> Option<String> {
    let refname = match kind {
        RefKind::Branch => format!("refs/heads/{name}"),
        RefKind::Tag => format!("refs/tags/{name}"),
        RefKind::Commit => return Some(name.to_owned()),
    };
    let out = tokio::process::Command::new("git")
        .args(["ls-remote", "--", url, &refname, &format!("{refname}^{{}}")])
        .env("GIT_TERMINAL_PROMPT", "0")
        .output()
        .await
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    // An annotated tag lists the tag object and, with `^{}`, the commit: prefer the commit.
    let mut lines: Vec<(&str, &str)> = text.lines().filter_map(|l| l.split_once('\t')).collect();
    lines.sort_by_key(|(_, r)| !r.ends_with("^{}"));
    lines.first().map(|(sha, _)| (*sha).to_owned())
}

impl GitRef {
    /// The commit this reference means for the rest of the session.
    async fn pinned(&self, rt: &Runtime) -> CoreResult<String> {
        // A service's address is not known before it runs: its daemon-side fetch resolves the name.
        if self.kind == RefKind::Commit || self.repo.service.is_some() {
            return Ok(self.name.clone());
        }
        let pins = rt.git_pins();
        if let Some(sha) = pins.get(&self.repo.url, self.kind, &self.name) {
            return Ok(sha);
        }
        match ls_remote(&self.repo.url, self.kind, &self.name).await {
            Some(sha) => Ok(pins.pin(&self.repo.url, self.kind, &self.name, sha)),
            None => {
                tracing::warn!(url = %self.repo.url, reference = %self.name, "could not pin the git reference here; the daemon resolves it");
                Ok(self.name.clone())
            }
        }
    }

    /// The checked-out tree.
    pub async fn tree(&self, rt: &Runtime) -> CoreResult<Directory> {
        let reference = self.pinned(rt).await?;
        let state = GitSource {
            url: self.repo.url.clone(),
            reference,
            keep_git_dir: self.repo.keep_git_dir,
            service: self.repo.service.clone(),
        }
        .build();
        Ok(Directory {
            state,
            dir: "/".into(),
            platform: rt.default_platform().clone(),
            pipeline: String::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_references_are_checked() {
        assert!(GitRepository::new("https://github.com/o/r.git", false).is_ok());
        assert!(GitRepository::new("git@github.com:o/r.git", false).is_ok());
        assert!(GitRepository::new("/local/path", false).is_err());
        let repo =
            GitRepository::new("http://127.0.0.1:1/r.git", true).unwrap_or_else(|e| panic!("{e}"));
        assert!(repo.reference(RefKind::Branch, "main").is_ok());
        assert!(repo.reference(RefKind::Branch, "--upload-pack=x").is_err());
        assert!(repo.reference(RefKind::Tag, "").is_err());
    }
}
