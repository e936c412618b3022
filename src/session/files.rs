//! The directories a session serves to the daemon through filesync.

use bytes::Bytes;
use tonic::Status;

use crate::buildkit::attach::filesync::{MemoryTree, SyncEntry, SyncProvider, SyncRequest};
use crate::core::runtime::shim_source_name;
use crate::shim::SHIM_BINARY;

/// Serves the exec shim.
pub struct SessionFiles {
    shim: MemoryTree,
}

impl SessionFiles {
    /// The files of a new session.
    pub fn new() -> Self {
        SessionFiles {
            shim: MemoryTree::new(
                shim_source_name(),
                vec![("shim", 0o755, Bytes::from_static(SHIM_BINARY))],
            ),
        }
    }
}

impl Default for SessionFiles {
    fn default() -> Self {
        Self::new()
    }
}

impl SyncProvider for SessionFiles {
    fn entries(&self, request: &SyncRequest) -> Result<Vec<SyncEntry>, Status> {
        if request.dir_name == self.shim.name() {
            return Ok(self.shim.entries().to_vec());
        }
        Err(Status::not_found(format!(
            "this session serves no local directory named {:?}",
            request.dir_name
        )))
    }
}
