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
use crate::sync::Guarded;

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
        self.by_host
            .writing()
            .insert(host, (username.to_owned(), secret.clone()));
        Ok(())
    }

    /// Forgets the credentials set for `address`.
    pub fn remove(&self, address: &str) {
        self.by_host.writing().remove(&registry_host(address));
    }

    /// `(username, password)` for `host`: set in the session, else from the Docker configuration.
    pub fn credentials(
        &self,
        host: &str,
        secrets: &SecretStore,
        env: impl Fn(&str) -> Option<String>,
    ) -> Option<(String, String)> {
        let host = registry_host(host);
        let set = self.by_host.reading().get(&host).cloned();
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

/// Asks credential helper `docker-credential-NAME` (found on `PATH`) for `host`, as the docker
/// CLI does: the server address on standard input, `{"Username", "Secret"}` on standard output.
fn helper_credentials(name: &str, host: &str) -> Option<(String, String)> {
    use std::io::Write;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return None;
    }
    let program = format!("docker-credential-{name}");
    let mut child = std::process::Command::new(&program)
        .arg("get")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(
            |e| tracing::debug!(helper = %program, error = %e, "credential helper unavailable"),
        )
        .ok()?;
    // Docker Hub's entries are stored under the v1 index address.
    let server = if host == DOCKER_HUB {
        "https://index.docker.io/v1/"
    } else {
        host
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(server.as_bytes());
    }
    let out = child.wait_with_output().ok()?;
    if !out.status.success() {
        tracing::debug!(helper = %program, %host, "credential helper has nothing for this registry");
        return None;
    }
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let user = answer.get("Username")?.as_str()?;
    let secret = answer.get("Secret")?.as_str()?;
    Some((user.to_owned(), secret.to_owned()))
}

/// Credentials for `host` from the Docker configuration: its credential helper for that registry
/// (`credHelpers`), else its default store (`credsStore`), else the entries under `auths`.
fn docker_config_credentials(
    host: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Option<(String, String)> {
    let text = std::fs::read_to_string(docker_config_path(&env)?).ok()?;
    let config: serde_json::Value = serde_json::from_str(&text).ok()?;
    let helper = config
        .get("credHelpers")
        .and_then(|h| h.as_object())
        .and_then(|h| h.iter().find(|(k, _)| registry_host(k) == host))
        .and_then(|(_, v)| v.as_str())
        .or_else(|| config.get("credsStore").and_then(|s| s.as_str()));
    if let Some(found) = helper.and_then(|name| helper_credentials(name, host)) {
        return Some(found);
    }
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
