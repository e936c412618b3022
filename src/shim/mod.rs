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

/// The embedded shim's digest, `sha256:` and 64 hex digits.
pub(crate) fn shim_digest() -> &'static str {
    static DIGEST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DIGEST.get_or_init(|| {
        use sha2::{Digest, Sha256};
        format!("sha256:{}", hex::encode(Sha256::digest(SHIM_BINARY)))
    })
}

/// The path under which a session's HTTP server offers the shim to its daemon (no token needed:
/// the shim is no secret, and only this exact path answers).
pub(crate) fn shim_http_path() -> String {
    format!("/dirk-shim/{}", shim_digest().trim_start_matches("sha256:"))
}
