//! Unix sockets of the host, forwarded into containers. A [`Socket`] is an id; the session's
//! [`SocketRegistry`] maps it to the host path, and the session's socket-forwarding service (SSH
//! agent forwarding in BuildKit's terms) connects to that path each time a command in a container
//! opens the socket.

use crate::sync::Guarded;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

/// A host unix socket, by its id in graphs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Socket {
    /// The id the daemon asks the session to connect.
    pub id: String,
}

impl Socket {
    /// What identifies this socket (for IDs).
    pub fn fingerprint(&self) -> String {
        format!("socket\n{}", self.id)
    }
}

/// The host sockets a session has handed out.
#[derive(Debug, Default)]
pub struct SocketRegistry {
    paths: RwLock<HashMap<String, PathBuf>>,
}

impl SocketRegistry {
    /// Registers host socket `path` (absolute) and returns it as a [`Socket`].
    pub fn register(&self, path: &Path) -> Socket {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(path.as_os_str().as_encoded_bytes());
        let id = format!("socket-{}", hex::encode(&digest[..12]));
        self.paths.writing().insert(id.clone(), path.to_owned());
        Socket { id }
    }

    /// Stops forwarding socket `id`.
    pub fn unregister(&self, id: &str) {
        self.paths.writing().remove(id);
    }

    /// The host path of socket `id`.
    pub fn path_of(&self, id: &str) -> Option<PathBuf> {
        self.paths.reading().get(id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_id_per_path_never_the_path_itself() {
        let reg = SocketRegistry::default();
        let a = reg.register(Path::new("/run/app.sock"));
        assert_eq!(a, reg.register(Path::new("/run/app.sock")));
        assert_ne!(a, reg.register(Path::new("/run/other.sock")));
        assert!(!a.id.contains("app.sock"));
        assert_eq!(reg.path_of(&a.id), Some(PathBuf::from("/run/app.sock")));
        assert_eq!(reg.path_of("socket-unknown"), None);
    }
}
