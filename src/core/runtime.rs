//! What domain operations need from their session: the engine, the default platform, the
//! session's stores ([`SessionStores`]), its host, and the images it resolved (pinned once per
//! session).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::engine::{Engine, EngineError, ResolvedImage};
use super::error::{CoreError, CoreResult};
use super::image::{ImageConfig, ImageRef};
use super::progress::ProgressSink;
use super::registry::RegistryAuth;
use super::secret::SecretStore;
use super::stores::SessionStores;
use super::stores::exports::ExportSlot;
use super::stores::git_pins::GitPins;
use super::stores::host::Host;
use crate::llb::{LocalSource, Platform, State};
use crate::shim;
use crate::sync::Locked;

/// The name under which sessions serve the directory holding the exec shim. It carries the shim's
/// content hash: the daemon merges identical sources of concurrent sessions, which is right only
/// when their shims are the same.
pub fn shim_source_name() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        let hex = shim::shim_digest().trim_start_matches("sha256:");
        format!("dirk-shim-{}", &hex[..16.min(hex.len())])
    })
}

/// The step name of the exec shim's delivery (downloaded or sent). It is dirk's own plumbing, not a
/// step of the user's pipeline, so progress displays and traces leave it out.
pub const SHIM_STEP_NAME: &str = "dirk exec shim";

/// Whether a registry error means the request lacked (valid) credentials.
fn is_auth_failure(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("401 unauthorized")
        || m.contains("authorization failed")
        || m.contains("no basic auth credentials")
}

/// `e`, from the daemon doing `action` with registry `domain`: where the registry refused for want
/// of credentials, an error that says how to give them.
pub(crate) fn registry_error(action: String, domain: &str, e: EngineError) -> CoreError {
    if is_auth_failure(&e.to_string()) {
        CoreError::Unsupported(format!(
            "{action}: {e}: the registry {domain} wants credentials; pass them with withRegistryAuth(address, username, secret) or log in with docker login"
        ))
    } else {
        CoreError::engine(action, e)
    }
}

/// How the daemon gets the exec shim that every exec mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShimDelivery {
    /// The session sends it, as it sends host directories. The daemon keys such a transfer by the
    /// session, so a new session finds its cached execs by the shim's content: after a transfer
    /// (however small) and a checksum, in every session.
    Session,
    /// The daemon downloads it from `url` (the session's own HTTP server) by its digest. The digest
    /// alone is the cache key: a new session finds its cached execs by key at once, and the daemon
    /// downloads the shim only when its cache lacks it. Only for daemons that reach this process's
    /// loopback.
    Download {
        /// Where the session serves the shim.
        url: String,
    },
}

impl ShimDelivery {
    /// The directory holding the shim (as `shim`), delivered this way.
    fn state(&self) -> State {
        match self {
            ShimDelivery::Session => LocalSource {
                name: shim_source_name().into(),
                shared_key_hint: Some(shim_source_name().into()),
                description: Some(SHIM_STEP_NAME.into()),
                ..Default::default()
            }
            .build(),
            ShimDelivery::Download { url } => crate::llb::HttpSource {
                url: url.clone(),
                filename: "shim".into(),
                checksum: Some(shim::shim_digest().to_owned()),
                mode: Some(0o755),
                description: Some(SHIM_STEP_NAME.into()),
                ..Default::default()
            }
            .build(),
        }
    }
}

/// Per-session context for domain operations.
pub struct Runtime {
    engine: Arc<dyn Engine>,
    default_platform: Platform,
    images: Mutex<HashMap<(String, Platform), Arc<ResolvedImage>>>,
    shim: State,
    host: Option<Host>,
    stores: SessionStores,
    progress: ProgressSink,
    /// Whether the daemon may push images itself: until it said it cannot.
    daemon_pushes: std::sync::atomic::AtomicBool,
}

impl Runtime {
    /// A runtime over `engine` keeping what it needs in `stores`; the default platform is the
    /// engine's first.
    pub fn new(engine: Arc<dyn Engine>, stores: SessionStores) -> Self {
        let default_platform = engine
            .platforms()
            .into_iter()
            .next()
            .unwrap_or_else(|| Platform::linux("amd64"));
        let shim = ShimDelivery::Session.state();
        let daemon_pushes = engine.supports(super::layers::MERGE_OP_CAP);
        Runtime {
            engine,
            default_platform,
            images: Mutex::new(HashMap::new()),
            shim,
            host: None,
            stores,
            progress: ProgressSink::default(),
            // BuildKit's image exporter comes with the snapshotters that can merge (a buildkitd's,
            // containerd's under Docker's containerd image store); Docker's graph drivers have
            // neither. Asking a daemon without it costs a refused build, so only these are asked.
            daemon_pushes: std::sync::atomic::AtomicBool::new(daemon_pushes),
        }
    }

