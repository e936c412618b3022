//! `Container.import`: a container from an image tarball (an OCI image layout, or a `docker save`
//! archive). The daemon unpacks the tarball; the session reads its index, manifest and config; the
//! daemon then unpacks each layer blob, and the exec shim applies every layer after the first onto
//! the ones below, honouring whiteouts. Nothing passes through the session but the small JSON
//! documents.

use serde::Deserialize;

use super::Container;
use crate::core::error::{CoreError, CoreResult};
use crate::core::file::File;
use crate::core::image::ImageConfig;
use crate::core::runtime::Runtime;
use crate::core::solve::evaluate;
use crate::llb::{FileAction, Platform, State};

const INDEX_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];
const REF_NAME: &str = "org.opencontainers.image.ref.name";
const CONTAINERD_NAME: &str = "io.containerd.image.name";

#[derive(Debug, Deserialize)]
struct DescriptorJson {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    platform: Option<PlatformJson>,
    #[serde(default)]
    annotations: std::collections::HashMap<String, String>,
}

#[derive(Debug, Deserialize)]
struct PlatformJson {
    os: String,
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

#[derive(Debug, Deserialize)]
struct IndexJson {
    manifests: Vec<DescriptorJson>,
}

#[derive(Debug, Deserialize)]
struct ManifestJson {
    config: DescriptorJson,
    layers: Vec<DescriptorJson>,
}

#[derive(Debug, Deserialize)]
struct DockerArchiveEntry {
    #[serde(rename = "Config")]
    config: String,
    #[serde(rename = "RepoTags", default)]
    repo_tags: Option<Vec<String>>,
    #[serde(rename = "Layers")]
    layers: Vec<String>,
}

/// Where, inside the unpacked tarball, an image's config and layers are.
#[derive(Debug, PartialEq, Eq)]
struct ImagePaths {
    config: String,
    layers: Vec<String>,
}

fn blob(digest: &str) -> String {
    format!("/blobs/{}", digest.replacen(':', "/", 1))
}

fn invalid(source: &File, reason: impl Into<String>) -> CoreError {
    CoreError::invalid("image tarball", source.path.clone(), reason)
}

/// Whether `tag` names the image an index entry annotates (`v1`, `name:v1` or the full name).
fn tag_matches(annotations: &std::collections::HashMap<String, String>, tag: &str) -> bool {
    [REF_NAME, CONTAINERD_NAME].iter().any(|key| {
        annotations
            .get(*key)
            .is_some_and(|name| name == tag || name.ends_with(&format!(":{tag}")))
    })
}

fn platform_matches(p: &Option<PlatformJson>, want: &Platform) -> bool {
    p.as_ref().is_none_or(|p| {
        p.os == want.os
            && p.architecture == want.architecture
            && (want.variant.is_none() || p.variant == want.variant)
    })
}

struct Reader<'a> {
    rt: &'a Runtime,
    source: &'a File,
    unpacked: crate::core::SolvedRef,
}

impl Reader<'_> {
    async fn read(&self, path: &str) -> CoreResult<Vec<u8>> {
        self.rt
            .engine()
            .read_file(&self.unpacked, path, 0, None)
            .await
            .map_err(|e| {
                CoreError::engine(format!("reading the image tarball {}", self.source.path), e)
            })
    }

    async fn json<T: for<'de> Deserialize<'de>>(&self, path: &str) -> CoreResult<T> {
        let bytes = self.read(path).await?;
        serde_json::from_slice(&bytes).map_err(|e| {
            invalid(
                self.source,
                format!("{path} is not what an image holds: {e}"),
            )
        })
    }

    /// The config and layers of the image to import: from `index.json` (OCI layout) when present,
    /// else from `manifest.json` (Docker archive).
    async fn image(&self, tag: Option<&str>, platform: &Platform) -> CoreResult<ImagePaths> {
        match self.json::<IndexJson>("/index.json").await {
            Ok(index) => self.image_in_index(index, tag, platform).await,
            Err(CoreError::NotFound { .. }) => self.image_in_docker_archive(tag).await,
            Err(e) => Err(e),
        }
    }

    async fn image_in_index(
        &self,
        index: IndexJson,
        tag: Option<&str>,
        platform: &Platform,
    ) -> CoreResult<ImagePaths> {
        let mut candidates = index.manifests;
        if let Some(tag) = tag {
            candidates.retain(|d| tag_matches(&d.annotations, tag));
            if candidates.is_empty() {
                return Err(invalid(
                    self.source,
                    format!("no image in it is tagged {tag:?}"),
                ));
            }
        }
        // One level of nested index (a multi-platform image inside the layout).
        if let [only] = candidates.as_slice()
            && INDEX_TYPES.contains(&only.media_type.as_str())
        {
            let nested: IndexJson = self.json(&blob(&only.digest)).await?;
            candidates = nested.manifests;
        }
        let chosen = candidates
            .into_iter()
            .find(|d| {
                !INDEX_TYPES.contains(&d.media_type.as_str())
                    && platform_matches(&d.platform, platform)
            })
            .ok_or_else(|| invalid(self.source, format!("it has no image for {platform}")))?;
        let manifest: ManifestJson = self.json(&blob(&chosen.digest)).await?;
        Ok(ImagePaths {
            config: blob(&manifest.config.digest),
            layers: manifest.layers.iter().map(|l| blob(&l.digest)).collect(),
        })
    }

    async fn image_in_docker_archive(&self, tag: Option<&str>) -> CoreResult<ImagePaths> {
        let entries: Vec<DockerArchiveEntry> = self.json("/manifest.json").await.map_err(|e| match e {
            CoreError::NotFound { .. } => invalid(
                self.source,
                "it has neither index.json (OCI layout) nor manifest.json (docker save archive)",
            ),
            e => e,
        })?;
        let entry = entries
            .into_iter()
            .find(|e| {
                tag.is_none_or(|t| {
                    e.repo_tags
                        .iter()
                        .flatten()
                        .any(|rt| rt == t || rt.ends_with(&format!(":{t}")))
                })
            })
            .ok_or_else(|| {
                invalid(
                    self.source,
                    format!("no image in it is tagged {:?}", tag.unwrap_or("")),
                )
            })?;
        Ok(ImagePaths {
            config: format!("/{}", entry.config.trim_start_matches('/')),
            layers: entry
                .layers
                .iter()
                .map(|l| format!("/{}", l.trim_start_matches('/')))
                .collect(),
        })
    }
}

