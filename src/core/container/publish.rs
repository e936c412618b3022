//! Container images the session writes itself, where the daemon cannot (see `daemon_image`). A
//! container created `from` an image keeps that image's layers, as they are on its registry; what
//! the pipeline added or changed since (deletions as whiteouts) follows in new layers, which the exec
//! shim computes and the daemon's `tar` exporter (which every BuildKit has, unlike its image
//! exporters) sends. A container with no base image is one layer of its whole filesystem. Images are
//! written to an archive (`export`, with the base layers fetched) or pushed to a registry
//! (`publish`: base layers the registry lacks are mounted from their repository on the same
//! registry, or copied from theirs), with an index when there are several platforms.

use std::path::Path;

use std::collections::HashMap;

use super::{BaseImage, Container};
use crate::core::error::{CoreError, CoreResult};
use crate::core::export::{WorkDir, export_state};
use crate::core::image::ImageRef;
use crate::core::oci::{
    BaseLayers, BuiltImage, ImageFormat, LayerBlob, build_image, image_index, manifest_for_platform,
};
use crate::core::runtime::Runtime;
use crate::core::stores::exports::{TARBALL_NAME, export_error, staging_dir};
use crate::distribution::{DistributionError, Repository};
use crate::llb::{Platform, State};

/// The first 12 hex digits of a digest, as Docker shows them.
fn short(digest: &str) -> &str {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    &hex[..hex.len().min(12)]
}

/// Exports `main` and `variants` (distinct platforms) and builds one image for each, in `work`.
pub async fn build_images(
    rt: &Runtime,
    main: &Container,
    variants: &[Container],
    work: &Path,
    format: ImageFormat,
) -> CoreResult<Vec<BuiltImage>> {
    let all: Vec<&Container> = std::iter::once(main).chain(variants).collect();
    for (i, c) in all.iter().enumerate() {
        if all[..i].iter().any(|o| o.platform == c.platform) {
            return Err(CoreError::invalid(
                "platformVariants",
                c.platform.to_string(),
                "two containers have this platform; give one container per platform",
            ));
        }
        if c.rootfs.is_scratch() {
            return Err(CoreError::Unsupported(format!(
                "the {} container is empty (no rootfs): there is no image to write",
                c.platform
            )));
        }
    }
    let mut images = Vec::with_capacity(all.len());
    for (i, c) in all.into_iter().enumerate() {
        c.sync(rt).await?;
        let base = match &c.base {
            Some(b) => {
                let step = rt
                    .progress()
                    .start(format!("read base image {} ({})", b.reference, c.platform));
                match step.finish(base_layers(rt, b, &c.platform).await) {
                    Ok(layers) if layers.fits(format) => Some((b, layers)),
                    Ok(_) => None,
                    // The image is still right without them: one layer of the whole filesystem.
                    Err(e) => {
                        tracing::warn!(base = %b.reference, error = %e, "writing the image without its base image's layers");
                        None
                    }
                }
            }
            None => None,
        };
        let filesystems = match &base {
            Some((b, _)) => layer_changes(rt, b, c)?,
            None => vec![c.rootfs.clone()],
        };
        let mut tars = Vec::with_capacity(filesystems.len());
        for (n, filesystem) in filesystems.iter().enumerate() {
            let tar = work.join(format!("platform-{i}-layer-{n}.tar"));
            let what = format!("layer {} of the {} container", n + 1, c.platform);
            export_state(rt, filesystem, &tar, &what, "tar", |staging| {
                std::fs::rename(staging.join(TARBALL_NAME), &tar).map_err(|e| {
                    CoreError::Unsupported(format!(
                        "keeping the exported filesystem of {what}: {e}"
                    ))
                })
            })
            .await?;
            tars.push(tar);
        }
        let (config, platform) = (c.config.clone(), c.platform.clone());
        let base = base.map(|(_, layers)| layers);
        let image = tokio::task::spawn_blocking(move || {
            build_image(&tars, base.as_ref(), &config, &platform, format)
        })
        .await
        .map_err(|e| CoreError::Unsupported(format!("building the image: {e}")))??;
        images.push(image);
    }
    Ok(images)
}

/// The repository of `reference` on its registry, with the session's credentials for it.
fn repository_of(rt: &Runtime, reference: &ImageRef) -> Repository {
    let credentials = rt
        .registry_auth()
        .credentials(&reference.domain, rt.secrets(), |k| std::env::var(k).ok());
    Repository::new(&reference.domain, &reference.path, credentials)
}

