//! The session's one long-lived build: a `Control.Solve` with no definition, through which the
//! daemon's gateway (`LLBBridge`) solves graphs and reads their results until dirk returns.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use bollard_buildkit_proto::moby::buildkit::v1 as control;
use bollard_buildkit_proto::moby::buildkit::v1::control_client::ControlClient;
use bollard_buildkit_proto::moby::buildkit::v1::frontend as gw;
use bollard_buildkit_proto::moby::buildkit::v1::frontend::llb_bridge_client::LlbBridgeClient;
use futures::FutureExt;
use futures::future::{BoxFuture, WeakShared};
use prost::Message;
use tokio::task::JoinHandle;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tracing::Instrument as _;

use super::remote_cache::RemoteCache;
use crate::core::engine::{
    Engine, EngineError, FileStat, FrontendRequest, FrontendResult, ImageWrite, ResolvedImage,
    SolvedRef,
};
use crate::llb::{Definition, Platform};
use crate::sync::Locked;

/// Largest gRPC message accepted from the daemon.
const MAX_MESSAGE: usize = 64 * 1024 * 1024;

/// Adds the build id that routes gateway calls to this session's build.
#[derive(Clone)]
pub(crate) struct BuildIdInterceptor(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for BuildIdInterceptor {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        request
            .metadata_mut()
            .insert("buildkit-controlapi-buildid", self.0.clone());
        crate::telemetry::inject(request.metadata_mut());
        Ok(request)
    }
}

type Bridge = LlbBridgeClient<InterceptedService<Channel, BuildIdInterceptor>>;
type SolveTask = JoinHandle<Result<tonic::Response<control::SolveResponse>, Status>>;
/// A file read: result, path, offset and length.
type ReadKey = (String, String, u64, Option<u64>);

/// Calls in progress, by key: identical concurrent requests share one call. The table holds the
/// calls weakly, so a call whose requesters have all gone (their clients hung up) is dropped,
/// which cancels it on the daemon.
struct Flights<K, T> {
    running: Mutex<HashMap<K, WeakShared<BoxFuture<'static, T>>>>,
}

impl<K: std::hash::Hash + Eq + Clone, T: Clone> Flights<K, T> {
    fn new() -> Self {
        Flights {
            running: Mutex::new(HashMap::new()),
        }
    }

    /// Joins the call for `key`, starting it with `start` when none is running, and waits for it.
    async fn join(&self, key: K, start: impl FnOnce() -> BoxFuture<'static, T>) -> T {
        let fut = {
            let mut running = self.running.locked();
            match running.get(&key).and_then(WeakShared::upgrade) {
                Some(fut) => fut,
                None => {
                    let fut = start().shared();
                    if let Some(weak) = fut.downgrade() {
                        running.insert(key.clone(), weak);
                    }
                    fut
                }
            }
        };
        let result = fut.await;
        self.running.locked().remove(&key);
        result
    }
}

/// The daemon's answer to the gateway's ping: what it can do.
#[derive(Debug, Clone, Default)]
pub struct Capabilities {
    /// LLB capability ids the daemon supports (e.g. `exec.mount.cache`, `file.base`), and its
    /// gateway API capabilities (e.g. `frontend.inputs`).
    pub llb: Vec<String>,
    /// Platforms of its workers, default first.
    pub platforms: Vec<Platform>,
}

/// A running gateway build.
pub struct GatewayBuild {
    bridge: Bridge,
    channel: Channel,
    build_ref: String,
    session_id: String,
    solve_task: Mutex<Option<SolveTask>>,
    caps: Capabilities,
    /// Solves in progress, by definition head.
    solves: Flights<String, Result<SolvedRef, EngineError>>,
    /// Definitions solved so far: identical definitions are solved once per session.
    solved: Mutex<HashMap<String, SolvedRef>>,
    /// Reads in progress: identical concurrent reads share one call (BuildKit v0.8 fails
    /// concurrent reads of one result with "flightcontrol: exceeded retry timeout").
    reads: Flights<ReadKey, Result<Vec<u8>, EngineError>>,
    /// Bounds the solves one session runs at once (the rest queue here, not in the daemon).
    solving: Arc<tokio::sync::Semaphore>,
    /// The remote cache every solve imports from.
    cache: Option<RemoteCache>,
    /// Whether the session's results are exported to it at the end.
    export_cache: bool,
}

