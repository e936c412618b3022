//! Keeps a dirk session usable across daemon restarts. When a call finds the daemon gone, that call
//! fails at once with the daemon's error (its work was lost with the daemon); the next call opens a
//! new BuildKit session (same identity, same attachables) and goes on. The dirk session, its IDs,
//! secrets and host directories survive; only results held by the old daemon are recomputed.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;

use super::address::Runner;
use super::attach::Attachables;
use super::gateway::GatewayBuild;
use super::session::SessionIdentity;
use super::{BuildkitSession, ConnectError};
use crate::core::engine::{
    Engine, EngineError, FileStat, FrontendRequest, FrontendResult, ImageWrite, ResolvedImage,
    SolvedRef,
};
use crate::llb::{Definition, Platform};
use crate::sync::{Guarded, Locked};

/// How long closing a broken BuildKit session may take before it is abandoned.
const CLOSE_BROKEN: Duration = Duration::from_secs(2);

/// An [`Engine`] over whichever BuildKit session is current, replacing it when the daemon is lost.
pub(crate) struct ReconnectingEngine {
    runner: Runner,
    identity: SessionIdentity,
    cache: Option<super::remote_cache::RemoteCache>,
    attachables: Box<dyn Fn() -> Attachables + Send + Sync>,
    current: RwLock<Option<Arc<BuildkitSession>>>,
    /// The engine of the latest session, which answers what the daemon supports while it is away.
    latest: RwLock<Arc<GatewayBuild>>,
    reconnecting: tokio::sync::Mutex<()>,
    /// Counts connections; dropped when the engine closes, which ends progress watchers.
    generation: std::sync::Mutex<Option<tokio::sync::watch::Sender<u64>>>,
}

impl ReconnectingEngine {
    /// Connects to `runner` with a fresh set of attachables from `attachables` (called again on
    /// every reconnect).
    pub(crate) async fn connect(
        runner: Runner,
        identity: SessionIdentity,
        cache: Option<super::remote_cache::RemoteCache>,
        attachables: impl Fn() -> Attachables + Send + Sync + 'static,
    ) -> Result<ReconnectingEngine, ConnectError> {
        let session =
            BuildkitSession::connect(runner.clone(), &identity, attachables(), cache.as_ref())
                .await?;
        Ok(ReconnectingEngine {
            runner,
            identity,
            cache,
            attachables: Box::new(attachables),
            latest: RwLock::new(session.engine.clone()),
            current: RwLock::new(Some(Arc::new(session))),
            reconnecting: tokio::sync::Mutex::new(()),
            generation: std::sync::Mutex::new(Some(tokio::sync::watch::channel(0).0)),
        })
    }

    /// Where the daemon is.
    pub(crate) fn runner(&self) -> &Runner {
        &self.runner
    }

    /// The current BuildKit session, if the daemon is connected.
    pub(crate) fn session(&self) -> Option<Arc<BuildkitSession>> {
        self.current.reading().clone()
    }