/// The layers of `base` for `platform`, read from its registry (manifest and config only).
async fn base_layers(
    rt: &Runtime,
    base: &BaseImage,
    platform: &Platform,
) -> CoreResult<BaseLayers> {
    let reference = ImageRef::parse(&base.reference)?;
    let failed = |source| CoreError::Publish {
        address: base.reference.clone(),
        source,
    };
    let mut repo = repository_of(rt, &reference).reading();
    repo.authenticate().await.map_err(failed)?;
    let pinned = reference
        .digest
        .clone()
        .or_else(|| reference.tag.clone())
        .unwrap_or_else(|| "latest".into());
    let (media_type, mut manifest) = repo.get_manifest(&pinned).await.map_err(failed)?;
    if media_type.contains("index") || media_type.contains("manifest.list") {
        let digest = manifest_for_platform(&manifest, platform).ok_or_else(|| {
            CoreError::Unsupported(format!(
                "the base image {} has no manifest for {platform}",
                base.reference
            ))
        })?;
        manifest = repo.get_manifest(&digest).await.map_err(failed)?.1;
    }
    let json: serde_json::Value = serde_json::from_slice(&manifest).unwrap_or_default();
    let config_digest = json["config"]["digest"].as_str().unwrap_or_default();
    let config = repo.get_blob(config_digest).await.map_err(failed)?;
    let layers = BaseLayers::parse(
        &base.reference,
        &reference.domain,
        &reference.path,
        &manifest,
        &config,
    )?;
    if layers.diff_ids != base.diff_ids {
        return Err(CoreError::Unsupported(format!(
            "the registry's {} is no longer the image this session pulled (its layers differ)",
            base.reference
        )));
    }
    Ok(layers)
}

/// At most this many layers are added to a base image; earlier commands' changes share the first.
const MAX_NEW_LAYERS: usize = 8;

/// What `c` added to or changed in its base image's filesystem, as image layers: one per command
/// run since (the last [`MAX_NEW_LAYERS`]), then one for what followed the last command. Each holds
/// the entries changed since the layer before, with whiteouts for deletions.
fn layer_changes(rt: &Runtime, base: &BaseImage, c: &Container) -> CoreResult<Vec<State>> {
    let mut bounds: Vec<&State> = vec![&base.rootfs];
    let skip = base.marks.len().saturating_sub(MAX_NEW_LAYERS - 1);
    bounds.extend(base.marks.iter().skip(skip));
    if bounds.last().is_none_or(|last| **last != c.rootfs) {
        bounds.push(&c.rootfs);
    }
    bounds
        .windows(2)
        .enumerate()
        .map(|(n, pair)| {
            crate::core::solve::shim_tool(
                rt,
                &c.platform,
                crate::shim::DIFF_ARG,
                vec![
                    ("/.dirk-diff/lower", pair[0].clone(), String::new()),
                    ("/.dirk-diff/upper", pair[1].clone(), String::new()),
                ],
                ("/.dirk-diff/out", State::scratch()),
                &[crate::shim::LAYER_OPT.to_owned()],
                c.step_name(&format!("layer {} on {}", n + 1, base.reference)),
            )
        })
        .collect()
}

/// Source repositories of base layers, authenticated once each.
#[derive(Default)]
struct Sources(HashMap<(String, String), Repository>);

impl Sources {
    async fn get(
        &mut self,
        rt: &Runtime,
        registry: &str,
        repository: &str,
    ) -> Result<&Repository, DistributionError> {
        use std::collections::hash_map::Entry;
        match self.0.entry((registry.to_owned(), repository.to_owned())) {
            Entry::Occupied(known) => Ok(known.into_mut()),
            Entry::Vacant(new) => {
                let reference = ImageRef {
                    domain: registry.to_owned(),
                    path: repository.to_owned(),
                    tag: None,
                    digest: None,
                };
                let mut repo = repository_of(rt, &reference).reading();
                repo.authenticate().await?;
                Ok(new.insert(repo))
            }
        }
    }
}

/// Fetches every base layer of `images` into `work`, so that the images can be written whole.
async fn fetch_base_layers(rt: &Runtime, images: &mut [BuiltImage], work: &Path) -> CoreResult<()> {
    let mut sources = Sources::default();
    for image in images.iter_mut() {
        for layer in image.layers.iter_mut() {
            let LayerBlob::Remote {
                registry,
                repository,
            } = &layer.blob
            else {
                continue;
            };
            let path = work.join(layer.desc.digest.replace(':', "-"));
            if !path.exists() {
                let step = rt.progress().start(format!(
                    "fetch base layer {} ({:.1} MB) from {registry}/{repository}",
                    short(&layer.desc.digest),
                    layer.desc.size as f64 / 1e6
                ));
                let source = sources.get(rt, registry, repository).await;
                let fetched = match source {
                    Ok(repo) => repo.download_blob(&layer.desc.digest, &path).await,
                    Err(e) => Err(e),
                };
                step.finish(fetched).map_err(|source| CoreError::Publish {
                    address: format!("{registry}/{repository}"),
                    source,
                })?;
            }
            layer.blob = LayerBlob::File(path);
        }
    }
    Ok(())
}