    /// Whether images are worth offering to the daemon's image exporter to push: until the daemon
    /// said it has none that pushes.
    pub fn daemon_pushes(&self) -> bool {
        self.daemon_pushes
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Records whether the daemon pushes images itself.
    pub fn set_daemon_pushes(&self, pushes: bool) {
        self.daemon_pushes
            .store(pushes, std::sync::atomic::Ordering::Relaxed);
    }

    /// Where steps the session carries out itself are announced.
    pub fn progress(&self) -> &ProgressSink {
        &self.progress
    }

    /// The commits this session pinned git branches and tags to.
    pub fn git_pins(&self) -> &GitPins {
        &self.stores.git_pins
    }

    /// The session's registry credentials.
    pub fn registry_auth(&self) -> &RegistryAuth {
        &self.stores.registry
    }

    /// Where exports are received.
    pub fn exports(&self) -> &ExportSlot {
        &self.stores.exports
    }

    /// The session's secrets.
    pub fn secrets(&self) -> &SecretStore {
        &self.stores.secrets
    }

    /// The session's services.
    pub fn services(&self) -> &super::service::ServiceManager {
        &self.stores.services
    }

    /// Starts (or joins) the services `state` names: the graph with their addresses, and the
    /// leases that keep them running (hold them until the graph's solve is done).
    pub async fn with_services(
        &self,
        state: &State,
    ) -> CoreResult<(State, Vec<super::service::Lease>)> {
        let cx = super::service::ServiceContext {
            engine: self.engine.clone(),
            sockets: self.stores.sockets.clone(),
            progress: self.progress.clone(),
        };
        self.stores.services.bind(&cx, state).await
    }

    /// This runtime, with the exec shim delivered as `delivery` says (the default: through the
    /// session).
    pub fn with_shim_delivery(mut self, delivery: ShimDelivery) -> Self {
        self.shim = delivery.state();
        self
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
    /// Also returns the image's layer diff IDs (the uncompressed digests of its layers, in order).
    pub async fn resolve_image(
        &self,
        reference: &ImageRef,
        platform: &Platform,
    ) -> CoreResult<(ImageRef, ImageConfig, Vec<String>)> {
        let key = (reference.to_string(), platform.clone());
        let cached = self.images.locked().get(&key).cloned();
        let resolved = match cached {
            Some(r) => r,
            None => {
                let r = self
                    .engine
                    .resolve_image(&reference.to_string(), platform)
                    .await
                    .map_err(|e| {
                        registry_error(format!("resolving image {reference}"), &reference.domain, e)
                    })?;
                let r = Arc::new(r);
                self.images.locked().entry(key).or_insert(r).clone()
            }
        };
        let config = ImageConfig::from_image_json(&reference.to_string(), &resolved.config)?;
        let diff_ids = serde_json::from_slice::<serde_json::Value>(&resolved.config)
            .ok()
            .and_then(|v| {
                v["rootfs"]["diff_ids"].as_array().map(|ids| {
                    ids.iter()
                        .filter_map(|d| d.as_str().map(str::to_owned))
                        .collect()
                })
            })
            .unwrap_or_default();
        let pinned = if reference.digest.is_none() && resolved.digest.starts_with("sha256:") {
            reference.pinned(&resolved.digest)
        } else {
            reference.clone()
        };
        if pinned != *reference {
            // Later steps name the image by its pinned reference (an image written from the
            // container asks for its base's config again): the same image, so the same answer.
            self.images
                .locked()
                .entry((pinned.to_string(), platform.clone()))
                .or_insert(resolved);
        }
        Ok((pinned, config, diff_ids))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;

    use super::*;
    use crate::core::engine::{FileStat, FrontendRequest, FrontendResult, SolvedRef};
    use crate::llb::Definition;

    /// Answers image resolutions (counting them) and nothing else.
    #[derive(Default)]
    struct Resolver {
        asked: AtomicUsize,
    }

    fn none<T>() -> Result<T, EngineError> {
        Err(EngineError::Unavailable {
            message: "only images are resolved in this test".into(),
        })
    }

    #[async_trait]
    impl Engine for Resolver {
        async fn solve(&self, _: &Definition) -> Result<SolvedRef, EngineError> {
            none()
        }
        async fn read_file(
            &self,
            _: &SolvedRef,
            _: &str,
            _: u64,
            _: Option<u64>,
        ) -> Result<Vec<u8>, EngineError> {
            none()
        }
        async fn read_dir(&self, _: &SolvedRef, _: &str) -> Result<Vec<FileStat>, EngineError> {
            none()
        }
        async fn stat(&self, _: &SolvedRef, _: &str) -> Result<FileStat, EngineError> {
            none()
        }
        async fn resolve_image(&self, _: &str, _: &Platform) -> Result<ResolvedImage, EngineError> {
            self.asked.fetch_add(1, Ordering::SeqCst);
            Ok(ResolvedImage {
                digest: format!("sha256:{}", "a".repeat(64)),
                config: br#"{"rootfs": {"type": "layers", "diff_ids": ["sha256:1"]}}"#.to_vec(),
            })
        }
        async fn export(&self, _: &Definition, _: &str) -> Result<(), EngineError> {
            none()
        }
        async fn frontend_solve(&self, _: FrontendRequest) -> Result<FrontendResult, EngineError> {
            none()
        }
        fn platforms(&self) -> Vec<Platform> {
            vec![Platform::linux("amd64")]
        }
        fn supports(&self, _: &str) -> bool {
            false
        }
    }

    #[tokio::test]
    async fn an_image_is_resolved_once_whether_named_by_tag_or_by_its_pinned_digest() {
        let engine = Arc::new(Resolver::default());
        let rt = Runtime::new(engine.clone(), SessionStores::default());
        let platform = Platform::linux("amd64");
        let tagged =
            ImageRef::parse("registry.example/team/app:1").unwrap_or_else(|e| panic!("{e}"));
        let (pinned, _, diff_ids) = rt
            .resolve_image(&tagged, &platform)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(pinned.to_string().ends_with(&"a".repeat(64)), "{pinned}");
        assert_eq!(diff_ids, vec!["sha256:1"]);
        let (again, _, _) = rt
            .resolve_image(&pinned, &platform)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again, pinned);
        rt.resolve_image(&tagged, &platform)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(engine.asked.load(Ordering::SeqCst), 1);
    }
}
