//! A pure, immutable builder for BuildKit's LLB graph.
//!
//! A [`State`] is a cheap handle on one output of an operation. Every builder method returns a new
//! `State` that points back at its inputs; nothing is sent anywhere until [`State::marshal`] walks the
//! graph into a [`Definition`] whose entries are content-addressed exactly as BuildKit addresses them
//! (`sha256` of each serialised `pb.Op`). This module does no I/O and knows nothing of sessions,
//! GraphQL or the daemon.

mod exec;
mod file;
mod hosts;
mod layers;
mod marshal;
pub(crate) mod node;
mod platform;
mod scope;
mod source;

pub use exec::{CacheSharing, Exec, ExecOutputs, ExtraHost, HostAddr, Mount, MountKind};
pub use file::{Chown, FileAction};
pub use marshal::{Definition, DefinitionError};
pub use node::{State, digest_of};
pub use platform::{Platform, PlatformError};
pub use source::{GitSource, HttpSource, ImageSource, LocalSource};

/// The BuildKit protocol types this builder emits.
pub use bollard_buildkit_proto::pb;

#[cfg(test)]
mod tests;
