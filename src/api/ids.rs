//! Object IDs: short, opaque, content-addressed handles on the objects of one session.
//!
//! An ID is a type prefix and the SHA-256 of the object's fingerprint, so the same object always has
//! the same ID, and IDs stay small however large the pipeline behind them. The session keeps the
//! objects; an ID it did not issue (from another session, or altered) is rejected with a clear error.

use std::collections::HashMap;
use std::sync::RwLock;

use base64::Engine as _;
use sha2::{Digest, Sha256};

use super::error::{ApiError, ApiResult};
use crate::core::{CacheVolume, Container, Directory, File, Secret, Socket};
use crate::sync::Guarded;

/// The kinds of object that have IDs, by their GraphQL scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `ContainerID`
    Container,
    /// `DirectoryID`
    Directory,
    /// `FileID`
    File,
    /// `CacheID`
    Cache,
    /// `SecretID`
    Secret,
    /// `SocketID`
    Socket,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::Container,
        Kind::Directory,
        Kind::File,
        Kind::Cache,
        Kind::Secret,
        Kind::Socket,
    ];

    fn prefix(self) -> &'static str {
        match self {
            Kind::Container => "ctr",
            Kind::Directory => "dir",
            Kind::File => "file",
            Kind::Cache => "cache",
            Kind::Secret => "secret",
            Kind::Socket => "socket",
        }
    }

    /// The GraphQL scalar name.
    pub fn scalar(self) -> &'static str {
        match self {
            Kind::Container => "ContainerID",
            Kind::Directory => "DirectoryID",
            Kind::File => "FileID",
            Kind::Cache => "CacheID",
            Kind::Secret => "SecretID",
            Kind::Socket => "SocketID",
        }
    }
}

/// An object that can be stored under an ID.
#[derive(Clone)]
enum Stored {
    Container(Box<Container>),
    Directory(Directory),
    File(File),
    Cache(CacheVolume),
    Secret(Secret),
    Socket(Socket),
}

/// The session's table of issued IDs.
#[derive(Default)]
pub struct IdStore {
    objects: RwLock<HashMap<String, Stored>>,
}

const DIGEST_CHARS: usize = 43;

