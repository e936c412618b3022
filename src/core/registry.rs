//! Registry credentials. `withRegistryAuth` records credentials for a registry host for the rest of
//! the session (the password stays a [`Secret`]); the user's Docker configuration
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, entries under `auths`) is the
//! fallback. The daemon asks the session's auth service when it pulls or pushes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::RwLock;

use base64::Engine as _;

use super::error::{CoreError, CoreResult};
use super::secret::{Secret, SecretStore};

/// The host the daemon asks about for Docker Hub.
const DOCKER_HUB: &str = "registry-1.docker.io";

/// The registry host of an address: `https://host:port/path` → `host:port`; Docker Hub's names all
/// map to the host the daemon asks about.
pub fn registry_host(address: &str) -> String {
    let rest = address.split_once("://").map_or(address, |(_, rest)| rest);
    let host = rest.split('/').next().unwrap_or(rest).to_ascii_lowercase();
    match host.as_str() {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_owned(),
        _ => host,
    }
}

/// Credentials for registries, by host.
#[derive(Debug, Default)]
pub struct RegistryAuth {
    by_host: RwLock<HashMap<String, (String, Secret)>>,
}

impl RegistryAuth {
    /// Uses `username` and `secret` for `address` from now on in this session.
    pub fn set(&self, address: &str, username: &str, secret: &Secret) -> CoreResult<()> {
        let host = registry_host(address);
        if host.is_empty() {
            return Err(CoreError::invalid(
                "registry address",
                address,
                "expected a host like registry.example.com:5000",
            ));
        }
        if let Ok(mut map) = self.by_host.write() {
            map.insert(host, (username.to_owned(), secret.clone()));
        }
        Ok(())
    }

    /// Forgets the credentials set for `address`.
    pub fn remove(&self, address: &str) {
        if let Ok(mut map) = self.by_host.write() {
            map.remove(&registry_host(address));
        }
    }

    /// `(username, password)` for `host`: set in the session, else from the Docker configuration.
    pub fn credentials(
        &self,
        host: &str,
        secrets: &SecretStore,
        env: impl Fn(&str) -> Option<String>,
    ) -> Option<(String, String)> {
        let host = registry_host(host);
        let set = self.by_host.read().ok()?.get(&host).cloned();
        if let Some((user, secret)) = set {
            let password = secrets.value(&secret.id)?;
            return Some((user, String::from_utf8_lossy(&password).into_owned()));
        }
        docker_config_credentials(&host, env)
    }
}

fn docker_config_path(env: &impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    match env("DOCKER_CONFIG") {
        Some(dir) => Some(PathBuf::from(dir).join("config.json")),
        None => env("HOME").map(|h| PathBuf::from(h).join(".docker/config.json")),
    }
}

/// Credentials for `host` in the Docker configuration's `auths`.
fn docker_config_credentials(
    host: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Option<(String, String)> {
    let text = std::fs::read_to_string(docker_config_path(&env)?).ok()?;
    let config: serde_json::Value = serde_json::from_str(&text).ok()?;
    let auths = config.get("auths")?.as_object()?;
    let entry = auths
        .iter()
        .find(|(key, _)| registry_host(key) == host)
        .map(|(_, v)| v)?;
    if let Some(encoded) = entry.get("auth").and_then(|a| a.as_str()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, password) = text.split_once(':')?;
        return Some((user.to_owned(), password.to_owned()));
    }
    let user = entry.get("username")?.as_str()?;
    let password = entry.get("password")?.as_str()?;
    Some((user.to_owned(), password.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_normalized() {
        assert_eq!(registry_host("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(
            registry_host("https://Registry.Example.com/v2/"),
            "registry.example.com"
        );
        assert_eq!(registry_host("https://index.docker.io/v1/"), DOCKER_HUB);
        assert_eq!(registry_host("docker.io"), DOCKER_HUB);
    }

    #[test]
    fn session_credentials_win_over_the_docker_config() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let auth = base64::engine::general_purpose::STANDARD.encode("cfg-user:cfg-pass");
        let config = serde_json::json!({"auths": {"https://index.docker.io/v1/": {"auth": auth}, "r.example:5000": {"username": "u2", "password": "p2"}}});
        std::fs::write(dir.path().join("config.json"), config.to_string())
            .unwrap_or_else(|e| panic!("{e}"));
        let env =
            |k: &str| (k == "DOCKER_CONFIG").then(|| dir.path().to_string_lossy().into_owned());
        let secrets = SecretStore::default();
        let store = RegistryAuth::default();
        assert_eq!(
            store.credentials(DOCKER_HUB, &secrets, env),
            Some(("cfg-user".into(), "cfg-pass".into()))
        );
        assert_eq!(
            store.credentials("r.example:5000", &secrets, env),
            Some(("u2".into(), "p2".into()))
        );
        assert_eq!(store.credentials("other:1", &secrets, env), None);
        let secret = secrets
            .set("hub", "s3cret")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(store.set("docker.io", "me", &secret).is_ok());
        assert_eq!(
            store.credentials(DOCKER_HUB, &secrets, env),
            Some(("me".into(), "s3cret".into()))
        );
        store.remove("https://index.docker.io/v1/");
        assert_eq!(
            store.credentials(DOCKER_HUB, &secrets, env).map(|c| c.0),
            Some("cfg-user".into())
        );
    }
}
