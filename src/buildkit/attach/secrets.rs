//! `moby.buildkit.secrets.v1.Secrets`: hands the daemon a secret's plaintext, by id, when a command
//! that mounts it runs. Nothing else ever sees the value.

use std::sync::Arc;

use bollard_buildkit_proto::moby::buildkit::secrets::v1::secrets_server::Secrets;
use bollard_buildkit_proto::moby::buildkit::secrets::v1::{GetSecretRequest, GetSecretResponse};
use tonic::{Request, Response, Status};

use crate::core::secret::SecretStore;

/// The Secrets service over a session's store.
pub struct SecretsService {
    store: Arc<SecretStore>,
}

impl SecretsService {
    /// Serves the secrets in `store`.
    pub fn new(store: Arc<SecretStore>) -> Self {
        SecretsService { store }
    }
}

#[tonic::async_trait]
impl Secrets for SecretsService {
    async fn get_secret(
        &self,
        request: Request<GetSecretRequest>,
    ) -> Result<Response<GetSecretResponse>, Status> {
        let id = request.into_inner().id;
        match self.store.value(&id) {
            Some(data) => Ok(Response::new(GetSecretResponse { data })),
            None => Err(Status::not_found(format!(
                "this session has no secret {id:?}"
            ))),
        }
    }
}
