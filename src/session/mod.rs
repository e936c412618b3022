//! A session: one BuildKit session and build, one GraphQL server on loopback, one token, and the
//! files the session serves to the daemon. It lives until told to shut down.

pub(crate) mod files;
pub(crate) mod http;
pub mod request;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use crate::api::{self, ApiState};
use crate::buildkit::ConnectError;
use crate::buildkit::address::{AddressError, Runner};
use crate::buildkit::attach::Attachables;
use crate::buildkit::reconnect::ReconnectingEngine;
use crate::buildkit::remote_cache::RemoteCache;
use crate::buildkit::session::SessionIdentity;
use crate::core::progress::ProgressEvent;
use crate::core::stores::SessionStores;
use crate::core::{Host, Runtime, SecretStore, ShimDelivery};

/// Stack size of the threads that serve a session. Pipelines arrive as one nested selection per
/// chained call and are parsed, validated and executed recursively, so a 1,000-step chain needs
/// far more than the default 2 MiB; the memory is reserved, not used, until a query nests deep.
pub const WORKER_STACK_BYTES: usize = 64 << 20;

/// How a session is set up.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Directory relative host paths resolve against.
    pub workdir: PathBuf,
    /// `key:value` labels from the client (shown in logs).
    pub labels: Vec<(String, String)>,
    /// Port to listen on (0 picks a free one).
    pub port: u16,
}

/// Why a session could not start.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// The runner address is malformed.
    #[error(transparent)]
    Address(#[from] AddressError),
    /// The remote cache configuration is malformed.
    #[error(transparent)]
    Cache(#[from] crate::buildkit::remote_cache::CacheConfigError),
    /// The daemon could not be reached or refused the session.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The API could not be built (a defect in the served schema).
    #[error("building the API: {0}")]
    Schema(#[from] api::sdl::SdlError),
    /// The listener could not be bound.
    #[error("listening on 127.0.0.1: {0}")]
    Listen(std::io::Error),
    /// `DIRK_SHIM_SOURCE` names no way of delivering the exec shim.
    #[error(
        "DIRK_SHIM_SOURCE={0:?} is not understood: set it to `session` (the session sends the exec shim to the daemon) or leave it unset (the daemon downloads it from the session where it can reach it)"
    )]
    ShimSource(String),
}

/// How the user wants the exec shim delivered (`DIRK_SHIM_SOURCE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ShimSource {
    /// Unset: downloaded by daemons that reach this process's loopback, sent to the others.
    Auto,
    /// `session`: always sent through the session.
    Session,
}

impl ShimSource {
    fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<ShimSource, SessionError> {
        match env("DIRK_SHIM_SOURCE").as_deref().map(str::trim) {
            None | Some("") => Ok(ShimSource::Auto),
            Some("session") => Ok(ShimSource::Session),
            Some(other) => Err(SessionError::ShimSource(other.to_owned())),
        }
    }
}

/// A running session.
pub struct Session {
    /// Where the API listens.
    pub addr: SocketAddr,
    /// The token clients authenticate with.
    pub token: String,
    buildkit: Arc<ReconnectingEngine>,
    state: Arc<ApiState>,
    schema: async_graphql::dynamic::Schema,
    secrets: Arc<SecretStore>,
    span: tracing::Span,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<()>,
    /// Turns the daemon's progress into a span per step, when traces are exported.
    step_spans: Option<JoinHandle<()>>,
}

/// The next step the session ran itself; `None` once none can come. A watcher that fell behind
/// skips what it missed.
async fn next_local(
    rx: &mut tokio::sync::broadcast::Receiver<crate::core::progress::LocalStep>,
) -> Option<crate::core::progress::LocalStep> {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match rx.recv().await {
            Ok(step) => return Some(step),
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return None,
        }
    }
}

/// Reads frozen host files back from the daemon: the sync that first sent a file is asked for again
/// (its graph is the same, so the daemon answers it from that sync's result, without syncing) and
/// the file is read from its result.
struct FirstSync(Arc<ApiState>);

impl files::FrozenReader for FirstSync {
    fn read(
        &self,
        origin: files::SyncOrigin,
    ) -> futures::future::BoxFuture<'static, Result<bytes::Bytes, crate::core::CoreError>> {
        let state = self.0.clone();
        Box::pin(async move {
            let rt = &state.rt;
            let action = format!("reading {} as this session first synced it", origin.rel);
            let source = rt.host()?.synced_source(
                &origin.source.dir_name,
                origin.source.include.clone(),
                origin.source.exclude.clone(),
            );
            let def = source.marshal().ok_or_else(|| {
                crate::core::CoreError::Unsupported(format!("{action}: the sync has no graph"))
            })?;
            let engine_error = |e| crate::core::CoreError::engine(action.clone(), e);
            let solved = rt.engine().solve(&def).await.map_err(engine_error)?;
            let bytes = rt
                .engine()
                .read_file(&solved, &format!("/{}", origin.rel), 0, None)
                .await
                .map_err(engine_error)?;
            Ok(bytes::Bytes::from(bytes))
        })
    }
}

/// A fresh random session token (128 bits, hex).
pub fn new_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

