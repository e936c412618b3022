//! The exec shim that dirk mounts into every exec, and the contract it follows.
//!
//! The shim itself (`program.rs`) is a separate, statically linked program built by `build.rs`; this
//! module embeds its bytes and names the paths and variables both sides agree on.

#[allow(dead_code)]
mod protocol {
    include!("protocol.rs");
}
pub(crate) use protocol::*;

/// The statically linked shim executable for the platform dirk was built on.
pub(crate) static SHIM_BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/dirk-shim"));

/// The platform (`os/arch`) the embedded shim runs on.
pub(crate) const SHIM_PLATFORM: &str = env!("DIRK_SHIM_PLATFORM");
