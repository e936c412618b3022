//! Services: containers whose last command keeps running so that other containers can reach it
//! over the network while their own commands run.
//!
//! A service is named by a hostname derived from its definition (the same container has the same
//! hostname in every session). Graphs name the services they need by hostname; before such a graph
//! is solved, [`ServiceManager::bind`] starts what it names (sharing one instance per hostname) and
//! gives the graph their addresses. This module holds the definitions; `instances` runs them and
//! `ready` is the channel through which a service's exec says where and when it is ready.

mod instances;
mod ready;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::engine::Engine;
use super::error::{CoreError, CoreResult};
use super::progress::ProgressSink;
use super::socket::SocketRegistry;
use crate::llb::{Exec, State};
use crate::sync::Locked;
pub use instances::{Lease, ServiceManager};

/// What starting services takes from the session: its engine, its forwarded sockets (for the
/// readiness channel) and where its own steps are announced.
#[derive(Clone)]
pub struct ServiceContext {
    pub engine: Arc<dyn Engine>,
    pub sockets: Arc<SocketRegistry>,
    pub progress: ProgressSink,
}

/// A network protocol of an exposed port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    /// The name the API uses (`TCP`, `UDP`).
    pub fn api_name(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        }
    }

    /// The name image configs use (`tcp`, `udp`).
    pub fn config_name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// A port a container exposes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Port {
    pub port: u16,
    pub protocol: Protocol,
    pub description: Option<String>,
}

impl Port {
    /// `PORT/proto`, as image configs write it.
    pub fn config_key(&self) -> String {
        format!("{}/{}", self.port, self.protocol.config_name())
    }
}

/// A service's definition: the command that serves and the ports it serves on.
#[derive(Debug, Clone)]
pub struct Service {
    /// Its hostname, derived from the definition.
    pub hostname: String,
    /// The exec that runs it (without a hostname of its own: that comes when it starts).
    pub exec: Exec,
    /// The ports it must accept connections on before it counts as ready.
    pub ports: Vec<Port>,
}

impl Service {
    /// The service that runs the exec producing `meta` (an exec's meta output).
    pub fn from_exec_state(meta: &State, ports: Vec<Port>) -> CoreResult<Service> {
        let exec = meta.exec_spec().ok_or_else(|| {
            CoreError::Unsupported("a service needs a command to run (withExec)".into())
        })?;
        let digest = meta
            .stable_digest()
            .ok_or_else(|| CoreError::Unsupported("a service needs a command to run".into()))?;
        Ok(Service {
            hostname: hostname_of(&digest),
            exec,
            ports,
        })
    }

    /// The command line, for messages.
    pub fn command(&self) -> String {
        self.exec
            .args
            .iter()
            .skip(1)
            .cloned()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// A hostname for a definition digest: 13 characters of base32hex (lower case) of its first 64
/// bits. Valid as a DNS label, and the same wherever the definition is the same.
pub fn hostname_of(digest: &str) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let hash = Sha256::digest(digest.as_bytes());
    let mut bits = u64::from_be_bytes([
        hash[0], hash[1], hash[2], hash[3], hash[4], hash[5], hash[6], hash[7],
    ]);
    let mut out = vec![0u8; 13];
    // 13 groups of 5 bits cover 65 bits: the last group takes the low 4 bits shifted up one.
    out[12] = ALPHABET[((bits & 0xf) << 1) as usize];
    bits >>= 4;
    for slot in out.iter_mut().take(12).rev() {
        *slot = ALPHABET[(bits & 0x1f) as usize];
        bits >>= 5;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The session's service definitions, by hostname.
#[derive(Debug, Default)]
pub struct ServiceDefinitions {
    defs: Mutex<HashMap<String, Arc<Service>>>,
}

impl ServiceDefinitions {
    /// Keeps `service` (a definition has one hostname, so a second registration is the same).
    pub fn register(&self, service: Service) -> Arc<Service> {
        self.defs
            .locked()
            .entry(service.hostname.clone())
            .or_insert_with(|| Arc::new(service))
            .clone()
    }

    /// The service with `hostname`.
    pub fn get(&self, hostname: &str) -> Option<Arc<Service>> {
        self.defs.locked().get(hostname).cloned()
    }
}

/// How a service is named in messages: its aliases and its hostname.
pub(crate) fn display_name(hostname: &str, aliases: &BTreeSet<String>) -> String {
    if aliases.is_empty() {
        hostname.to_owned()
    } else {
        let list: Vec<&str> = aliases.iter().map(String::as_str).collect();
        format!("{} ({hostname})", list.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_are_dns_labels_and_follow_the_definition() {
        let a = hostname_of("sha256:aaaa");
        assert_eq!(a.len(), 13);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
        );
        assert_eq!(a, hostname_of("sha256:aaaa"));
        assert_ne!(a, hostname_of("sha256:aaab"));
    }

    #[test]
    fn names_in_messages_carry_aliases() {
        let aliases: BTreeSet<String> = ["www".to_owned()].into();
        assert_eq!(display_name("h1", &aliases), "www (h1)");
        assert_eq!(display_name("h1", &BTreeSet::new()), "h1");
    }
}
