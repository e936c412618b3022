//! Attachables: the gRPC services dirk serves back to the daemon over the session tunnel.
//!
//! BuildKit calls these when a build needs something only the client has: files (`filesync`), the
//! client's health (`health`), and later secrets, sockets and registry credentials.

pub mod auth;
pub mod filesend;
pub mod filesync;
pub mod health;
pub mod hostfs;
pub mod secrets;
pub mod sockets;

use tonic::service::Routes;

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
            methods: vec![
                "/grpc.health.v1.Health/Check",
                "/grpc.health.v1.Health/Watch",
            ],
        }
    }

    /// The services every session serves: health, file sync through `files`, the secrets in
    /// `secrets`, exports received into `exports`, forwarding of the host sockets in `sockets`, and the
    /// registry credentials in `registry`.
    pub fn new(
        files: std::sync::Arc<dyn filesync::SyncProvider>,
        secrets: std::sync::Arc<crate::core::secret::SecretStore>,
        exports: std::sync::Arc<crate::core::export::ExportSlot>,
        sockets: std::sync::Arc<crate::core::socket::SocketRegistry>,
        registry: std::sync::Arc<crate::core::registry::RegistryAuth>,
    ) -> Self {
        use bollard_buildkit_proto::health::health_server::HealthServer;
        use bollard_buildkit_proto::moby::buildkit::secrets::v1::secrets_server::SecretsServer;
        use bollard_buildkit_proto::moby::filesync::v1::auth_server::AuthServer;
        use bollard_buildkit_proto::moby::filesync::v1::file_sync_server::FileSyncServer;
        use bollard_buildkit_proto::moby::sshforward::v1::ssh_server::SshServer;
        let routes = Routes::new(HealthServer::new(health::AlwaysServing))
            .add_service(FileSyncServer::new(filesync::FileSyncService::new(files)))
            .add_service(AuthServer::new(auth::AuthService::new(
                registry,
                secrets.clone(),
            )))
            .add_service(SecretsServer::new(secrets::SecretsService::new(secrets)))
            .add_service(filesend::FileSendServer::new(exports))
            .add_service(SshServer::new(sockets::SocketService::new(sockets)));
        let methods = vec![
            "/grpc.health.v1.Health/Check",
            "/grpc.health.v1.Health/Watch",
            "/moby.filesync.v1.FileSync/DiffCopy",
            "/moby.filesync.v1.FileSync/TarStream",
            "/moby.buildkit.secrets.v1.Secrets/GetSecret",
            "/moby.filesync.v1.FileSend/DiffCopy",
            "/moby.sshforward.v1.SSH/CheckAgent",
            "/moby.sshforward.v1.SSH/ForwardAgent",
            "/moby.filesync.v1.Auth/Credentials",
        ];
        Attachables { routes, methods }
    }
}
