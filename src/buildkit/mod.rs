//! The BuildKit side of a session: reaching the daemon, opening the session tunnel that serves the
//! attachables, and running the long-lived gateway build that implements [`crate::core::Engine`].

pub mod address;
pub mod attach;
pub mod describe;
pub(crate) mod gateway;
pub(crate) mod reconnect;
pub mod remote_cache;
pub(crate) mod session;

pub use session::SessionIdentity;
pub(crate) mod status;
pub(crate) mod tls;
pub mod transport;

use std::sync::Arc;
use std::time::Duration;

use self::address::Runner;
use self::attach::Attachables;
use self::gateway::GatewayBuild;
use self::session::SessionTunnel;
use crate::core::engine::EngineError;

/// Why a session with the daemon could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The daemon could not be reached.
    #[error(transparent)]
    Transport(#[from] transport::TransportError),
    /// The daemon refused the session tunnel.
    #[error("BuildKit at {address} refused the session: {message}")]
    Session { address: String, message: String },
    /// The daemon did not start the session's build.
    #[error("BuildKit at {address}: {source}")]
    Build {
        address: String,
        source: EngineError,
    },
}

/// Reaches `runner`; when nothing was configured and the local Docker socket does not answer,
/// the error lists what was looked at and how to point dirk at a daemon.
pub async fn reach(
    runner: &Runner,
) -> Result<tonic::transport::Channel, transport::TransportError> {
    transport::connect(&runner.address).await.map_err(|e| {
        if runner.origin.variable != "default" {
            return e;
        }
        let tried = "no runner is configured: _EXPERIMENTAL_DAGGER_RUNNER_HOST, BUILDKIT_HOST and DOCKER_HOST are unset, so dirk tried the local Docker socket; start Docker there, or set BUILDKIT_HOST to unix://PATH, tcp://HOST:PORT, docker-container://NAME, podman-container://NAME or kube-pod://POD, or DOCKER_HOST to a Docker daemon (unix://, tcp://, ssh://)";
        match e {
            transport::TransportError::Unreachable { address, reason } => {
                transport::TransportError::Unreachable {
                    address,
                    reason: format!("{reason}; {tried}"),
                }
            }
            other => other,
        }
    })
}

/// A live session with a BuildKit daemon.
pub struct BuildkitSession {
    /// The engine that solves graphs for this session.
    pub engine: Arc<GatewayBuild>,
    tunnel: SessionTunnel,
    /// Where the daemon is.
    pub runner: Runner,
}

impl BuildkitSession {
    /// Connects to `runner`, opens the session tunnel serving `attachables`, and starts the build.
    /// With `cache`, every solve imports from that remote cache and the session's results are
    /// exported to it when the session ends.
    pub async fn connect(
        runner: Runner,
        identity: &SessionIdentity,
        attachables: Attachables,
        cache: Option<&remote_cache::RemoteCache>,
    ) -> Result<BuildkitSession, ConnectError> {
        use tracing::Instrument as _;
        let address = runner.address.to_string();
        let channel = reach(&runner)
            .instrument(tracing::debug_span!("buildkit.connect"))
            .await?;
        let tunnel = SessionTunnel::open(channel.clone(), identity, attachables)
            .instrument(tracing::debug_span!("buildkit.session_tunnel"))
            .await
            .map_err(|s| ConnectError::Session {
                address: address.clone(),
                message: s.message().to_owned(),
            })?;
        let engine = GatewayBuild::start(channel, &identity.id, cache)
            .instrument(tracing::debug_span!("buildkit.gateway_start"))
            .await
            .map_err(|source| ConnectError::Build { address, source })?;
        Ok(BuildkitSession {
            engine: Arc::new(engine),
            tunnel,
            runner,
        })
    }

    /// The progress of this session's build, as the daemon reports it.
    pub fn watch_status(
        &self,
    ) -> tokio::sync::mpsc::Receiver<crate::core::progress::ProgressEvent> {
        let (channel, build_ref) = self.engine.status_target();
        status::watch(channel, build_ref)
    }

    /// Ends the build and the session, waiting at most `timeout` for the daemon to acknowledge.
    pub async fn close(mut self, timeout: Duration) {
        self.engine.finish(timeout).await;
        self.tunnel.close();
    }
}

#[cfg(test)]
mod tests {
    use super::address::{AddressOrigin, DockerEndpoint, RunnerAddress};
    use super::*;

    #[tokio::test]
    async fn an_unconfigured_runner_that_is_missing_says_what_was_tried() {
        let runner = Runner {
            address: RunnerAddress::Docker(DockerEndpoint::Unix("/nonexistent/docker.sock".into())),
            origin: AddressOrigin {
                variable: "default".into(),
                value: "unix:///nonexistent/docker.sock".into(),
            },
        };
        let message = reach(&runner)
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        for part in [
            "/nonexistent/docker.sock",
            "BUILDKIT_HOST",
            "DOCKER_HOST",
            "_EXPERIMENTAL_DAGGER_RUNNER_HOST",
            "start Docker",
        ] {
            assert!(message.contains(part), "{part}: {message}");
        }
        // A runner the user named is reported as it is.
        let named = Runner {
            origin: AddressOrigin {
                variable: "DOCKER_HOST".into(),
                value: "unix:///nonexistent/docker.sock".into(),
            },
            ..runner
        };
        let message = reach(&named)
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(!message.contains("no runner is configured"), "{message}");
    }
}
