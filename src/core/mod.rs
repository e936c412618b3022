//! The domain: containers, directories, files and caches as immutable values over LLB states, and
//! the operations that evaluate them through an [`Engine`]. Nothing here knows GraphQL or gRPC.

pub mod cache;
pub mod container;
pub mod directory;
pub mod engine;
pub mod error;
pub mod export;
pub mod file;
pub mod git;
pub mod host;
pub mod image;
pub mod layers;
pub mod oci;
pub mod paths;
pub mod patterns;
pub mod pipeline;
pub mod progress;
pub mod registry;
pub mod runtime;
pub mod secret;
pub mod service;
pub mod socket;
pub mod solve;
pub mod stores;

pub use cache::CacheVolume;
pub use container::Container;
pub use container::exec::ExecOptions;
pub use directory::Directory;
pub use engine::{
    Engine, EngineError, FileStat, FrontendRequest, FrontendResult, ResolvedImage, SolvedRef,
};
pub use error::{CoreError, CoreResult, ExecError};
pub use file::File;
pub use host::{Host, HostDirs};
pub use runtime::{Runtime, ShimDelivery};
pub use secret::{Secret, SecretStore};
pub use socket::{Socket, SocketRegistry};
