//! The session's stores: what a session keeps for its pipelines and serves back to the daemon
//! through its attachables (host directories, secrets, forwarded sockets, registry credentials,
//! the export in progress) and the pins it made of unpinned sources. Built once per session; the
//! runtime and the attachables share the one value.

pub mod exports;
pub mod git_pins;
pub mod host;

use std::sync::Arc;

use super::registry::RegistryAuth;
use super::secret::SecretStore;
use super::service::ServiceManager;
use super::socket::SocketRegistry;
use exports::ExportSlot;
use git_pins::GitPins;
use host::HostDirs;

/// Every store of one session.
#[derive(Debug, Default, Clone)]
pub struct SessionStores {
    /// The host directories handed out, by the name they are served under.
    pub host_dirs: Arc<HostDirs>,
    /// Secrets, by ID.
    pub secrets: Arc<SecretStore>,
    /// Host unix sockets forwarded into containers.
    pub sockets: Arc<SocketRegistry>,
    /// Registry credentials from `withRegistryAuth`.
    pub registry: Arc<RegistryAuth>,
    /// Where the export in progress is received.
    pub exports: Arc<ExportSlot>,
    /// The commits git branches and tags were pinned to.
    pub git_pins: Arc<GitPins>,
    /// Service definitions and running instances.
    pub services: Arc<ServiceManager>,
}