    /// Forgets `broken` (if it is still current): the next call reconnects.
    fn drop_session(&self, broken: &Arc<BuildkitSession>) {
        let taken = {
            let mut current = self.current.writing();
            if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, broken)) {
                current.take()
            } else {
                None
            }
        };
        if let Some(old) = taken {
            tracing::warn!(runner = %self.runner.address, "lost the BuildKit daemon; the next request reconnects");
            tokio::spawn(async move {
                if let Ok(old) = Arc::try_unwrap(old) {
                    old.close(CLOSE_BROKEN).await;
                }
            });
        }
    }

    /// The current session, connecting a new one when there is none.
    async fn live(&self) -> Result<Arc<BuildkitSession>, EngineError> {
        if let Some(s) = self.session() {
            return Ok(s);
        }
        let _turn = self.reconnecting.lock().await;
        if let Some(s) = self.session() {
            return Ok(s);
        }
        let session = BuildkitSession::connect(
            self.runner.clone(),
            &self.identity,
            (self.attachables)(),
            self.cache.as_ref(),
        )
        .await
        .map_err(|e| EngineError::Unavailable {
            message: format!("{e} (dirk tries again on the next request)"),
        })?;
        tracing::info!(runner = %self.runner.address, "reconnected to the BuildKit daemon");
        let session = Arc::new(session);
        *self.latest.writing() = session.engine.clone();
        *self.current.writing() = Some(session.clone());
        if let Some(tx) = self.generation.locked().as_ref() {
            tx.send_modify(|n| *n += 1);
        }
        Ok(session)
    }

    /// Runs `call` on the current engine; a lost daemon drops the session for the next call.
    async fn with_engine<T, F, Fut>(&self, call: F) -> Result<T, EngineError>
    where
        F: FnOnce(Arc<GatewayBuild>) -> Fut,
        Fut: std::future::Future<Output = Result<T, EngineError>>,
    {
        let session = self.live().await?;
        match call(session.engine.clone()).await {
            Err(EngineError::Unavailable { message }) => {
                self.drop_session(&session);
                Err(EngineError::Unavailable {
                    message: format!(
                        "lost the connection to {} ({message}); dirk reconnects on the next request",
                        self.runner.address
                    ),
                })
            }
            other => other,
        }
    }

    /// The daemon's progress for this session, across reconnects: when a connection is lost the
    /// stream goes on with the next one; it ends when the engine closes.
    pub(crate) fn watch_status(
        self: &Arc<Self>,
    ) -> tokio::sync::mpsc::Receiver<crate::core::progress::ProgressEvent> {
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        let generation = self.generation.locked().as_ref().map(|tx| tx.subscribe());
        let Some(mut generation) = generation else {
            return rx;
        };
        let engine = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                generation.mark_unchanged();
                let live = engine.upgrade().and_then(|e| e.session());
                if let Some(live) = live {
                    let mut raw = live.watch_status();
                    drop(live);
                    while let Some(event) = raw.recv().await {
                        if tx.send(event).await.is_err() {
                            return;
                        }
                    }
                }
                // This connection's stream ended: wait for the next connection, or the end.
                if generation.changed().await.is_err() {
                    return;
                }
            }
        });
        rx
    }

    /// Ends the current BuildKit session, waiting at most `timeout`.
    pub(crate) async fn close(&self, timeout: Duration) {
        self.generation.locked().take();
        let current = self.current.writing().take();
        if let Some(session) = current {
            match Arc::try_unwrap(session) {
                Ok(session) => session.close(timeout).await,
                Err(shared) => shared.engine.finish(timeout).await,
            }
        }
    }
}

#[async_trait]
impl Engine for ReconnectingEngine {
    async fn solve(&self, def: &Definition) -> Result<SolvedRef, EngineError> {
        self.with_engine(|e| async move { e.solve(def).await })
            .await
    }

    async fn run(&self, def: &Definition) -> Result<SolvedRef, EngineError> {
        self.with_engine(|e| async move { e.run(def).await }).await
    }

    async fn read_file(
        &self,
        result: &SolvedRef,
        path: &str,
        offset: u64,
        len: Option<u64>,
    ) -> Result<Vec<u8>, EngineError> {
        self.with_engine(|e| async move { e.read_file(result, path, offset, len).await })
            .await
    }

    async fn read_dir(&self, result: &SolvedRef, path: &str) -> Result<Vec<FileStat>, EngineError> {
        self.with_engine(|e| async move { e.read_dir(result, path).await })
            .await
    }

    async fn stat(&self, result: &SolvedRef, path: &str) -> Result<FileStat, EngineError> {
        self.with_engine(|e| async move { e.stat(result, path).await })
            .await
    }

    async fn resolve_image(
        &self,
        reference: &str,
        platform: &Platform,
    ) -> Result<ResolvedImage, EngineError> {
        self.with_engine(|e| async move { e.resolve_image(reference, platform).await })
            .await
    }

    async fn export(&self, def: &Definition, exporter: &str) -> Result<(), EngineError> {
        self.with_engine(|e| async move { e.export(def, exporter).await })
            .await
    }

    async fn frontend_solve(
        &self,
        request: FrontendRequest,
    ) -> Result<FrontendResult, EngineError> {
        self.with_engine(|e| async move { e.frontend_solve(request).await })
            .await
    }

    async fn write_image(
        &self,
        image: &ImageWrite,
    ) -> Result<std::collections::BTreeMap<String, String>, EngineError> {
        self.with_engine(|e| async move { e.write_image(image).await })
            .await
    }

    fn platforms(&self) -> Vec<Platform> {
        self.latest.reading().platforms()
    }

    fn supports(&self, capability: &str) -> bool {
        self.latest.reading().supports(capability)
    }
}