/// How many solves one session sends the daemon at once: twice the machine's cores, between 4 and
/// 16. More gain nothing, and older daemons fail shared steps under heavy concurrency (BuildKit
/// v0.8's flightcontrol errors; bookworm's runc has been seen to deadlock starting many containers
/// at once).
fn max_concurrent_solves() -> usize {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    (cores * 2).clamp(4, 16)
}

/// Parses the vertex digest out of a BuildKit error's details, when it carries one.
pub(crate) fn failed_vertex(status: &Status) -> Option<String> {
    #[derive(Clone, PartialEq, prost::Message)]
    struct VertexDetail {
        #[prost(string, tag = "1")]
        digest: String,
    }
    let details = bollard_buildkit_proto::google::rpc::Status::decode(status.details()).ok()?;
    details
        .details
        .iter()
        .filter(|any| any.type_url.ends_with("errdefs.Vertex"))
        .find_map(|any| VertexDetail::decode(any.value.as_slice()).ok())
        .map(|v| v.digest)
        .filter(|d| !d.is_empty())
}

/// Turns a gateway call's status into an engine error.
pub(crate) fn engine_error(status: Status) -> EngineError {
    let message = status.message().trim().to_owned();
    // What tonic reports when the connection itself broke, whatever the code.
    let lower = message.to_ascii_lowercase();
    let connection_lost = [
        "transport error",
        "broken pipe",
        "connection reset",
        "h2 protocol error",
    ]
    .iter()
    .any(|m| lower.contains(m));
    match status.code() {
        _ if connection_lost => EngineError::Unavailable { message },
        Code::Unavailable | Code::Cancelled
            if message.is_empty()
                || message.contains("transport")
                || message.contains("connect") =>
        {
            EngineError::Unavailable {
                message: if message.is_empty() {
                    status.code().to_string()
                } else {
                    message
                },
            }
        }
        Code::Unavailable => EngineError::Unavailable { message },
        Code::NotFound => EngineError::NotFound { path: message },
        _ => EngineError::Solve {
            vertex: failed_vertex(&status),
            message,
        },
    }
}

fn not_found_or(path: &str, status: Status) -> EngineError {
    let message = status.message();
    if status.code() == Code::NotFound
        || message.contains("no such file or directory")
        || message.contains("not found")
    {
        EngineError::NotFound {
            path: path.to_owned(),
        }
    } else {
        engine_error(status)
    }
}

impl GatewayBuild {
    /// Starts the build in session `session_id` and waits until its gateway answers.
    /// With `cache`, every solve imports from it and the results are exported to it at the end.
    /// A daemon that cannot export a cache (Docker's embedded BuildKit with graph drivers) gets
    /// an import-only cache, and one that cannot import either gets none: the session goes on,
    /// and the log says so once.
    pub async fn start(
        channel: Channel,
        session_id: &str,
        cache: Option<&RemoteCache>,
    ) -> Result<GatewayBuild, EngineError> {
        let Some(wanted) = cache else {
            return Self::start_with(channel, session_id, None, false).await;
        };
        let refused = |e: &EngineError, what: &str| e.to_string().contains(what);
        match Self::start_with(channel.clone(), session_id, Some(wanted), true).await {
            Err(e) if refused(&e, "cache exporter") => {
                tracing::warn!(
                    "the remote cache ({}: {}) is import-only in this session: this daemon cannot export a build cache ({}); Docker's embedded BuildKit exports one only with the containerd image store, a buildkitd always can",
                    wanted.variable,
                    wanted.describe(),
                    e
                );
                match Self::start_with(channel.clone(), session_id, Some(wanted), false).await {
                    Err(e) if refused(&e, "cache importer") => {
                        tracing::warn!(
                            "the remote cache ({}) is not used: this daemon cannot import it either ({e})",
                            wanted.variable
                        );
                        Self::start_with(channel, session_id, None, false).await
                    }
                    other => other,
                }
            }
            other => other,
        }
    }

