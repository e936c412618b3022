//! dirk: a BuildKit-backed GraphQL session gateway.
//!
//! Layers, top to bottom: `cli` (commands) → `session` (HTTP server, lifetime) → `api` (GraphQL) →
//! `core` (domain) → `llb` (graph builder). `buildkit` implements the engine `core` defines: transports,
//! the session tunnel with its attachables, and the gateway build. `distribution` pushes images to registries. `telemetry` exports traces.

pub mod api;
pub mod buildkit;
pub mod core;
pub mod distribution;
pub mod llb;
pub mod session;
pub mod shim;
pub mod sync;
pub mod telemetry;
pub mod tls;
