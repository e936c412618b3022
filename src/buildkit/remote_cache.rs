//! A build cache shared between machines through a registry (or another store BuildKit knows):
//! every solve of the session imports from it, and the session's results are exported to it when
//! the session ends. Configured as the original engine reads it, from
//! `_EXPERIMENTAL_DAGGER_CACHE_CONFIG`, or from `DIRK_CACHE` (which wins): entries separated by
//! `;`, each `type=TYPE,key=value,...` (`type=registry,ref=registry.example.com/team/cache,mode=max`;
//! also `local`, `gha`, `s3`, `azblob`, with the attributes BuildKit documents for them).

use std::collections::HashMap;

use bollard_buildkit_proto::moby::buildkit::v1 as control;
use bollard_buildkit_proto::moby::buildkit::v1::frontend as gw;

/// The variables the cache configuration is read from, the first set one winning.
pub const VARIABLES: [&str; 2] = ["DIRK_CACHE", "_EXPERIMENTAL_DAGGER_CACHE_CONFIG"];

/// A malformed cache configuration.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "{variable}={value:?} is not a cache configuration: {reason} (expected entries like type=registry,ref=REGISTRY/REPO,mode=max, separated by ';')"
)]
pub struct CacheConfigError {
    pub variable: String,
    pub value: String,
    pub reason: String,
}

/// One cache store: its type and attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheEntry {
    pub kind: String,
    pub attrs: HashMap<String, String>,
}

/// The configured remote cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteCache {
    /// The variable it was read from.
    pub variable: String,
    pub entries: Vec<CacheEntry>,
}

impl RemoteCache {
    /// The remote cache the environment configures, if any.
    pub fn from_env(
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<RemoteCache>, CacheConfigError> {
        for variable in VARIABLES {
            let Some(value) = env(variable).filter(|v| !v.trim().is_empty()) else {
                continue;
            };
            let entries = parse(&value).map_err(|reason| CacheConfigError {
                variable: variable.to_owned(),
                value: value.clone(),
                reason,
            })?;
            return Ok(Some(RemoteCache {
                variable: variable.to_owned(),
                entries,
            }));
        }
        Ok(None)
    }

    /// How the session's build asks for the cache: imported from and exported to every entry.
    pub fn control_options(&self) -> control::CacheOptions {
        let entries: Vec<control::CacheOptionsEntry> = self
            .entries
            .iter()
            .map(|e| control::CacheOptionsEntry {
                r#type: e.kind.clone(),
                attrs: e.attrs.clone(),
            })
            .collect();
        control::CacheOptions {
            exports: entries.clone(),
            imports: entries,
            ..Default::default()
        }
    }

    /// What each solve imports from.
    pub fn imports(&self) -> Vec<gw::CacheOptionsEntry> {
        self.entries
            .iter()
            .map(|e| gw::CacheOptionsEntry {
                r#type: e.kind.clone(),
                attrs: e.attrs.clone(),
            })
            .collect()
    }

    /// The configuration for messages: each entry's type and ref (or dest/src).
    pub fn describe(&self) -> String {
        self.entries
            .iter()
            .map(|e| {
                let place = ["ref", "dest", "src", "name", "bucket"]
                    .iter()
                    .find_map(|k| e.attrs.get(*k))
                    .map(|v| format!(" {v}"))
                    .unwrap_or_default();
                format!("{}{place}", e.kind)
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn parse(text: &str) -> Result<Vec<CacheEntry>, String> {
    let mut entries = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let mut kind = None;
        let mut attrs = HashMap::new();
        for field in part.split(',').map(str::trim).filter(|f| !f.is_empty()) {
            let (key, value) = field
                .split_once('=')
                .ok_or_else(|| format!("{field:?} has no '='"))?;
            let (key, value) = (key.trim(), value.trim());
            if key.is_empty() {
                return Err(format!("{field:?} has an empty key"));
            }
            if key == "type" {
                kind = Some(value.to_owned());
            } else {
                attrs.insert(key.to_owned(), value.to_owned());
            }
        }
        let kind = kind.ok_or_else(|| format!("{part:?} has no type"))?;
        if !["registry", "local", "gha", "s3", "azblob", "inline"].contains(&kind.as_str()) {
            return Err(format!("unknown cache type {kind:?}"));
        }
        entries.push(CacheEntry { kind, attrs });
    }
    if entries.is_empty() {
        return Err("no entries".into());
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn the_dagger_variable_and_the_dirk_one_which_wins() {
        let dagger = "type=registry,ref=127.0.0.1:5000/cache:main,mode=max";
        let Ok(Some(cache)) =
            RemoteCache::from_env(env(&[("_EXPERIMENTAL_DAGGER_CACHE_CONFIG", dagger)]))
        else {
            panic!("parses")
        };
        assert_eq!(cache.entries.len(), 1);
        assert_eq!(cache.entries[0].kind, "registry");
        assert_eq!(
            cache.entries[0].attrs.get("mode").map(String::as_str),
            Some("max")
        );
        assert_eq!(cache.describe(), "registry 127.0.0.1:5000/cache:main");
        let both = env(&[
            ("_EXPERIMENTAL_DAGGER_CACHE_CONFIG", dagger),
            ("DIRK_CACHE", "type=local,dest=/c,src=/c; type=gha,scope=x"),
        ]);
        let Ok(Some(cache)) = RemoteCache::from_env(both) else {
            panic!("parses")
        };
        assert_eq!(cache.variable, "DIRK_CACHE");
        assert_eq!(cache.entries.len(), 2);
        assert!(matches!(RemoteCache::from_env(env(&[])), Ok(None)));
    }

    #[test]
    fn malformed_configurations_name_the_variable_and_say_why() {
        for bad in ["ref=x", "type=nfs,ref=x", "type=registry,oops", ";"] {
            let Err(e) = RemoteCache::from_env(env(&[("DIRK_CACHE", bad)])) else {
                panic!("{bad} should not parse")
            };
            let text = e.to_string();
            assert!(text.starts_with("DIRK_CACHE="), "{text}");
        }
    }
}
