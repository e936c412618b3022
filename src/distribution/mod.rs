//! A client for the OCI distribution API, used to push images that the session assembled itself.
//!
//! It speaks HTTP/1.1 to one registry: plain HTTP to loopback registries (as Docker does), HTTPS with
//! the system's CA store elsewhere. Registries that answer `401` get what their `WWW-Authenticate`
//! challenge asks for: Basic credentials, or a Bearer token fetched from the named realm for the
//! repository's `pull,push` scope. Blobs are streamed from files and skipped when already present.

mod http;

use std::path::Path;

use base64::Engine as _;
use bytes::Bytes;

pub(crate) use http::HttpError;
use http::{Body, Response, Url};

/// What went wrong talking to a registry; every variant names the registry (and repository).
#[derive(Debug, thiserror::Error)]
pub enum DistributionError {
    /// The registry could not be reached or the connection broke.
    #[error("registry {registry}: {source}")]
    Transport { registry: String, source: HttpError },
    /// The registry wants credentials that the session does not have, or refused them.
    #[error("registry {registry} refused access to {repository} ({status}): {hint}")]
    Unauthorized {
        registry: String,
        repository: String,
        status: u16,
        hint: &'static str,
    },
    /// The registry answered a request with an unexpected status.
    #[error("registry {registry}: {action} failed with HTTP {status}: {body}")]
    Status {
        registry: String,
        action: String,
        status: u16,
        body: String,
    },
    /// A local file to upload could not be read.
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
}

type Result<T> = std::result::Result<T, DistributionError>;