impl Session {
    /// Connects to the runner named by the environment and starts serving.
    pub async fn start(
        config: SessionConfig,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Session, SessionError> {
        let runner = Runner::from_env(&env)?;
        let cache = RemoteCache::from_env(&env)?;
        let shim_source = ShimSource::from_env(&env)?;
        let identity = SessionIdentity::new("dirk", &format!("dirk:{}", config.workdir.display()));
        let span = tracing::info_span!(
            "dirk.session",
            session.id = %identity.id,
            buildkit.runner = %runner.address,
        );
        let stores = SessionStores::default();
        let files = Arc::new(files::SessionFiles::new(stores.host_dirs.clone()));
        let attachables = {
            let (files, stores) = (files.clone(), stores.clone());
            move || Attachables::new(files.clone(), &stores)
        };
        let shares_loopback = match shim_source {
            ShimSource::Session => false,
            ShimSource::Auto => crate::buildkit::transport::shares_loopback(&runner.address).await,
        };
        let buildkit = ReconnectingEngine::connect(runner, identity.clone(), cache, attachables)
            .instrument(span.clone())
            .await?;
        let listener = http::bind_loopback(config.port)
            .await
            .map_err(SessionError::Listen)?;
        let addr = listener.local_addr().map_err(SessionError::Listen)?;
        let shim = if shares_loopback {
            ShimDelivery::Download {
                url: format!("http://{addr}{}", crate::shim::shim_http_path()),
            }
        } else {
            ShimDelivery::Session
        };
        let buildkit = Arc::new(buildkit);
        let host = Host::new(
            config.workdir.clone(),
            identity.id.clone(),
            stores.host_dirs.clone(),
            stores.sockets.clone(),
        );
        let secrets = stores.secrets.clone();
        let state = Arc::new(ApiState {
            rt: Runtime::new(buildkit.clone(), stores)
                .with_host(host)
                .with_shim_delivery(shim),
            ids: Default::default(),
        });
        files.set_reader(Arc::new(FirstSync(state.clone())));
        let schema = api::build_schema(state.clone())?;
        let token = new_token();
        let app = http::router(schema.clone(), token.clone(), span.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::error!(error = %e, "the session's HTTP server stopped");
            }
        });
        tracing::info!(%addr, runner = %buildkit.runner().address, labels = ?config.labels, "session ready");
        let mut session = Session {
            addr,
            token,
            buildkit,
            state,
            schema,
            secrets,
            span,
            shutdown: Some(tx),
            server,
            step_spans: None,
        };
        if crate::telemetry::exporting() {
            session.step_spans = Some(session.record_step_spans());
        }
        Ok(session)
    }

    /// Records a span for every step the daemon (or the session itself) reports, until the
    /// session's progress ends.
    fn record_step_spans(&self) -> JoinHandle<()> {
        let mut events = self.watch_status();
        let mut recorder = crate::telemetry::steps::StepRecorder::new(&self.span);
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if let ProgressEvent::Step(step) = event {
                    recorder.record(&step);
                }
            }
        })
    }

    /// The domain context the API works in: for callers that drive pipelines without GraphQL.
    pub fn runtime(&self) -> &Runtime {
        &self.state.rt
    }

    /// The daemon's progress for this session's pipelines, with secret values masked.
    /// Steps the session runs itself (registry pushes) come in the same stream.
    pub fn watch_status(&self) -> tokio::sync::mpsc::Receiver<ProgressEvent> {
        let mut raw = self.buildkit.watch_status();
        let mut local = self.state.rt.progress().subscribe();
        let mut local_open = true;
        let secrets = self.secrets.clone();
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        tokio::spawn(async move {
            loop {
                let event = tokio::select! {
                    event = raw.recv() => match event {
                        Some(event) => event,
                        // The daemon's stream ends with the session: so does this one.
                        None => return,
                    },
                    step = next_local(&mut local), if local_open => match step {
                        Some(step) => ProgressEvent::from(step),
                        None => {
                            local_open = false;
                            continue;
                        }
                    },
                };
                if tx.send(event.map_text(|t| secrets.scrub(t))).await.is_err() {
                    return;
                }
            }
        });
        rx
    }

    /// Runs one GraphQL request in this session, exactly as the HTTP endpoint would, and returns
    /// the response document.
    pub async fn execute(
        &self,
        query: &str,
        variables: serde_json::Value,
        operation: Option<&str>,
    ) -> serde_json::Value {
        let mut request = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(variables));
        if let Some(op) = operation {
            request = request.operation_name(op);
        }
        http::execute_json(&self.schema, request, &self.span).await
    }

    /// Stops serving, ends the build and closes the BuildKit session within `timeout`.
    pub async fn shutdown(mut self, timeout: Duration) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(timeout, &mut self.server).await;
        self.server.abort();
        let rt = &self.state.rt;
        rt.services().stop_all(rt.progress()).await;
        self.buildkit.close(timeout).await;
        // The progress stream ends with the session: the last steps' spans are made by then.
        if let Some(recorder) = self.step_spans.take() {
            let _ = tokio::time::timeout(Duration::from_secs(2), recorder).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shim_source_is_read_from_the_environment() {
        let with = |v: Option<&str>| {
            let v = v.map(str::to_owned);
            ShimSource::from_env(move |_| v.clone())
        };
        assert_eq!(with(None).ok(), Some(ShimSource::Auto));
        assert_eq!(with(Some("")).ok(), Some(ShimSource::Auto));
        assert_eq!(with(Some("session")).ok(), Some(ShimSource::Session));
        let message = with(Some("ftp"))
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            message.contains("DIRK_SHIM_SOURCE=\"ftp\"") && message.contains("`session`"),
            "{message}"
        );
    }
}