    async fn start_with(
        channel: Channel,
        session_id: &str,
        cache: Option<&RemoteCache>,
        export: bool,
    ) -> Result<GatewayBuild, EngineError> {
        let build_ref = super::session::random_id();
        let request = control::SolveRequest {
            r#ref: build_ref.clone(),
            session: session_id.to_owned(),
            cache: cache.map(|c| {
                let mut options = c.control_options();
                if !export {
                    options.exports.clear();
                }
                options
            }),
            ..Default::default()
        };
        let (bridge, solve_task, pong) = open_build(&channel, request).await?;
        let platforms = pong
            .workers
            .iter()
            .flat_map(|w| w.platforms.iter().map(Platform::from_pb))
            .fold(Vec::new(), |mut acc, p| {
                if !acc.contains(&p) {
                    acc.push(p);
                }
                acc
            });
        let caps = Capabilities {
            llb: pong
                .llb_caps
                .iter()
                .chain(&pong.frontend_api_caps)
                .filter(|c| c.enabled)
                .map(|c| c.id.clone())
                .collect(),
            platforms,
        };
        Ok(GatewayBuild {
            bridge,
            channel,
            build_ref,
            session_id: session_id.to_owned(),
            solve_task: Mutex::new(Some(solve_task)),
            caps,
            solves: Flights::new(),
            solved: Mutex::new(HashMap::new()),
            reads: Flights::new(),
            solving: Arc::new(tokio::sync::Semaphore::new(max_concurrent_solves())),
            cache: cache.cloned(),
            export_cache: export,
        })
    }

    /// The connection and build reference to ask the daemon for this build's progress.
    pub fn status_target(&self) -> (Channel, String) {
        (self.channel.clone(), self.build_ref.clone())
    }

    /// What the daemon said it supports.
    pub fn capabilities(&self) -> &Capabilities {
        &self.caps
    }

    /// Whether the session's results go to a remote cache when it ends.
    pub fn exports_cache(&self) -> bool {
        self.export_cache
    }

