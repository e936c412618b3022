//! The commits a session pinned git branches and tags to: resolved once, at first use, so that
//! every later use in the session gets the same tree even if the branch moves meanwhile.

use crate::sync::Locked;
use std::collections::HashMap;
use std::sync::Mutex;

/// What a [`GitRef`] names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RefKind {
    /// A branch (pinned per session).
    Branch,
    /// A tag (pinned per session).
    Tag,
    /// A commit.
    Commit,
}

/// The session's pins: `(url, kind, name)` → commit.
#[derive(Debug, Default)]
pub struct GitPins {
    pins: Mutex<HashMap<(String, RefKind, String), String>>,
}

impl GitPins {
    /// The commit `name` (a branch or tag of `url`) was pinned to, if it was.
    pub fn get(&self, url: &str, kind: RefKind, name: &str) -> Option<String> {
        let pins = self.pins.locked();
        pins.get(&(url.to_owned(), kind, name.to_owned())).cloned()
    }

    /// Pins `name` to `commit` unless it is pinned already; returns the pin that holds.
    pub fn pin(&self, url: &str, kind: RefKind, name: &str, commit: String) -> String {
        let mut pins = self.pins.locked();
        pins.entry((url.to_owned(), kind, name.to_owned()))
            .or_insert(commit)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_pin_holds() {
        let pins = GitPins::default();
        assert_eq!(pins.get("u", RefKind::Branch, "main"), None);
        assert_eq!(pins.pin("u", RefKind::Branch, "main", "a".into()), "a");
        assert_eq!(pins.pin("u", RefKind::Branch, "main", "b".into()), "a");
        assert_eq!(pins.get("u", RefKind::Tag, "main"), None);
    }
}
