//! Source ops: where a graph starts (an image, or files sent by the client session).

use std::collections::BTreeMap;

use super::node::{Node, OpKind, State};
use super::pb;
use super::platform::Platform;

impl State {
    /// Records on a just-built source that its URL names `service`.
    fn set_services(&mut self, service: Option<String>) {
        if let (Some(service), Some(node)) = (service, self.node.as_mut())
            && let Some(node) = std::sync::Arc::get_mut(node)
        {
            node.services = vec![service];
        }
    }
}

/// A source op as a state, named `name` in progress output.
fn source_state(op: pb::SourceOp, platform: Option<pb::Platform>, name: Option<String>) -> State {
    let mut node = Node::new(OpKind::Source(op), Vec::new(), platform);
    if let Some(name) = name {
        node.description.insert("llb.customname".into(), name);
    }
    State::from_node(node, 0)
}

/// A container image's filesystem, by fully qualified reference (`docker.io/library/alpine:3.18`,
/// ideally pinned with `@sha256:…`).
#[derive(Debug, Clone)]
pub struct ImageSource {
    /// The normalised image reference.
    pub reference: String,
    /// Platform of the image to pull.
    pub platform: Option<Platform>,
}

impl ImageSource {
    /// The image's root filesystem.
    pub fn build(self) -> State {
        let op = pb::SourceOp {
            identifier: format!("docker-image://{}", self.reference),
            attrs: BTreeMap::new(),
        };
        let platform = self.platform.as_ref().map(Platform::to_pb);
        source_state(op, platform, Some(format!("pull {}", self.reference)))
    }
}

/// A file the daemon downloads over HTTP(S): the result holds it at `/<filename>`.
#[derive(Debug, Clone, Default)]
pub struct HttpSource {
    /// The `http://` or `https://` URL.
    pub url: String,
    /// The file's name in the result.
    pub filename: String,
    /// The hostname of the service the URL points at, if it does (see [`State::with_service_addrs`]).
    pub service: Option<String>,
    /// The file's digest (`sha256:…`), when known: the daemon then keys the download by it alone,
    /// downloads only what its cache lacks, and refuses other content.
    pub checksum: Option<String>,
    /// The file's permission bits (the daemon's default is 0600).
    pub mode: Option<u32>,
    /// Name shown in progress output (default: `download URL`).
    pub description: Option<String>,
}

impl HttpSource {
    /// The downloaded file, as a state.
    pub fn build(self) -> State {
        let mut attrs = BTreeMap::new();
        attrs.insert("http.filename".to_owned(), self.filename);
        if let Some(checksum) = self.checksum {
            attrs.insert("http.checksum".to_owned(), checksum);
        }
        if let Some(mode) = self.mode {
            attrs.insert("http.perm".to_owned(), format!("0{mode:o}"));
        }
        let name = self
            .description
            .unwrap_or_else(|| format!("download {}", self.url));
        let op = pb::SourceOp {
            identifier: self.url.clone(),
            attrs,
        };
        let mut state = source_state(op, None, Some(name));
        state.set_services(self.service);
        state
    }
}

/// A git repository's tree at a reference, cloned by the daemon.
#[derive(Debug, Clone)]
pub struct GitSource {
    /// The remote URL (`https://…`, `http://…`, `ssh://…`, `git@host:path`).
    pub url: String,
    /// A commit, branch or tag.
    pub reference: String,
    /// Keep the `.git` directory in the result.
    pub keep_git_dir: bool,
    /// The hostname of the service the URL points at, if it does (see [`State::with_service_addrs`]).
    pub service: Option<String>,
}

impl GitSource {
    /// The checked-out tree, as a state.
    pub fn build(self) -> State {
        let remote = self
            .url
            .split_once("://")
            .map_or(self.url.as_str(), |(_, rest)| rest);
        let mut attrs = BTreeMap::new();
        attrs.insert("git.fullurl".to_owned(), self.url.clone());
        if self.keep_git_dir {
            attrs.insert("git.keepgitdir".to_owned(), "true".to_owned());
        }
        let op = pb::SourceOp {
            identifier: format!("git://{remote}#{}", self.reference),
            attrs,
        };
        let name = format!("git {} {}", self.url, self.reference);
        let mut state = source_state(op, None, Some(name));
        state.set_services(self.service);
        state
    }
}

/// Files that the client session serves through its filesync service under `name`.
#[derive(Debug, Clone, Default)]
pub struct LocalSource {
    /// The name the session serves the files under.
    pub name: String,
    /// Pins the source to one session; when empty, the build's own session serves it.
    pub session_id: Option<String>,
    /// Lets the daemon reuse what an earlier transfer of the same files left behind.
    pub shared_key_hint: Option<String>,
    /// Only paths matching these patterns are sent.
    pub include: Vec<String>,
    /// Paths matching these patterns are not sent.
    pub exclude: Vec<String>,
    /// Name shown in progress output.
    pub description: Option<String>,
}

impl LocalSource {
    /// The synced files as a state.
    pub fn build(self) -> State {
        let mut attrs = BTreeMap::new();
        if let Some(id) = &self.session_id {
            attrs.insert("local.session".to_owned(), id.clone());
        }
        if let Some(hint) = &self.shared_key_hint {
            attrs.insert("local.sharedkeyhint".to_owned(), hint.clone());
        }
        if !self.include.is_empty() {
            attrs.insert("local.includepattern".to_owned(), json_list(&self.include));
        }
        if !self.exclude.is_empty() {
            attrs.insert("local.excludepatterns".to_owned(), json_list(&self.exclude));
        }
        let op = pb::SourceOp {
            identifier: format!("local://{}", self.name),
            attrs,
        };
        source_state(op, None, self.description)
    }
}

fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".to_owned())
}
