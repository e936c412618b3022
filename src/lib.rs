//! dirk: a BuildKit-backed GraphQL session gateway.
//!
//! Layers, top to bottom: `cli` (commands) → `session` (HTTP server, lifetime) → `api` (GraphQL) →
//! `core` (domain) → `llb` (graph builder). `buildkit` implements the engine `core` defines: transports,
//! the session tunnel with its attachables, and the gateway build. `distribution` pushes images to registries. `telemetry` exports traces.

#![warn(unreachable_pub)]

pub mod api;
pub mod buildkit;
pub mod core;
pub(crate) mod distribution;
pub mod llb;
pub mod session;
pub(crate) mod shim;
pub(crate) mod sync;
pub mod telemetry;
pub(crate) mod tls;