/// Pushes one layer unless the registry has it: a base layer is mounted from its repository when
/// it is on the same registry, else copied from its registry; progress says which happened.
#[allow(clippy::too_many_arguments)]
async fn push_layer(
    rt: &Runtime,
    repo: &Repository,
    target_registry: &str,
    layer: &crate::core::oci::ImageLayer,
    platform: &Platform,
    sources: &mut Sources,
    work: &Path,
    step: &impl Fn(String) -> crate::core::progress::StepHandle,
) -> Result<(), DistributionError> {
    let what = format!(
        "layer {} ({:.1} MB, {platform})",
        short(&layer.desc.digest),
        layer.desc.size as f64 / 1e6
    );
    let digest = &layer.desc.digest;
    if repo.has_blob(digest).await? {
        return step(format!("{what}: already present")).finish(Ok(()));
    }
    match &layer.blob {
        LayerBlob::File(path) => step(format!("{what}: pushed"))
            .finish(repo.push_blob_file(digest, layer.desc.size, path).await),
        LayerBlob::Remote {
            registry,
            repository,
        } => {
            if registry == target_registry && repo.mount_blob(digest, repository).await? {
                return step(format!("{what}: mounted from {repository}")).finish(Ok(()));
            }
            let path = work.join(digest.replace(':', "-"));
            let copied = async {
                let source = sources.get(rt, registry, repository).await?;
                source.download_blob(digest, &path).await?;
                repo.push_blob_file(digest, layer.desc.size, &path).await
            }
            .await;
            let _ = std::fs::remove_file(&path);
            step(format!("{what}: copied from {registry}/{repository}")).finish(copied)
        }
    }
}

impl Container {
    /// Pushes the container (and `variants`, one per further platform) to registry reference
    /// `address`; returns `address` as written, pinned to the pushed manifest's (or index's) digest.
    pub async fn publish(
        &self,
        rt: &Runtime,
        address: &str,
        variants: &[Container],
        format: ImageFormat,
    ) -> CoreResult<String> {
        let reference = ImageRef::parse(address)?;
        if reference.digest.is_some() {
            return Err(CoreError::invalid(
                "publish address",
                address,
                "publish to a tag (name:tag); the digest is what publish returns",
            ));
        }
        let tag = reference.tag.clone().unwrap_or_else(|| "latest".into());
        if variants.is_empty()
            && let Some(digest) = self.push_by_daemon(rt, &reference, &tag, format).await?
        {
            return Ok(format!("{address}@{digest}"));
        }
        let work = WorkDir::temporary()?;
        let images = build_images(rt, self, variants, &work.0, format).await?;
        let failed = |source| CoreError::Publish {
            address: address.to_owned(),
            source,
        };
        let mut repo = repository_of(rt, &reference);
        let name = reference.name_and_tag();
        let step = |what: String| rt.progress().start(format!("push {name}: {what}"));
        step("authenticate".into())
            .finish(repo.authenticate().await)
            .map_err(failed)?;
        let mut sources = Sources::default();
        for image in &images {
            for layer in &image.layers {
                push_layer(
                    rt,
                    &repo,
                    &reference.domain,
                    layer,
                    &image.platform,
                    &mut sources,
                    &work.0,
                    &step,
                )
                .await
                .map_err(failed)?;
            }
            step(format!("config {}", short(&image.config.digest)))
                .finish(
                    repo.push_blob_bytes(&image.config.digest, &image.config_json)
                        .await,
                )
                .map_err(failed)?;
        }
        let digest = match images.as_slice() {
            [one] => step(format!("manifest {tag}"))
                .finish(
                    repo.push_manifest(&tag, &one.manifest.media_type, &one.manifest_json)
                        .await,
                )
                .map_err(failed)?,
            many => {
                for image in many {
                    step(format!("manifest for {}", image.platform))
                        .finish(
                            repo.push_manifest(
                                &image.manifest.digest,
                                &image.manifest.media_type,
                                &image.manifest_json,
                            )
                            .await,
                        )
                        .map_err(failed)?;
                }
                let (index, json) = image_index(many, format)?;
                step(format!("index {tag}"))
                    .finish(repo.push_manifest(&tag, &index.media_type, &json).await)
                    .map_err(failed)?
            }
        };
        // The address as the caller wrote it (no tag added), as v0.6.4 answers.
        Ok(format!("{address}@{digest}"))
    }
}

impl Container {
    /// Writes the container (and `variants`, one per further platform) as an image archive to host
    /// path `path`: an OCI image layout with one single-layer image per platform, and Docker's
    /// `manifest.json` too, so `docker load` reads it.
    pub async fn export(
        &self,
        rt: &Runtime,
        path: &str,
        variants: &[Container],
        format: crate::core::oci::ImageFormat,
    ) -> CoreResult<()> {
        let dest = rt.host()?.resolve(path)?;
        if variants.is_empty() && self.export_by_daemon(rt, &dest, format).await? {
            return Ok(());
        }
        let work = WorkDir(staging_dir(&dest)?);
        let mut images = build_images(rt, self, variants, &work.0, format).await?;
        fetch_base_layers(rt, &mut images, &work.0).await?;
        let archive = work.0.join("image.tar");
        // Layers can be large: the archive is written off the async workers.
        let written = archive.clone();
        tokio::task::spawn_blocking(move || {
            crate::core::oci::write_image_archive(&images, format, &written)
        })
        .await
        .map_err(|e| export_error(&dest, format!("writing the image archive: {e}")))??;
        std::fs::rename(&archive, &dest)
            .map_err(|e| export_error(&dest, format!("moving the image archive into place: {e}")))
    }
}