/// Whether registry `host` (`host[:port]`) is on this machine: such registries are spoken to in
/// plain HTTP, as Docker does.
pub(crate) fn is_loopback(host: &str) -> bool {
    let bare = host.rsplit_once(':').map_or(host, |(h, _)| h);
    bare == "localhost"
        || bare == "[::1]"
        || bare
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// One repository on one registry, with the credentials to use there.
pub(crate) struct Repository {
    registry: String,
    base: Url,
    name: String,
    credentials: Option<(String, String)>,
    authorization: Option<String>,
    /// What the session asks the token service to allow (`pull,push`, or `pull` to read only).
    actions: &'static str,
}

impl Repository {
    /// Repository `name` on registry `host` (`host[:port]`), with optional `(username, password)`.
    pub(crate) fn new(host: &str, name: &str, credentials: Option<(String, String)>) -> Repository {
        let loopback = is_loopback(host);
        let api_host = if host == "docker.io" {
            "registry-1.docker.io"
        } else {
            host
        };
        Repository {
            registry: host.to_owned(),
            base: Url::new(!loopback, api_host),
            name: name.to_owned(),
            credentials,
            authorization: None,
            actions: "pull,push",
        }
    }

    /// The same repository, for reading only (tokens are asked for `pull` alone).
    pub(crate) fn reading(mut self) -> Repository {
        self.actions = "pull";
        self
    }

    fn transport(&self, source: HttpError) -> DistributionError {
        DistributionError::Transport {
            registry: self.registry.clone(),
            source,
        }
    }

    fn status(&self, action: &str, response: &Response) -> DistributionError {
        if response.status == 401 || response.status == 403 {
            return self.unauthorized(response.status);
        }
        DistributionError::Status {
            registry: self.registry.clone(),
            action: action.to_owned(),
            status: response.status,
            body: String::from_utf8_lossy(&response.body[..response.body.len().min(512)])
                .trim()
                .to_owned(),
        }
    }

    fn unauthorized(&self, status: u16) -> DistributionError {
        DistributionError::Unauthorized {
            registry: self.registry.clone(),
            repository: self.name.clone(),
            status,
            hint: if self.credentials.is_some() {
                "the credentials were refused; check the username and secret given to withRegistryAuth or your Docker config"
            } else {
                "no credentials for this registry; use withRegistryAuth or `docker login`"
            },
        }
    }

    async fn send(
        &self,
        method: &str,
        url: &Url,
        headers: &[(&str, String)],
        body: Body,
    ) -> Result<Response> {
        let mut all: Vec<(&str, String)> = headers.to_vec();
        if let Some(auth) = &self.authorization {
            all.push(("authorization", auth.clone()));
        }
        http::request(method, url, &all, body)
            .await
            .map_err(|e| self.transport(e))
    }

    /// Answers the registry's authentication challenge, if it has one, for pushing to this repository.
    pub(crate) async fn authenticate(&mut self) -> Result<()> {
        let probe = self.base.join("/v2/");
        let response = self.send("GET", &probe, &[], Body::empty()).await?;
        if response.status != 401 {
            return Ok(());
        }
        let challenge = response.header("www-authenticate").unwrap_or_default();
        let basic = self.credentials.as_ref().map(|(user, password)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )
        });
        let (scheme, params) = parse_challenge(&challenge);
        if scheme.eq_ignore_ascii_case("bearer") {
            let realm = params
                .iter()
                .find(|(k, _)| k == "realm")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let mut query = vec![(
                "scope",
                format!("repository:{}:{}", self.name, self.actions),
            )];
            if let Some((_, service)) = params.iter().find(|(k, _)| k == "service") {
                query.push(("service", service.clone()));
            }
            let url = Url::parse(&realm)
                .ok_or_else(|| self.status("reading the token realm", &response))?
                .with_query(&query);
            let headers: Vec<(&str, String)> =
                basic.into_iter().map(|b| ("authorization", b)).collect();
            let token = http::request("GET", &url, &headers, Body::empty())
                .await
                .map_err(|e| self.transport(e))?;
            if token.status != 200 {
                return Err(self.unauthorized(token.status));
            }
            let json: serde_json::Value = serde_json::from_slice(&token.body).unwrap_or_default();
            let value = json
                .get("token")
                .or_else(|| json.get("access_token"))
                .and_then(|t| t.as_str())
                .ok_or_else(|| self.status("reading the token", &token))?;
            self.authorization = Some(format!("Bearer {value}"));
        } else {
            self.authorization = Some(basic.ok_or_else(|| self.unauthorized(401))?);
        }
        Ok(())
    }

    /// Uploads the blob in file `path` unless the registry already has `digest`.
    pub(crate) async fn push_blob_file(&self, digest: &str, size: u64, path: &Path) -> Result<()> {
        self.push_blob(digest, size, || {
            Body::file(path).map_err(|source| DistributionError::Read {
                path: path.display().to_string(),
                source,
            })
        })
        .await
    }

    /// Uploads `bytes` as a blob unless the registry already has `digest`.
    pub(crate) async fn push_blob_bytes(&self, digest: &str, bytes: &[u8]) -> Result<()> {
        let bytes = Bytes::copy_from_slice(bytes);
        self.push_blob(digest, bytes.len() as u64, || {
            Ok(Body::bytes(bytes.clone()))
        })
        .await
    }

    async fn push_blob(
        &self,
        digest: &str,
        size: u64,
        body: impl Fn() -> Result<Body>,
    ) -> Result<()> {
        let blob = self.base.join(&format!("/v2/{}/blobs/{digest}", self.name));
        let head = self.send("HEAD", &blob, &[], Body::empty()).await?;
        if head.status == 200 {
            return Ok(());
        }
        let start = self.base.join(&format!("/v2/{}/blobs/uploads/", self.name));
        let started = self
            .send(
                "POST",
                &start,
                &[("content-length", "0".into())],
                Body::empty(),
            )
            .await?;
        if started.status != 202 {
            return Err(self.status(&format!("starting the upload of {digest}"), &started));
        }
        let location = started
            .header("location")
            .ok_or_else(|| self.status("reading the upload location", &started))?;
        let upload = self
            .base
            .join(&location)
            .with_query(&[("digest", digest.to_owned())]);
        let put = self
            .send(
                "PUT",
                &upload,
                &[
                    ("content-type", "application/octet-stream".into()),
                    ("content-length", size.to_string()),
                ],
                body()?,
            )
            .await?;
        if put.status != 201 {
            return Err(self.status(&format!("uploading {digest}"), &put));
        }
        Ok(())
    }

    /// Whether the registry has blob `digest` in this repository.
    pub(crate) async fn has_blob(&self, digest: &str) -> Result<bool> {
        let blob = self.base.join(&format!("/v2/{}/blobs/{digest}", self.name));
        Ok(self.send("HEAD", &blob, &[], Body::empty()).await?.status == 200)
    }

    /// Asks the registry to link blob `digest` from repository `from` (on the same registry) into
    /// this one, without uploading it; false when the registry would rather have it uploaded.
    pub(crate) async fn mount_blob(&self, digest: &str, from: &str) -> Result<bool> {
        let url = self
            .base
            .join(&format!("/v2/{}/blobs/uploads/", self.name))
            .with_query(&[("mount", digest.to_owned()), ("from", from.to_owned())]);
        let response = self
            .send(
                "POST",
                &url,
                &[("content-length", "0".into())],
                Body::empty(),
            )
            .await?;
        Ok(response.status == 201)
    }

    /// The manifest (or index) stored under `reference`: its media type and bytes.
    pub(crate) async fn get_manifest(&self, reference: &str) -> Result<(String, Bytes)> {
        let url = self
            .base
            .join(&format!("/v2/{}/manifests/{reference}", self.name));
        let accept = [
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.docker.distribution.manifest.v2+json",
        ]
        .join(", ");
        let response = self
            .send("GET", &url, &[("accept", accept)], Body::empty())
            .await?;
        if response.status != 200 {
            return Err(self.status(&format!("reading the manifest {reference}"), &response));
        }
        let media_type = response.header("content-type").unwrap_or_default();
        Ok((media_type, response.body))
    }

    /// Blob `digest`, read whole (for configs and other small blobs).
    pub(crate) async fn get_blob(&self, digest: &str) -> Result<Bytes> {
        let (response, _) = self.fetch_blob(digest, None).await?;
        Ok(response.body)
    }

    /// Streams blob `digest` into the file at `path`, checking what arrived against the digest.
    pub(crate) async fn download_blob(&self, digest: &str, path: &Path) -> Result<()> {
        let (_, got) = self.fetch_blob(digest, Some(path)).await?;
        if got != digest {
            return Err(DistributionError::Status {
                registry: self.registry.clone(),
                action: format!("reading blob {digest}"),
                status: 200,
                body: format!("the blob that arrived has digest {got}"),
            });
        }
        Ok(())
    }

    /// GETs blob `digest`, following redirects (to storage hosts, which get no credentials): the
    /// response, read whole, or streamed into `into` (then also the digest of what was written).
    async fn fetch_blob(&self, digest: &str, into: Option<&Path>) -> Result<(Response, String)> {
        let mut url = self.base.join(&format!("/v2/{}/blobs/{digest}", self.name));
        for _ in 0..5 {
            let headers: Vec<(&str, String)> = if url.host == self.base.host {
                self.authorization
                    .iter()
                    .map(|a| ("authorization", a.clone()))
                    .collect()
            } else {
                Vec::new()
            };
            let (response, got) = match into {
                Some(path) => http::download(&url, &headers, path).await,
                None => http::request("GET", &url, &headers, Body::empty())
                    .await
                    .map(|r| (r, String::new())),
            }
            .map_err(|e| self.transport(e))?;
            match response.status {
                200 => return Ok((response, got)),
                301 | 302 | 303 | 307 | 308 => {
                    url = redirect(&url, &response)
                        .ok_or_else(|| self.status(&format!("following {digest}"), &response))?;
                }
                _ => return Err(self.status(&format!("reading blob {digest}"), &response)),
            }
        }
        Err(DistributionError::Status {
            registry: self.registry.clone(),
            action: format!("reading blob {digest}"),
            status: 310,
            body: "too many redirects".into(),
        })
    }

    /// Stores `manifest` (of `media_type`) under `reference` (a tag or digest); returns its digest.
    pub(crate) async fn push_manifest(
        &self,
        reference: &str,
        media_type: &str,
        manifest: &[u8],
    ) -> Result<String> {
        let url = self
            .base
            .join(&format!("/v2/{}/manifests/{reference}", self.name));
        let response = self
            .send(
                "PUT",
                &url,
                &[
                    ("content-type", media_type.to_owned()),
                    ("content-length", manifest.len().to_string()),
                ],
                Body::bytes(Bytes::copy_from_slice(manifest)),
            )
            .await?;
        if response.status != 201 && response.status != 200 {
            return Err(self.status(&format!("storing the manifest {reference}"), &response));
        }
        Ok(response.header("docker-content-digest").unwrap_or_else(|| {
            use sha2::{Digest, Sha256};
            format!("sha256:{}", hex::encode(Sha256::digest(manifest)))
        }))
    }
}

