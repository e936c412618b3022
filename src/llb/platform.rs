//! OCI platforms (`os/arch[/variant]`), as written by users and as carried in LLB.

use std::fmt;
use std::str::FromStr;

use super::pb;

/// A target platform such as `linux/amd64` or `linux/arm/v7`.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Platform {
    /// Operating system, e.g. `linux`.
    pub os: String,
    /// CPU architecture in Go's naming, e.g. `amd64`, `arm64`.
    pub architecture: String,
    /// Optional variant, e.g. `v7` for `arm`.
    pub variant: Option<String>,
}

/// A platform string that cannot be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid platform {input:?}: {reason} (expected os/arch[/variant], e.g. linux/amd64)")]
pub struct PlatformError {
    /// The string as given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl Platform {
    /// `linux/<arch>` without a variant.
    pub fn linux(architecture: &str) -> Self {
        Platform {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: None,
        }
    }

    /// The platform as carried in LLB ops.
    pub fn to_pb(&self) -> pb::Platform {
        pb::Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone().unwrap_or_default(),
            ..Default::default()
        }
    }

    /// Reads a platform out of a worker record or an image config.
    pub fn from_pb(p: &pb::Platform) -> Self {
        Platform {
            os: p.os.clone(),
            architecture: p.architecture.clone(),
            variant: (!p.variant.is_empty()).then(|| p.variant.clone()),
        }
    }
}

fn normalize_arch(arch: &str, variant: Option<&str>) -> (String, Option<String>) {
    match (arch, variant) {
        ("x86_64" | "x86-64", _) => ("amd64".into(), None),
        ("aarch64", v) | ("arm64", v) => {
            ("arm64".into(), v.filter(|v| *v != "v8").map(str::to_owned))
        }
        ("armhf", _) => ("arm".into(), Some("v7".into())),
        ("armel", _) => ("arm".into(), Some("v6".into())),
        ("i386" | "i686", _) => ("386".into(), None),
        (a, v) => (a.to_owned(), v.map(str::to_owned)),
    }
}

impl FromStr for Platform {
    type Err = PlatformError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason| PlatformError {
            input: input.to_owned(),
            reason,
        };
        let lower = input.trim().to_ascii_lowercase();
        if lower.is_empty() {
            return Err(err("it is empty"));
        }
        let parts: Vec<&str> = lower.split('/').collect();
        if parts.len() > 3 {
            return Err(err("it has more than three parts"));
        }
        let valid = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !parts.iter().all(|p| valid(p)) {
            return Err(err(
                "each part must be a non-empty word of letters, digits, '_' or '-'",
            ));
        }
        let (os, arch, variant) = match parts.as_slice() {
            [os] if *os == "linux" || *os == "windows" || *os == "darwin" || *os == "freebsd" => {
                return Err(err("it names an OS but no architecture"));
            }
            [arch] => ("linux", *arch, None),
            [os, arch] => (*os, *arch, None),
            [os, arch, variant] => (*os, *arch, Some(*variant)),
            _ => return Err(err("it is empty")),
        };
        let (architecture, variant) = normalize_arch(arch, variant);
        Ok(Platform {
            os: os.to_owned(),
            architecture,
            variant,
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises() {
        assert_eq!(
            "linux/amd64".parse::<Platform>().map(|p| p.to_string()),
            Ok("linux/amd64".into())
        );
        assert_eq!(
            "linux/x86_64".parse::<Platform>().map(|p| p.to_string()),
            Ok("linux/amd64".into())
        );
        assert_eq!(
            "linux/arm64/v8".parse::<Platform>().map(|p| p.to_string()),
            Ok("linux/arm64".into())
        );
        assert_eq!(
            "linux/arm/v7".parse::<Platform>().map(|p| p.to_string()),
            Ok("linux/arm/v7".into())
        );
        assert_eq!(
            "arm64".parse::<Platform>().map(|p| p.to_string()),
            Ok("linux/arm64".into())
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["", "linux", "linux//amd64", "a/b/c/d", "linux/am d64", "/"] {
            assert!(
                bad.parse::<Platform>().is_err(),
                "{bad:?} should be rejected"
            );
        }
    }
}
