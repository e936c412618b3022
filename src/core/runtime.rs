//! What domain operations need from their session: the engine, the default platform, and the
//! per-session pins of unpinned sources.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::engine::{Engine, ResolvedImage};
use super::error::{CoreError, CoreResult};
use super::export::ExportSlot;
use super::git::GitPins;
use super::host::Host;
use super::image::{ImageConfig, ImageRef};
use super::progress::ProgressSink;
use super::registry::RegistryAuth;
use super::secret::SecretStore;
use crate::llb::{LocalSource, Platform, State};
use crate::shim;

/// The name under which sessions serve the directory holding the exec shim. It carries the shim's
/// content hash: the daemon merges identical sources of concurrent sessions, which is right only
/// when their shims are the same.
pub fn shim_source_name() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        use sha2::{Digest, Sha256};
        format!(
            "dirk-shim-{}",
            hex::encode(&Sha256::digest(shim::SHIM_BINARY)[..8])
        )
    })
}

/// The step name of the exec shim's transfer. It is dirk's own plumbing, not a step of the user's
/// pipeline, so progress displays and traces leave it out.
pub const SHIM_STEP_NAME: &str = "dirk exec shim";

/// Whether a registry error means the request lacked (valid) credentials.
fn is_auth_failure(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("401 unauthorized")
        || m.contains("authorization failed")
        || m.contains("no basic auth credentials")
}

/// Per-session context for domain operations.
pub struct Runtime {
    engine: Arc<dyn Engine>,
    default_platform: Platform,
    images: Mutex<HashMap<(String, Platform), Arc<ResolvedImage>>>,
    shim: State,
    host: Option<Host>,
    secrets: Arc<SecretStore>,
    exports: Arc<ExportSlot>,
    registry: Arc<RegistryAuth>,
    git_pins: GitPins,
    progress: ProgressSink,
}

impl Runtime {
    /// A runtime over `engine`; the default platform is the engine's first.
    pub fn new(engine: Arc<dyn Engine>) -> Self {
        let default_platform = engine
            .platforms()
            .into_iter()
            .next()
            .unwrap_or_else(|| Platform::linux("amd64"));
        let shim = LocalSource {
            name: shim_source_name().into(),
            shared_key_hint: Some(shim_source_name().into()),
            description: Some(SHIM_STEP_NAME.into()),
            ..Default::default()
        }
        .build();
        Runtime {
            engine,
            default_platform,
            images: Mutex::new(HashMap::new()),
            shim,
            host: None,
            secrets: Arc::default(),
            exports: Arc::default(),
            registry: Arc::default(),
            git_pins: GitPins::default(),
            progress: ProgressSink::default(),
        }
    }

    /// Where steps the session carries out itself are announced.
    pub fn progress(&self) -> &ProgressSink {
        &self.progress
    }

    /// The commits this session pinned git branches and tags to.
    pub fn git_pins(&self) -> &GitPins {
        &self.git_pins
    }

    /// This runtime, keeping registry credentials in `registry` (which the auth service reads).
    pub fn with_registry_auth(mut self, registry: Arc<RegistryAuth>) -> Self {
        self.registry = registry;
        self
    }

    /// The session's registry credentials.
    pub fn registry_auth(&self) -> &RegistryAuth {
        &self.registry
    }

    /// This runtime, receiving exports through `exports` (the slot the file-send service fills).
    pub fn with_exports(mut self, exports: Arc<ExportSlot>) -> Self {
        self.exports = exports;
        self
    }

    /// Where exports are received.
    pub fn exports(&self) -> &ExportSlot {
        &self.exports
    }

    /// This runtime, keeping secrets in `secrets` (the store the session's secrets service reads).
    pub fn with_secrets(mut self, secrets: Arc<SecretStore>) -> Self {
        self.secrets = secrets;
        self
    }

    /// The session's secrets.
    pub fn secrets(&self) -> &SecretStore {
        &self.secrets
    }

    /// This runtime, with access to the host's files through `host`.
    pub fn with_host(mut self, host: Host) -> Self {
        self.host = Some(host);
        self
    }

    /// The host, for sessions that have one.
    pub fn host(&self) -> CoreResult<&Host> {
        self.host.as_ref().ok_or_else(|| {
            CoreError::Unsupported("this session has no access to host files".into())
        })
    }

    /// The engine.
    pub fn engine(&self) -> &dyn Engine {
        self.engine.as_ref()
    }

    /// The platform used when none is asked for.
    pub fn default_platform(&self) -> &Platform {
        &self.default_platform
    }

    /// The directory holding the exec shim, as a state.
    pub fn shim_state(&self) -> State {
        self.shim.clone()
    }

    /// Fails with a clear error when the daemon lacks LLB capability `cap`, needed for `feature`.
    pub fn require(&self, cap: &str, feature: &str) -> CoreResult<()> {
        if self.engine.supports(cap) {
            return Ok(());
        }
        Err(CoreError::Unsupported(format!(
            "{feature} needs the BuildKit LLB capability {cap:?}, which this daemon lacks (BuildKit v0.9 or newer has it)"
        )))
    }

    /// Checks that execs can run on `platform` (the embedded shim is built for one platform).
    pub fn check_exec_platform(&self, platform: &Platform) -> CoreResult<()> {
        if platform.to_string() == shim::SHIM_PLATFORM
            || (shim::SHIM_PLATFORM == "linux/amd64" && platform.to_string() == "linux/386")
        {
            return Ok(());
        }
        Err(CoreError::Unsupported(format!(
            "cannot run commands on {platform}: this dirk build runs execs on {} only",
            shim::SHIM_PLATFORM
        )))
    }

    /// Resolves `reference` for `platform`, once per session: later calls get the same digest and
    /// config even if the tag has moved on the registry since.
    pub async fn resolve_image(
        &self,
        reference: &ImageRef,
        platform: &Platform,
    ) -> CoreResult<(ImageRef, ImageConfig)> {
        let key = (reference.to_string(), platform.clone());
        let cached = self.images.lock().ok().and_then(|m| m.get(&key).cloned());
        let resolved = match cached {
            Some(r) => r,
            None => {
                let r = self
                    .engine
                    .resolve_image(&reference.to_string(), platform)
                    .await
                    .map_err(|e| {
                        let action = format!("resolving image {reference}");
                        if is_auth_failure(&e.to_string()) {
                            CoreError::Unsupported(format!(
                                "{action}: {e}: the registry {} wants credentials; pass them with withRegistryAuth(address, username, secret) or log in with docker login",
                                reference.domain
                            ))
                        } else {
                            CoreError::engine(action, e)
                        }
                    })?;
                let r = Arc::new(r);
                if let Ok(mut m) = self.images.lock() {
                    m.entry(key).or_insert_with(|| r.clone());
                }
                r
            }
        };
        let config = ImageConfig::from_image_json(&reference.to_string(), &resolved.config)?;
        let pinned = if reference.digest.is_none() && resolved.digest.starts_with("sha256:") {
            reference.pinned(&resolved.digest)
        } else {
            reference.clone()
        };
        Ok((pinned, config))
    }
}