    /// Ends the build: results are released and the daemon's `Solve` returns.
    /// With a remote cache, the build's result is everything the session solved, which the
    /// daemon then exports to the cache (waiting for that export, within `timeout`).
    pub async fn finish(&self, timeout: Duration) {
        let mut bridge = self.bridge.clone();
        let result = if self.export_cache {
            self.all_results()
        } else {
            gw::Result::default()
        };
        let ret = gw::ReturnRequest {
            result: Some(result),
            error: None,
        };
        let _ = tokio::time::timeout(timeout, bridge.r#return(ret)).await;
        let task = self.solve_task.locked().take();
        if let Some(task) = task {
            match tokio::time::timeout(timeout, task).await {
                Ok(Ok(Ok(_))) => tracing::debug!(build = %self.build_ref, "session build finished"),
                Ok(Ok(Err(s))) => match self.cache.as_ref().filter(|_| self.export_cache) {
                    Some(cache) => tracing::warn!(
                        cache = %cache.describe(),
                        "the remote cache ({}) was not written: {}; pipelines ran as usual, and later sessions will not find this one's results there",
                        cache.variable,
                        s.message()
                    ),
                    None => {
                        tracing::debug!(build = %self.build_ref, error = %s.message(), "session build ended with an error")
                    }
                },
                _ if self.export_cache => tracing::warn!(
                    "the remote cache export did not finish within {} s; give the session longer to close (--cleanup-timeout)",
                    timeout.as_secs()
                ),
                _ => tracing::debug!(build = %self.build_ref, "session build did not end in time"),
            }
        }
    }

    /// Everything the session solved, as one result: each ref under its own key, and the
    /// platform mapping daemons ask of a result with several refs (the default platform for all).
    fn all_results(&self) -> gw::Result {
        let refs: std::collections::BTreeSet<String> =
            self.solved.locked().values().map(|r| r.0.clone()).collect();
        if refs.is_empty() {
            return gw::Result::default();
        }
        let platform = self
            .caps
            .platforms
            .first()
            .cloned()
            .unwrap_or_else(|| Platform::linux("amd64"));
        let keys: Vec<String> = (0..refs.len()).map(|i| format!("r{i}")).collect();
        let mapping = serde_json::json!({
            "platforms": keys.iter().map(|k| serde_json::json!({
                "id": k,
                "platform": { "os": platform.os, "architecture": platform.architecture },
            })).collect::<Vec<_>>()
        });
        gw::Result {
            result: Some(gw::result::Result::Refs(gw::RefMap {
                refs: keys
                    .into_iter()
                    .zip(refs)
                    .map(|(k, id)| (k, gw::Ref { id, def: None }))
                    .collect(),
            })),
            metadata: std::collections::HashMap::from([(
                "refs.platforms".to_owned(),
                serde_json::to_vec(&mapping).unwrap_or_default(),
            )]),
            ..Default::default()
        }
    }

    async fn solve_uncached(
        bridge: Bridge,
        request: gw::SolveRequest,
        solving: Arc<tokio::sync::Semaphore>,
    ) -> Result<SolvedRef, EngineError> {
        let _permit = solving
            .acquire_owned()
            .await
            .map_err(|_| EngineError::Unavailable {
                message: "the session is closing".into(),
            })?;
        let response = retry_contention(|| {
            let (mut bridge, request) = (bridge.clone(), request.clone());
            async move { bridge.solve(request).await }
        })
        .await
        .map_err(engine_error)?
        .into_inner();
        solved_ref(response)
    }
}

/// Whether a daemon's refusal says it has no such exporter (`exporter "image" could not be found`
/// from Docker's graph-driver BuildKit).
fn lacks_exporter(message: &str) -> bool {
    message.contains("exporter")
        && (message.contains("could not be found") || message.contains("not found"))
}

/// Starts a build whose frontend is this process (`request` names no frontend and no definition)
/// and waits until its gateway answers: the gateway, the daemon's `Solve` (which returns once the
/// build's result is returned and exported), and what the gateway said of the daemon.
async fn open_build(
    channel: &Channel,
    request: control::SolveRequest,
) -> Result<(Bridge, SolveTask, gw::PongResponse), EngineError> {
    let build_ref = request.r#ref.clone();
    let mut control_client =
        ControlClient::new(channel.clone()).max_decoding_message_size(MAX_MESSAGE);
    let mut request = tonic::Request::new(request);
    crate::telemetry::inject(request.metadata_mut());
    let solve_task = tokio::spawn(async move { control_client.solve(request).await });
    let id = tonic::metadata::MetadataValue::try_from(build_ref.as_str()).map_err(|e| {
        EngineError::Other {
            message: e.to_string(),
        }
    })?;
    let mut bridge = LlbBridgeClient::with_interceptor(channel.clone(), BuildIdInterceptor(id))
        .max_decoding_message_size(MAX_MESSAGE)
        .max_encoding_message_size(MAX_MESSAGE);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match bridge.ping(gw::PingRequest {}).await {
            Ok(p) => return Ok((bridge, solve_task, p.into_inner())),
            Err(status) => {
                if solve_task.is_finished() || tokio::time::Instant::now() > deadline {
                    let reason = match solve_task.now_or_never() {
                        Some(Ok(Err(s))) => s.message().to_owned(),
                        _ => status.message().to_owned(),
                    };
                    return Err(EngineError::Unavailable {
                        message: format!("the daemon did not start a build: {reason}"),
                    });
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// A request that solves `def` now and returns its result, looking in `cache` too.
fn evaluate_request(
    def: bollard_buildkit_proto::pb::Definition,
    cache: Option<&RemoteCache>,
) -> gw::SolveRequest {
    gw::SolveRequest {
        definition: Some(def),
        allow_result_return: true,
        allow_result_array_ref: true,
        evaluate: true,
        cache_imports: cache.map(RemoteCache::imports).unwrap_or_default(),
        ..Default::default()
    }
}

/// The one result a solve answered.
fn solved_ref(response: gw::SolveResponse) -> Result<SolvedRef, EngineError> {
    match response.result.and_then(|r| r.result) {
        Some(gw::result::Result::Ref(r)) => Ok(SolvedRef(r.id)),
        Some(gw::result::Result::RefDeprecated(id)) => Ok(SolvedRef(id)),
        _ => Err(EngineError::Other {
            message: "the daemon returned no result for the solve".into(),
        }),
    }
}

/// The span of one solve: the definition's head and every vertex digest in it.
fn solve_span(def: &Definition) -> tracing::Span {
    let span = tracing::info_span!(
        "buildkit.solve",
        buildkit.definition = %def.head,
        buildkit.vertices = def.pb.def.len(),
        buildkit.vertex_digests = tracing::field::Empty,
    );
    // Hashing every op is only worth it when someone records the span.
    if !span.is_disabled() {
        let sent: Vec<(String, Option<String>)> = def
            .pb
            .def
            .iter()
            .map(|op| {
                let digest = crate::llb::digest_of(op);
                let name = def
                    .pb
                    .metadata
                    .get(&digest)
                    .and_then(|m| m.description.get("llb.customname").cloned());
                (digest, name)
            })
            .collect();
        let digests: Vec<&str> = sent.iter().map(|(d, _)| d.as_str()).collect();
        span.record("buildkit.vertex_digests", digests.join(",").as_str());
        crate::telemetry::steps::note_solve(&span, &sent);
    }
    span
}

/// BuildKit before v0.9 gives up on vertices that many concurrent solves share with
/// "flightcontrol: exceeded retry timeout"; nothing is wrong with the request, so it is retried a
/// few times after a short, jittered pause.
async fn retry_contention<T, F, Fut>(mut call: F) -> Result<T, Status>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Status>>,
{
    const ATTEMPTS: u32 = 8;
    let mut attempt = 1;
    loop {
        match call().await {
            Err(status)
                if attempt < ATTEMPTS
                    && status
                        .message()
                        .contains("flightcontrol: exceeded retry timeout") =>
            {
                let pause = 50 * u64::from(attempt) + u64::from(rand::random::<u8>());
                tracing::debug!(attempt, pause_ms = pause, "BuildKit contention; retrying");
                tokio::time::sleep(Duration::from_millis(pause)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

#[async_trait]
impl Engine for GatewayBuild {
    async fn solve(&self, def: &Definition) -> Result<SolvedRef, EngineError> {
        let memo = self.solved.locked().get(&def.head).cloned();
        if let Some(solved) = memo {
            return Ok(solved);
        }
        let result = self
            .solves
            .join(def.head.clone(), || {
                Self::solve_uncached(
                    self.bridge.clone(),
                    evaluate_request(def.pb.clone(), self.cache.as_ref()),
                    self.solving.clone(),
                )
                .instrument(solve_span(def))
                .boxed()
            })
            .await;
        // Failures are not remembered: a later request solves again.
        if let Ok(solved) = &result {
            self.solved
                .locked()
                .insert(def.head.clone(), solved.clone());
        }
        result
    }

    async fn run(&self, def: &Definition) -> Result<SolvedRef, EngineError> {
        let request = evaluate_request(def.pb.clone(), self.cache.as_ref());
        let mut bridge = self.bridge.clone();
        let response = bridge
            .solve(request)
            .instrument(solve_span(def))
            .await
            .map_err(engine_error)?
            .into_inner();
        solved_ref(response)
    }

    async fn read_file(
        &self,
        result: &SolvedRef,
        path: &str,
        offset: u64,
        len: Option<u64>,
    ) -> Result<Vec<u8>, EngineError> {
        let bridge = self.bridge.clone();
        let range = len
            .map(|l| gw::FileRange {
                offset: offset as i64,
                length: l as i64,
            })
            .or(if offset > 0 {
                Some(gw::FileRange {
                    offset: offset as i64,
                    length: 0,
                })
            } else {
                None
            });
        let request = gw::ReadFileRequest {
            r#ref: result.0.clone(),
            file_path: path.to_owned(),
            range,
            mount_index: 0,
        };
        let key: ReadKey = (result.0.clone(), path.to_owned(), offset, len);
        let span = tracing::debug_span!("buildkit.read_file", path = %path);
        let path = path.to_owned();
        self.reads
            .join(key, || {
                async move {
                    Ok(retry_contention(|| {
                        let (mut bridge, request) = (bridge.clone(), request.clone());
                        async move { bridge.read_file(request).await }
                    })
                    .await
                    .map_err(|s| not_found_or(&path, s))?
                    .into_inner()
                    .data)
                }
                .boxed()
            })
            .instrument(span)
            .await
    }

    async fn read_dir(&self, result: &SolvedRef, path: &str) -> Result<Vec<FileStat>, EngineError> {
        let mut bridge = self.bridge.clone();
        let request = gw::ReadDirRequest {
            r#ref: result.0.clone(),
            dir_path: path.to_owned(),
            include_pattern: String::new(),
            mount_index: 0,
        };
        let entries = bridge
            .read_dir(request)
            .await
            .map_err(|s| not_found_or(path, s))?
            .into_inner()
            .entries;
        Ok(entries
            .into_iter()
            .map(|s| FileStat {
                path: s.path,
                mode: s.mode,
                size: s.size,
                mod_time: s.mod_time,
            })
            .collect())
    }

    async fn stat(&self, result: &SolvedRef, path: &str) -> Result<FileStat, EngineError> {
        let mut bridge = self.bridge.clone();
        let request = gw::StatFileRequest {
            r#ref: result.0.clone(),
            path: path.to_owned(),
            mount_index: 0,
        };
        let stat = bridge
            .stat_file(request)
            .await
            .map_err(|s| not_found_or(path, s))?
            .into_inner()
            .stat;
        let s = stat.ok_or_else(|| EngineError::NotFound {
            path: path.to_owned(),
        })?;
        Ok(FileStat {
            path: s.path,
            mode: s.mode,
            size: s.size,
            mod_time: s.mod_time,
        })
    }

    async fn resolve_image(
        &self,
        reference: &str,
        platform: &Platform,
    ) -> Result<ResolvedImage, EngineError> {
        let mut bridge = self.bridge.clone();
        let request = gw::ResolveImageConfigRequest {
            r#ref: reference.to_owned(),
            platform: Some(platform.to_pb()),
            resolve_mode: "default".into(),
            log_name: format!("resolve image config for {reference}"),
            session_id: self.session_id.clone(),
            ..Default::default()
        };
        let response = bridge
            .resolve_image_config(request)
            .instrument(tracing::debug_span!("buildkit.resolve_image", image = %reference))
            .await
            .map_err(engine_error)?
            .into_inner();
        Ok(ResolvedImage {
            digest: response.digest,
            config: response.config,
        })
    }

    fn platforms(&self) -> Vec<Platform> {
        self.caps.platforms.clone()
    }

    async fn frontend_solve(
        &self,
        request: FrontendRequest,
    ) -> Result<FrontendResult, EngineError> {
        let solve = gw::SolveRequest {
            frontend: request.frontend.clone(),
            frontend_opt: request.options.into_iter().collect(),
            frontend_inputs: request
                .inputs
                .into_iter()
                .map(|(name, def)| (name, def.pb))
                .collect(),
            allow_result_return: true,
            allow_result_array_ref: true,
            evaluate: true,
            ..Default::default()
        };
        let mut bridge = self.bridge.clone();
        let response = bridge
            .solve(solve)
            .instrument(
                tracing::info_span!("buildkit.frontend", buildkit.frontend = %request.frontend),
            )
            .await
            .map_err(engine_error)?
            .into_inner();
        let Some(result) = response.result else {
            return Ok(FrontendResult::default());
        };
        let definition = match result.result {
            Some(gw::result::Result::Ref(r)) => r.def,
            _ => None,
        };
        Ok(FrontendResult {
            definition,
            metadata: result.metadata.into_iter().collect(),
        })
    }

    async fn export(&self, def: &Definition, exporter: &str) -> Result<(), EngineError> {
        // A build of its own: the session's long-lived build has no exporter. Its steps are cached
        // already, so this only transfers files.
        let mut control =
            ControlClient::new(self.channel.clone()).max_decoding_message_size(MAX_MESSAGE);
        let request = control::SolveRequest {
            r#ref: super::session::random_id(),
            definition: Some(def.pb.clone()),
            exporter_deprecated: exporter.to_owned(),
            session: self.session_id.clone(),
            ..Default::default()
        };
        let mut request = tonic::Request::new(request);
        crate::telemetry::inject(request.metadata_mut());
        control
            .solve(request)
            .instrument(tracing::info_span!("buildkit.export", buildkit.exporter = %exporter, buildkit.definition = %def.head))
            .await
            .map_err(engine_error)?;
        Ok(())
    }

    async fn write_image(
        &self,
        image: &ImageWrite,
    ) -> Result<std::collections::BTreeMap<String, String>, EngineError> {
        // A build of its own whose exporter is one of the daemon's image exporters: this process
        // solves the filesystem in it and returns it with the image config, and the exporter
        // writes the image (asking the session's auth service for credentials where it pushes).
        let attrs: HashMap<String, String> = image
            .options
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let name = image.options.get("name").cloned().unwrap_or_default();
        let request = control::SolveRequest {
            r#ref: super::session::random_id(),
            session: self.session_id.clone(),
            exporter_deprecated: image.exporter.clone(),
            exporter_attrs_deprecated: attrs,
            ..Default::default()
        };
        let span = tracing::info_span!("buildkit.write_image", buildkit.exporter = %image.exporter, buildkit.image = %name, buildkit.definition = %image.rootfs.head);
        async {
            let (mut bridge, solve_task, _) =
                open_build(&self.channel, request)
                    .await
                    .map_err(|e| match e.to_string() {
                        m if lacks_exporter(&m) => EngineError::Unsupported { message: m },
                        _ => e,
                    })?;
            let solved = bridge
                .solve(evaluate_request(
                    image.rootfs.pb.clone(),
                    self.cache.as_ref(),
                ))
                .await
                .map_err(engine_error);
            let result = solved.and_then(|r| solved_ref(r.into_inner()));
            let ret = match &result {
                Ok(r) => gw::ReturnRequest {
                    result: Some(gw::Result {
                        result: Some(gw::result::Result::Ref(gw::Ref {
                            id: r.0.clone(),
                            def: None,
                        })),
                        metadata: HashMap::from([(
                            "containerimage.config".to_owned(),
                            image.config.clone(),
                        )]),
                        ..Default::default()
                    }),
                    error: None,
                },
                Err(e) => gw::ReturnRequest {
                    result: None,
                    error: Some(bollard_buildkit_proto::google::rpc::Status {
                        code: Code::Unknown as i32,
                        message: e.to_string(),
                        details: vec![],
                    }),
                },
            };
            bridge.r#return(ret).await.map_err(engine_error)?;
            result?;
            let response = solve_task
                .await
                .map_err(|e| EngineError::Other {
                    message: format!("writing {name}: {e}"),
                })?
                .map_err(|status| {
                    if lacks_exporter(status.message()) {
                        EngineError::Unsupported {
                            message: status.message().to_owned(),
                        }
                    } else {
                        engine_error(status)
                    }
                })?
                .into_inner();
            Ok(response.exporter_response.into_iter().collect())
        }
        .instrument(span)
        .await
    }

    fn supports(&self, capability: &str) -> bool {
        self.caps.llb.iter().any(|c| c == capability)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn identical_calls_share_one_and_abandoned_calls_are_dropped() {
        let flights: Flights<&str, usize> = Flights::new();
        let started = Arc::new(AtomicUsize::new(0));
        let (release, gate) = tokio::sync::watch::channel(false);
        let call = || {
            let (started, mut gate) = (started.clone(), gate.clone());
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                let _ = gate.wait_for(|open| *open).await;
                7
            }
            .boxed()
        };
        let (a, b) = (flights.join("k", call), flights.join("k", call));
        let both = tokio::spawn(async move {
            let _ = release.send(true);
        });
        let (a, b) = tokio::join!(a, b);
        let _ = both.await;
        assert_eq!((a, b), (7, 7));
        assert_eq!(
            started.load(Ordering::SeqCst),
            1,
            "one call for two requests"
        );

        // A call nobody waits for any more is gone: the next request starts a new one.
        let (_hold, blocked) = tokio::sync::watch::channel(false);
        let stuck = || {
            let mut blocked = blocked.clone();
            async move {
                let _ = blocked.wait_for(|open| *open).await;
                0
            }
            .boxed()
        };
        let abandoned =
            tokio::time::timeout(Duration::from_millis(20), flights.join("s", stuck)).await;
        assert!(abandoned.is_err());
        assert!(
            flights
                .running
                .locked()
                .get("s")
                .and_then(WeakShared::upgrade)
                .is_none(),
            "the abandoned call is no longer held"
        );
    }
}