/// `lower` with the unpacked layer `files` applied on top, whiteouts honoured (the exec shim does
/// it: a plain copy would keep `.wh.` markers and what they delete).
fn apply_layer(
    rt: &Runtime,
    lower: &State,
    files: State,
    platform: &Platform,
    tarball: &str,
    n: usize,
) -> CoreResult<State> {
    crate::core::solve::shim_tool(
        rt,
        platform,
        crate::shim::APPLY_ARG,
        vec![("/.dirk-layer", files, String::new())],
        ("/.dirk-target", lower.clone()),
        &[],
        format!("import {tarball}: apply layer {n}"),
    )
}

impl Container {
    /// The image in tarball `source` (the one tagged `tag`, when the tarball holds several) as this
    /// container: its filesystem and config replace the container's.
    pub async fn import(
        &self,
        rt: &Runtime,
        source: &File,
        tag: Option<&str>,
    ) -> CoreResult<Container> {
        let unpacked = State::scratch().file(
            vec![FileAction::Unpack {
                from: source.state.clone(),
                src: source.path.clone(),
                dest: "/".into(),
            }],
            Some(&source.platform),
            Some(format!("unpack image tarball {}", source.path)),
        );
        let solved = evaluate(rt, &unpacked, "unpacking the image tarball")
            .await?
            .ok_or_else(|| invalid(source, "it is empty"))?;
        let reader = Reader {
            rt,
            source,
            unpacked: solved,
        };
        let paths = reader.image(tag, &self.platform).await?;
        let config =
            ImageConfig::from_image_json(&source.path, &reader.read(&paths.config).await?)?;
        let mut rootfs = State::scratch();
        for (i, layer) in paths.layers.iter().enumerate() {
            let files = State::scratch().file(
                vec![FileAction::Unpack {
                    from: unpacked.clone(),
                    src: layer.clone(),
                    dest: "/".into(),
                }],
                Some(&self.platform),
                Some(format!("import {}: layer {}", source.path, i + 1)),
            );
            rootfs = if i == 0 {
                files
            } else {
                apply_layer(rt, &rootfs, files, &self.platform, &source.path, i + 1)?
            };
        }
        let mut next = Container::scratch(self.platform.clone());
        next.rootfs = rootfs;
        next.config = config;
        next.pipeline = self.pipeline.clone();
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_entries_match_tags_and_platforms() {
        let annotations = std::collections::HashMap::from([(REF_NAME.to_owned(), "v1".to_owned())]);
        assert!(tag_matches(&annotations, "v1"));
        assert!(!tag_matches(&annotations, "v2"));
        let containerd = std::collections::HashMap::from([(
            CONTAINERD_NAME.to_owned(),
            "docker.io/library/app:v2".to_owned(),
        )]);
        assert!(tag_matches(&containerd, "v2"));
        let amd64 = Some(PlatformJson {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        });
        assert!(platform_matches(&amd64, &Platform::linux("amd64")));
        assert!(!platform_matches(&amd64, &Platform::linux("arm64")));
        assert!(platform_matches(&None, &Platform::linux("arm64")));
        assert_eq!(blob("sha256:ab"), "/blobs/sha256/ab");
    }
}
