//! Secrets: values a pipeline may use but that must never be written down. A [`Secret`] is only a
//! name; its plaintext lives in the session's [`SecretStore`], which the daemon reads through the
//! session's secrets service when a command that uses it runs. Graphs, IDs and cache keys carry the
//! name only, and every text the session returns passes through [`SecretStore::scrub`].

use std::collections::HashMap;
use std::sync::RwLock;

use super::error::{CoreError, CoreResult};
use crate::sync::Guarded;

/// What output shows in place of a secret value.
pub const MASK: &str = "***";

/// A secret, by the name the daemon asks the session for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Secret {
    /// The secret's id in graphs and in requests from the daemon (never the value).
    pub id: String,
}

impl Secret {
    /// What identifies this secret (for IDs): its name, never its value.
    pub fn fingerprint(&self) -> String {
        format!("secret\n{}", self.id)
    }
}

/// The plaintexts of a session's secrets.
#[derive(Default)]
pub struct SecretStore {
    values: RwLock<HashMap<String, Vec<u8>>>,
}

impl std::fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.values.reading().len();
        write!(f, "SecretStore({count} secrets)")
    }
}

impl SecretStore {
    fn put(&self, id: String, value: Vec<u8>) -> Secret {
        self.values.writing().insert(id.clone(), value);
        Secret { id }
    }

    /// `setSecret(name, plaintext)`: the latest value set under a name is the one used.
    pub fn set(&self, name: &str, plaintext: &str) -> CoreResult<Secret> {
        if name.is_empty() {
            return Err(CoreError::invalid(
                "secret name",
                name,
                "a secret needs a name",
            ));
        }
        Ok(self.put(format!("set:{name}"), plaintext.as_bytes().to_vec()))
    }

    /// A secret holding the value of the session's environment variable `name`.
    pub fn from_env(&self, name: &str, value: &str) -> Secret {
        self.put(format!("env:{name}"), value.as_bytes().to_vec())
    }

    /// A secret holding a file's contents, identified by the file (`fingerprint`).
    pub fn from_file(&self, fingerprint: &str, contents: Vec<u8>) -> Secret {
        use sha2::{Digest, Sha256};
        let id = format!(
            "file:{}",
            hex::encode(&Sha256::digest(fingerprint.as_bytes())[..16])
        );
        self.put(id, contents)
    }

    /// Makes `secret` readable by its bare name too (`set:token` as `token`), which is how
    /// Dockerfiles ask for secrets (`RUN --mount=type=secret,id=token`).
    pub fn expose_by_name(&self, secret: &Secret) {
        let Some((_, name)) = secret.id.split_once(':') else {
            return;
        };
        if let Some(value) = self.value(&secret.id) {
            self.put(name.to_owned(), value);
        }
    }

    /// The plaintext of `id`.
    pub fn value(&self, id: &str) -> Option<Vec<u8>> {
        self.values.reading().get(id).cloned()
    }

    /// `text` with every secret value replaced by [`MASK`] (longest values first).
    pub fn scrub(&self, text: &str) -> String {
        let values = self.values.reading();
        let mut needles: Vec<&str> = values
            .values()
            .filter_map(|v| std::str::from_utf8(v).ok())
            .filter(|v| !v.is_empty())
            .collect();
        if needles.is_empty() {
            return text.to_owned();
        }
        needles.sort_by_key(|v| std::cmp::Reverse(v.len()));
        let mut out = text.to_owned();
        for needle in needles {
            if out.contains(needle) {
                out = out.replace(needle, MASK);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_secrets_and_never_hold_values() {
        let store = SecretStore::default();
        let s = store
            .set("token", "hunter2")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.id, "set:token");
        assert!(!s.fingerprint().contains("hunter2"));
        assert_eq!(store.value(&s.id), Some(b"hunter2".to_vec()));
        // The latest value wins.
        let again = store
            .set("token", "swordfish")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again, s);
        assert_eq!(store.value(&s.id), Some(b"swordfish".to_vec()));
        assert!(store.set("", "x").is_err());
        assert!(!format!("{store:?}").contains("swordfish"));
    }

    #[test]
    fn scrub_masks_every_value_longest_first() {
        let store = SecretStore::default();
        let _ = store.set("a", "abc");
        let _ = store.set("b", "abcdef");
        store.from_env("E", "xyz");
        assert_eq!(store.scrub("1 abcdef 2 abc 3 xyz"), "1 *** 2 *** 3 ***");
        assert_eq!(store.scrub("nothing here"), "nothing here");
    }
}
