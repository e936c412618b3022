//! Container images out of the session: each platform's filesystem comes from the daemon's `tar`
//! exporter (which every BuildKit has, unlike its image exporters), becomes a one-layer image here,
//! and is written to an archive (`export`) or pushed to a registry (`publish`), with an index when
//! there are several platforms.

use std::path::Path;

use super::Container;
use crate::core::error::{CoreError, CoreResult};
use crate::core::export::{WorkDir, export_state};
use crate::core::image::ImageRef;
use crate::core::oci::{BuiltImage, ImageFormat, build_image, image_index};
use crate::core::runtime::Runtime;
use crate::core::stores::exports::{TARBALL_NAME, export_error, staging_dir};
use crate::distribution::Repository;

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
        let tar = work.join(format!("platform-{i}.tar"));
        let what = format!("the {} container", c.platform);
        export_state(rt, &c.rootfs, &tar, &what, "tar", |staging| {
            std::fs::rename(staging.join(TARBALL_NAME), &tar).map_err(|e| {
                CoreError::Unsupported(format!("keeping the exported filesystem of {what}: {e}"))
            })
        })
        .await?;
        let (config, platform) = (c.config.clone(), c.platform.clone());
        let image =
            tokio::task::spawn_blocking(move || build_image(&tar, &config, &platform, format))
                .await
                .map_err(|e| CoreError::Unsupported(format!("building the image: {e}")))??;
        images.push(image);
    }
    Ok(images)
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
        let work = WorkDir::temporary()?;
        let images = build_images(rt, self, variants, &work.0, format).await?;
        let failed = |source| CoreError::Publish {
            address: address.to_owned(),
            source,
        };
        let credentials = rt
            .registry_auth()
            .credentials(&reference.domain, rt.secrets(), |k| std::env::var(k).ok());
        let mut repo = Repository::new(&reference.domain, &reference.path, credentials);
        let name = reference.name_and_tag();
        let step = |what: String| rt.progress().start(format!("push {name}: {what}"));
        step("authenticate".into())
            .finish(repo.authenticate().await)
            .map_err(failed)?;
        for image in &images {
            let layer = &image.layer;
            step(format!(
                "layer {} ({:.1} MB, {})",
                short(&layer.digest),
                layer.size as f64 / 1e6,
                image.platform
            ))
            .finish(
                repo.push_blob_file(&layer.digest, layer.size, &image.layer_path)
                    .await,
            )
            .map_err(failed)?;
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
                    repo.push_manifest(&tag, one.manifest.media_type, &one.manifest_json)
                        .await,
                )
                .map_err(failed)?,
            many => {
                for image in many {
                    step(format!("manifest for {}", image.platform))
                        .finish(
                            repo.push_manifest(
                                &image.manifest.digest,
                                image.manifest.media_type,
                                &image.manifest_json,
                            )
                            .await,
                        )
                        .map_err(failed)?;
                }
                let (index, json) = image_index(many, format)?;
                step(format!("index {tag}"))
                    .finish(repo.push_manifest(&tag, index.media_type, &json).await)
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
        let work = WorkDir(staging_dir(&dest)?);
        let images = build_images(rt, self, variants, &work.0, format).await?;
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
