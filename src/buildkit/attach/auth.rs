//! `moby.filesync.v1.Auth`: registry credentials for the daemon's pulls and pushes. Only
//! `Credentials` is offered; the daemon then performs token exchanges itself.

use std::sync::Arc;

use bollard_buildkit_proto::moby::filesync::v1::auth_server::Auth;
use bollard_buildkit_proto::moby::filesync::v1::{
    CredentialsRequest, CredentialsResponse, FetchTokenRequest, FetchTokenResponse,
    GetTokenAuthorityRequest, GetTokenAuthorityResponse, VerifyTokenAuthorityRequest,
    VerifyTokenAuthorityResponse,
};
use tonic::{Request, Response, Status};

use crate::core::registry::RegistryAuth;
use crate::core::secret::SecretStore;

/// The Auth service over a session's credentials.
pub struct AuthService {
    auth: Arc<RegistryAuth>,
    secrets: Arc<SecretStore>,
}

impl AuthService {
    /// Answers with the credentials in `auth` (passwords read from `secrets`).
    pub fn new(auth: Arc<RegistryAuth>, secrets: Arc<SecretStore>) -> Self {
        AuthService { auth, secrets }
    }
}

/// Methods of the auth service this session does not serve: it hands out credentials, and the
/// daemon fetches registry tokens itself.
pub const UNSERVED: &[&str] = &["FetchToken", "GetTokenAuthority", "VerifyTokenAuthority"];

#[tonic::async_trait]
impl Auth for AuthService {
    async fn credentials(
        &self,
        request: Request<CredentialsRequest>,
    ) -> Result<Response<CredentialsResponse>, Status> {
        let host = request.into_inner().host;
        // No credentials is an anonymous pull, not an error.
        let (username, secret) = self
            .auth
            .credentials(&host, &self.secrets, |k| std::env::var(k).ok())
            .unwrap_or_default();
        Ok(Response::new(CredentialsResponse { username, secret }))
    }

    async fn fetch_token(
        &self,
        _: Request<FetchTokenRequest>,
    ) -> Result<Response<FetchTokenResponse>, Status> {
        Err(Status::unimplemented("dirk hands out credentials only"))
    }

    async fn get_token_authority(
        &self,
        _: Request<GetTokenAuthorityRequest>,
    ) -> Result<Response<GetTokenAuthorityResponse>, Status> {
        Err(Status::unimplemented("dirk hands out credentials only"))
    }

    async fn verify_token_authority(
        &self,
        _: Request<VerifyTokenAuthorityRequest>,
    ) -> Result<Response<VerifyTokenAuthorityResponse>, Status> {
        Err(Status::unimplemented("dirk hands out credentials only"))
    }
}
