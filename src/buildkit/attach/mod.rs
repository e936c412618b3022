//! Attachables: the gRPC services dirk serves back to the daemon over the session tunnel.
//!
//! BuildKit calls these when a build needs something only the client has: files (`filesync`), the
//! client's health (`health`), secrets, forwarded sockets, registry credentials and exports.
//! The daemon is told every method the services' definitions (`proto/session`) name, less those an
//! attachable declares it does not serve, so that the daemon never calls one that answers
//! "unimplemented" (it checks, for instance, whether the session can fetch registry tokens).

pub mod auth;
pub mod filesend;
pub mod filesync;
pub mod health;
pub mod hostfs;
pub mod secrets;
pub mod sockets;

use std::sync::Arc;

use tonic::server::NamedService;
use tonic::service::Routes;

use crate::core::stores::SessionStores;

/// Every method of the session services, `(service, /service/Method)`, from their definitions.
const DEFINED_METHODS: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/session_methods.rs"));

/// The methods of `S` its definition names, less `unserved` (method names, as the definition
/// spells them).
fn methods_of<S: NamedService>(unserved: &[&str]) -> Vec<&'static str> {
    DEFINED_METHODS
        .iter()
        .filter(|(service, _)| *service == S::NAME)
        .map(|(_, path)| *path)
        .filter(|path| !unserved.iter().any(|m| path.ends_with(&format!("/{m}"))))
        .collect()
}

/// A set of services plus the gRPC method names the daemon must be told about.
pub struct Attachables {
    pub(crate) routes: Routes,
    pub(crate) methods: Vec<&'static str>,
}

impl Attachables {
    /// Health only: for connections that never need the client's files or secrets.
    pub fn health_only() -> Self {
        use bollard_buildkit_proto::health::health_server::HealthServer;
        Attachables {
            routes: Routes::new(HealthServer::new(health::AlwaysServing)),
            methods: methods_of::<HealthServer<health::AlwaysServing>>(health::UNSERVED),
        }
    }

    /// The services every session serves: health, file sync through `files`, and, from the
    /// session's `stores`, secrets, exports, forwarding of host sockets and registry credentials.
    pub fn new(files: Arc<dyn filesync::SyncProvider>, stores: &SessionStores) -> Self {
        use bollard_buildkit_proto::health::health_server::HealthServer;
        use bollard_buildkit_proto::moby::buildkit::secrets::v1::secrets_server::SecretsServer;
        use bollard_buildkit_proto::moby::filesync::v1::auth_server::AuthServer;
        use bollard_buildkit_proto::moby::filesync::v1::file_sync_server::FileSyncServer;
        use bollard_buildkit_proto::moby::sshforward::v1::ssh_server::SshServer;
        let methods = [
            methods_of::<HealthServer<health::AlwaysServing>>(health::UNSERVED),
            methods_of::<FileSyncServer<filesync::FileSyncService>>(filesync::UNSERVED),
            methods_of::<AuthServer<auth::AuthService>>(auth::UNSERVED),
            methods_of::<SecretsServer<secrets::SecretsService>>(&[]),
            methods_of::<filesend::FileSendServer>(&[]),
            methods_of::<SshServer<sockets::SocketService>>(&[]),
        ]
        .concat();
        let routes = Routes::new(HealthServer::new(health::AlwaysServing))
            .add_service(FileSyncServer::new(filesync::FileSyncService::new(files)))
            .add_service(AuthServer::new(auth::AuthService::new(
                stores.registry.clone(),
                stores.secrets.clone(),
            )))
            .add_service(SecretsServer::new(secrets::SecretsService::new(
                stores.secrets.clone(),
            )))
            .add_service(filesend::FileSendServer::new(stores.exports.clone()))
            .add_service(SshServer::new(sockets::SocketService::new(
                stores.sockets.clone(),
            )));
        Attachables { routes, methods }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoFiles;

    impl filesync::SyncProvider for NoFiles {
        fn entries(
            &self,
            _: &filesync::SyncRequest,
        ) -> Result<Vec<filesync::SyncEntry>, tonic::Status> {
            Ok(Vec::new())
        }
    }

    #[test]
    fn the_daemon_is_told_the_defined_methods_a_session_serves() {
        let a = Attachables::new(Arc::new(NoFiles), &SessionStores::default());
        assert_eq!(
            a.methods,
            [
                "/grpc.health.v1.Health/Check",
                "/grpc.health.v1.Health/List",
                "/grpc.health.v1.Health/Watch",
                "/moby.filesync.v1.FileSync/DiffCopy",
                "/moby.filesync.v1.Auth/Credentials",
                "/moby.buildkit.secrets.v1.Secrets/GetSecret",
                "/moby.filesync.v1.FileSend/DiffCopy",
                "/moby.sshforward.v1.SSH/CheckAgent",
                "/moby.sshforward.v1.SSH/ForwardAgent",
            ]
        );
        // Every method declared unserved is one its definition has.
        for (unserved, service) in [
            (health::UNSERVED, "grpc.health.v1.Health"),
            (filesync::UNSERVED, "moby.filesync.v1.FileSync"),
            (auth::UNSERVED, "moby.filesync.v1.Auth"),
        ] {
            for m in unserved {
                let path = format!("/{service}/{m}");
                assert!(DEFINED_METHODS.iter().any(|(_, p)| *p == path), "{path}");
            }
        }
    }
}