/// Where a redirect points: an absolute URL, or a path on the same host.
fn redirect(from: &Url, response: &Response) -> Option<Url> {
    let location = response.header("location")?;
    if location.starts_with("http://") || location.starts_with("https://") {
        Url::parse(&location)
    } else {
        Some(from.join(&location))
    }
}

/// `Bearer realm="…",service="…"` → (`Bearer`, [(realm, …), (service, …)]).
fn parse_challenge(header: &str) -> (String, Vec<(String, String)>) {
    let (scheme, rest) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    let mut params = Vec::new();
    let mut rest = rest.trim();
    while let Some((key, after)) = rest.split_once('=') {
        let key = key
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        params.push((key, value.to_owned()));
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    (scheme.to_owned(), params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_parsed() {
        let (scheme, params) = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        );
        assert_eq!(scheme, "Bearer");
        assert_eq!(
            params,
            vec![
                ("realm".into(), "https://auth.example/token".into()),
                ("service".into(), "registry.example".into()),
                ("scope".into(), "repository:a/b:pull".into()),
            ]
        );
        let (scheme, params) = parse_challenge(r#"Basic realm="Registry Realm""#);
        assert_eq!(scheme, "Basic");
        assert_eq!(params, vec![("realm".into(), "Registry Realm".into())]);
    }

    #[test]
    fn loopback_registries_use_plain_http() {
        assert_eq!(
            Repository::new("127.0.0.1:5000", "a", None)
                .base
                .to_string(),
            "http://127.0.0.1:5000/"
        );
        assert_eq!(
            Repository::new("localhost:5000", "a", None)
                .base
                .to_string(),
            "http://localhost:5000/"
        );
        assert_eq!(
            Repository::new("registry.example", "a", None)
                .base
                .to_string(),
            "https://registry.example/"
        );
        assert_eq!(
            Repository::new("docker.io", "library/a", None)
                .base
                .to_string(),
            "https://registry-1.docker.io/"
        );
    }
}
