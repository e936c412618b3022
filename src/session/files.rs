//! The directories a session serves to the daemon through filesync: the exec shim (from memory)
//! and the host directories its pipelines use (from disk, listed when the daemon asks).

use std::sync::Arc;

use bytes::Bytes;
use tonic::Status;

use crate::buildkit::attach::filesync::{MemoryTree, SyncEntry, SyncProvider, SyncRequest};
use crate::buildkit::attach::hostfs;
use crate::core::HostDirs;
use crate::core::patterns::Selection;
use crate::core::runtime::shim_source_name;
use crate::shim::SHIM_BINARY;

/// Serves the exec shim and the session's host directories.
pub struct SessionFiles {
    shim: MemoryTree,
    host: Arc<HostDirs>,
}

impl SessionFiles {
    /// The files of a new session, with host directories registered in `host`.
    pub fn new(host: Arc<HostDirs>) -> Self {
        SessionFiles {
            shim: MemoryTree::new(
                shim_source_name(),
                vec![("shim", 0o755, Bytes::from_static(SHIM_BINARY))],
            ),
            host,
        }
    }
}

impl SyncProvider for SessionFiles {
    fn entries(&self, request: &SyncRequest) -> Result<Vec<SyncEntry>, Status> {
        if request.dir_name == self.shim.name() {
            return Ok(self.shim.entries().to_vec());
        }
        let Some(root) = self.host.path_of(&request.dir_name) else {
            return Err(Status::not_found(format!(
                "this session serves no local directory named {:?}",
                request.dir_name
            )));
        };
        let selection = Selection::new(&request.include, &request.exclude)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        hostfs::walk(&root, &selection).map_err(|e| Status::unavailable(e.to_string()))
    }
}