fn make_id(kind: Kind, fingerprint: &str) -> String {
    let digest = Sha256::digest(fingerprint.as_bytes());
    format!(
        "{}.{}",
        kind.prefix(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
    )
}

impl IdStore {
    fn put(&self, kind: Kind, fingerprint: &str, object: Stored) -> String {
        let id = make_id(kind, fingerprint);
        self.objects.writing().entry(id.clone()).or_insert(object);
        id
    }

    /// The ID of a container.
    pub fn container_id(&self, c: &Container) -> String {
        self.put(
            Kind::Container,
            &c.fingerprint(),
            Stored::Container(Box::new(c.clone())),
        )
    }

    /// The ID of a directory.
    pub fn directory_id(&self, d: &Directory) -> String {
        self.put(
            Kind::Directory,
            &d.fingerprint(),
            Stored::Directory(d.clone()),
        )
    }

    /// The ID of a file.
    pub fn file_id(&self, f: &File) -> String {
        self.put(Kind::File, &f.fingerprint(), Stored::File(f.clone()))
    }

    /// The ID of a cache volume.
    pub fn cache_id(&self, c: &CacheVolume) -> String {
        self.put(Kind::Cache, &c.fingerprint(), Stored::Cache(c.clone()))
    }

    /// The ID of a secret (derived from its name, never its value).
    pub fn secret_id(&self, s: &Secret) -> String {
        self.put(Kind::Secret, &s.fingerprint(), Stored::Secret(s.clone()))
    }

    /// The ID of a host socket.
    pub fn socket_id(&self, s: &Socket) -> String {
        self.put(Kind::Socket, &s.fingerprint(), Stored::Socket(s.clone()))
    }

    fn get(&self, want: Kind, arg: &str, id: &str) -> ApiResult<Stored> {
        let bad = |reason: String| {
            ApiError::invalid_arg(&format!("{} argument {arg}", want.scalar()), id, reason)
        };
        let (prefix, digest) = id
            .split_once('.')
            .ok_or_else(|| bad("it is not an ID issued by dirk".into()))?;
        if let Some(other) = Kind::ALL
            .iter()
            .find(|k| k.prefix() == prefix && **k != want)
        {
            return Err(bad(format!(
                "it is a {}, not a {}",
                other.scalar(),
                want.scalar()
            )));
        }
        if prefix != want.prefix() || digest.len() != DIGEST_CHARS {
            return Err(bad("it is not an ID issued by dirk".into()));
        }
        self.objects
            .reading()
            .get(id)
            .cloned()
            .ok_or_else(|| bad("this session did not issue it (IDs are valid only in the session that created them)".into()))
    }

    /// The container behind `id`, passed as argument `arg`.
    pub fn container(&self, arg: &str, id: &str) -> ApiResult<Container> {
        match self.get(Kind::Container, arg, id)? {
            Stored::Container(c) => Ok(*c),
            _ => Err(ApiError::invalid_arg(
                arg,
                id,
                "it does not name a container",
            )),
        }
    }

    /// The directory behind `id`, passed as argument `arg`.
    pub fn directory(&self, arg: &str, id: &str) -> ApiResult<Directory> {
        match self.get(Kind::Directory, arg, id)? {
            Stored::Directory(d) => Ok(d),
            _ => Err(ApiError::invalid_arg(
                arg,
                id,
                "it does not name a directory",
            )),
        }
    }

    /// The file behind `id`, passed as argument `arg`.
    pub fn file(&self, arg: &str, id: &str) -> ApiResult<File> {
        match self.get(Kind::File, arg, id)? {
            Stored::File(f) => Ok(f),
            _ => Err(ApiError::invalid_arg(arg, id, "it does not name a file")),
        }
    }

    /// The cache volume behind `id`, passed as argument `arg`.
    pub fn cache(&self, arg: &str, id: &str) -> ApiResult<CacheVolume> {
        match self.get(Kind::Cache, arg, id)? {
            Stored::Cache(c) => Ok(c),
            _ => Err(ApiError::invalid_arg(
                arg,
                id,
                "it does not name a cache volume",
            )),
        }
    }

    /// The secret behind `id`, passed as argument `arg`.
    pub fn secret(&self, arg: &str, id: &str) -> ApiResult<Secret> {
        match self.get(Kind::Secret, arg, id)? {
            Stored::Secret(s) => Ok(s),
            _ => Err(ApiError::invalid_arg(arg, id, "it does not name a secret")),
        }
    }

    /// The socket behind `id`, passed as argument `arg`.
    pub fn socket(&self, arg: &str, id: &str) -> ApiResult<Socket> {
        match self.get(Kind::Socket, arg, id)? {
            Stored::Socket(s) => Ok(s),
            _ => Err(ApiError::invalid_arg(arg, id, "it does not name a socket")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llb::Platform;

    #[test]
    fn same_object_same_id_and_bounded() {
        let store = IdStore::default();
        let c = Container::scratch(Platform::linux("amd64"));
        let a = store.container_id(&c);
        assert_eq!(a, store.container_id(&c.clone()));
        assert!(a.len() < 64, "{a}");
        let d = c.with_user("app");
        assert_ne!(a, store.container_id(&d));
        assert!(store.container("id", &a).is_ok());
    }

    #[test]
    fn forged_corrupted_and_mistyped_ids_are_rejected() {
        let store = IdStore::default();
        let dir = Directory::empty(Platform::linux("amd64"));
        let id = store.directory_id(&dir);
        let msg = |r: ApiResult<Container>| {
            r.err()
                .map(|e| e.into_graphql("Query.container").message)
                .unwrap_or_default()
        };
        assert!(msg(store.container("id", &id)).contains("it is a DirectoryID, not a ContainerID"));
        assert!(msg(store.container("id", "garbage")).contains("not an ID issued by dirk"));
        let forged = format!("ctr.{}", "A".repeat(DIGEST_CHARS));
        assert!(msg(store.container("id", &forged)).contains("this session did not issue it"));
        let mut corrupted = id.clone();
        corrupted.pop();
        assert!(store.directory("id", &corrupted).is_err());
        assert!(msg(store.container("id", &"x".repeat(10_000))).len() < 400);
    }
}
