//! Image references and image configuration.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::error::{CoreError, CoreResult};

/// The runtime configuration a container carries (the OCI image config's `config` section).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// `NAME=value` pairs, in order.
    #[serde(
        rename = "Env",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub env: Vec<String>,
    /// The entrypoint, if any.
    #[serde(
        rename = "Entrypoint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub entrypoint: Option<Vec<String>>,
    /// Default arguments.
    #[serde(rename = "Cmd", default, skip_serializing_if = "Option::is_none")]
    pub cmd: Option<Vec<String>>,
    /// Working directory.
    #[serde(
        rename = "WorkingDir",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub working_dir: String,
    /// `user[:group]`.
    #[serde(
        rename = "User",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub user: String,
    /// Labels.
    #[serde(rename = "Labels", default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Exposed ports (`"80/tcp": {}`).
    #[serde(
        rename = "ExposedPorts",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
}

/// Treats an explicit JSON `null` like an absent field.
fn null_as_default<'de, D: serde::Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize)]
struct ImageJson {
    #[serde(default)]
    config: Option<ImageConfig>,
}

impl ImageConfig {
    /// Reads the `config` section of an OCI image config document.
    pub fn from_image_json(reference: &str, bytes: &[u8]) -> CoreResult<ImageConfig> {
        if bytes.is_empty() {
            return Ok(ImageConfig::default());
        }
        let doc: ImageJson = serde_json::from_slice(bytes).map_err(|e| {
            CoreError::invalid(
                "image config of",
                reference,
                format!("it is not valid JSON: {e}"),
            )
        })?;
        Ok(doc.config.unwrap_or_default())
    }

    /// The value of environment variable `name`.
    pub fn env_value(&self, name: &str) -> Option<&str> {
        self.env.iter().rev().find_map(|kv| {
            kv.split_once('=')
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v)
        })
    }

    /// Sets `name` to `value`, replacing an earlier value in place.
    pub fn set_env(&mut self, name: &str, value: &str) {
        let entry = format!("{name}={value}");
        match self
            .env
            .iter_mut()
            .find(|kv| kv.split_once('=').map(|(k, _)| k) == Some(name))
        {
            Some(slot) => *slot = entry,
            None => self.env.push(entry),
        }
    }

    /// Removes `name`.
    pub fn unset_env(&mut self, name: &str) {
        self.env
            .retain(|kv| kv.split_once('=').map(|(k, _)| k) != Some(name));
    }

    /// Expands `$NAME` and `${NAME}` in `value` from this environment (unknown names become empty).
    pub fn expand(&self, value: &str) -> String {
        let mut out = String::with_capacity(value.len());
        let chars: Vec<char> = value.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if chars[i] == '$' && i + 1 < chars.len() {
                let (name, next) = if chars[i + 1] == '{' {
                    match chars[i + 2..].iter().position(|c| *c == '}') {
                        Some(end) => (
                            chars[i + 2..i + 2 + end].iter().collect::<String>(),
                            i + 3 + end,
                        ),
                        None => (String::new(), i),
                    }
                } else {
                    let len = chars[i + 1..]
                        .iter()
                        .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                        .count();
                    (
                        chars[i + 1..i + 1 + len].iter().collect::<String>(),
                        i + 1 + len,
                    )
                };
                if next > i && !name.is_empty() {
                    out.push_str(self.env_value(&name).unwrap_or(""));
                    i = next;
                    continue;
                }
            }
            out.push(chars[i]);
            i += 1;
        }
        out
    }
}

