//! Cache volumes: persistent directories shared between execs, named by key.

use sha2::{Digest, Sha256};

/// A cache volume, identified by the user's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheVolume {
    /// The key the user named it with.
    pub key: String,
}

impl CacheVolume {
    /// The BuildKit cache-mount id for this volume.
    pub fn mount_id(&self) -> String {
        format!(
            "dirk-cache-{}",
            hex::encode(&Sha256::digest(self.key.as_bytes())[..16])
        )
    }

    /// What identifies this volume (for IDs).
    pub fn fingerprint(&self) -> String {
        format!("cache\n{}", self.key)
    }
}