/// A fully qualified image reference: `domain/path[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host, e.g. `docker.io` or `127.0.0.1:5000`.
    pub domain: String,
    /// Repository path, e.g. `library/alpine`.
    pub path: String,
    /// Tag, when the reference is not pinned by digest alone.
    pub tag: Option<String>,
    /// `sha256:…` pin.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses and normalises a reference the way Docker does (`alpine` → `docker.io/library/alpine:latest`).
    pub fn parse(input: &str) -> CoreResult<ImageRef> {
        let bad = |reason: &str| CoreError::invalid("image reference", input, reason);
        let s = input.trim();
        if s.is_empty() {
            return Err(bad("it is empty"));
        }
        let (name_tag, digest) = match s.split_once('@') {
            Some((n, d)) => {
                let ok = d.split_once(':').is_some_and(|(alg, hex)| {
                    !alg.is_empty() && hex.len() >= 32 && hex.chars().all(|c| c.is_ascii_hexdigit())
                });
                if !ok {
                    return Err(bad("the digest after '@' must look like sha256:<hex>"));
                }
                (n, Some(d.to_owned()))
            }
            None => (s, None),
        };
        let (name, tag) = match name_tag.rfind(':') {
            Some(i) if !name_tag[i + 1..].contains('/') => {
                (&name_tag[..i], Some(name_tag[i + 1..].to_owned()))
            }
            _ => (name_tag, None),
        };
        if let Some(t) = &tag {
            let valid = !t.is_empty()
                && t.len() <= 128
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
                && !t.starts_with(['.', '-']);
            if !valid {
                return Err(bad(
                    "the tag must be 1-128 letters, digits, '_', '.' or '-'",
                ));
            }
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_owned(), rest.to_owned())
            }
            _ => ("docker.io".to_owned(), name.to_owned()),
        };
        let path = if domain == "docker.io" && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        let valid_path = !path.is_empty()
            && path.split('/').all(|c| {
                !c.is_empty()
                    && c.chars().all(|ch| {
                        ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch)
                    })
            });
        if !valid_path {
            return Err(bad(
                "repository names are lowercase letters, digits, '.', '_', '-' and '/'",
            ));
        }
        let tag = if tag.is_none() && digest.is_none() {
            Some("latest".to_owned())
        } else {
            tag
        };
        Ok(ImageRef {
            domain,
            path,
            tag,
            digest,
        })
    }

    /// The reference without its digest.
    pub fn name_and_tag(&self) -> String {
        match &self.tag {
            Some(t) => format!("{}/{}:{t}", self.domain, self.path),
            None => format!("{}/{}", self.domain, self.path),
        }
    }

    /// The same image pinned to `digest`.
    pub fn pinned(&self, digest: &str) -> ImageRef {
        ImageRef {
            digest: Some(digest.to_owned()),
            ..self.clone()
        }
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name_and_tag())?;
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_like_docker() {
        let n = |s: &str| {
            ImageRef::parse(s)
                .map(|r| r.to_string())
                .map_err(|e| e.to_string())
        };
        assert_eq!(n("alpine"), Ok("docker.io/library/alpine:latest".into()));
        assert_eq!(
            n("alpine:3.16.2"),
            Ok("docker.io/library/alpine:3.16.2".into())
        );
        assert_eq!(n("me/app"), Ok("docker.io/me/app:latest".into()));
        assert_eq!(
            n("127.0.0.1:5000/busybox"),
            Ok("127.0.0.1:5000/busybox:latest".into())
        );
        assert_eq!(n("localhost/x:1"), Ok("localhost/x:1".into()));
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            n(&format!("alpine@{d}")),
            Ok(format!("docker.io/library/alpine@{d}"))
        );
        assert_eq!(
            n(&format!("alpine:3@{d}")),
            Ok(format!("docker.io/library/alpine:3@{d}"))
        );
    }

    #[test]
    fn rejects_bad_references() {
        for bad in [
            "",
            "Alpine",
            "alpine:",
            "alpine@sha256:xyz",
            "a//b",
            "alpine:bad tag",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn env_edit_and_expand() {
        let mut c = ImageConfig {
            env: vec!["PATH=/bin".into(), "A=1".into()],
            ..Default::default()
        };
        c.set_env("A", "2");
        c.set_env("B", "x");
        assert_eq!(c.env, vec!["PATH=/bin", "A=2", "B=x"]);
        assert_eq!(
            c.expand("$PATH:/usr/bin:${B}-$NOPE-$"),
            "/bin:/usr/bin:x--$"
        );
        c.unset_env("A");
        assert_eq!(c.env_value("A"), None);
    }

    #[test]
    fn reads_image_config_json() {
        let json = br#"{"architecture":"amd64","config":{"Env":["PATH=/bin"],"Cmd":["/bin/sh"],"WorkingDir":"/w"}}"#;
        let c = ImageConfig::from_image_json("x", json).map_err(|e| e.to_string());
        assert_eq!(
            c.map(|c| (c.env, c.cmd, c.working_dir)),
            Ok((
                vec!["PATH=/bin".to_owned()],
                Some(vec!["/bin/sh".to_owned()]),
                "/w".to_owned()
            ))
        );
        assert!(ImageConfig::from_image_json("x", b"{nope").is_err());
        let nulls = br#"{"config":{"Env":null,"Cmd":null,"Entrypoint":null,"WorkingDir":null,"User":null,"Labels":null}}"#;
        assert_eq!(
            ImageConfig::from_image_json("x", nulls).map_err(|e| e.to_string()),
            Ok(ImageConfig::default())
        );
    }
}
