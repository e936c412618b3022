//! Images the daemon writes itself: where its BuildKit has image exporters that push (a
//! buildkitd, Docker with the containerd image store), `publish` goes through its `image` exporter
//! and `export` through its `docker` exporter, with one layer per step and the base image's layers
//! and history kept. Elsewhere these answer "not here", and the session writes the image.

use std::path::Path;

use super::Container;
use crate::core::engine::{EngineError, ImageWrite};
use crate::core::error::{CoreError, CoreResult};
use crate::core::image::ImageRef;
use crate::core::oci::ImageFormat;
use crate::core::runtime::Runtime;
use crate::core::stores::exports::{Received, TARBALL_NAME, export_error};

/// Whether a daemon's push failed because the registry answered HTTPS in plain HTTP.
fn speaks_plain_http(message: &str) -> bool {
    message.contains("first record does not look like a TLS handshake")
        || message.contains("server gave HTTP response to HTTPS client")
}

impl Container {
    /// What the daemon's image exporters need to write this container's image in `format`: its
    /// filesystem's graph (with the services it needs, held while the leases live), its config with
    /// the base image's history, and the exporter options. `None` where the daemon has no image
    /// exporters worth asking (see [`Runtime::daemon_pushes`]).
    async fn daemon_image(
        &self,
        rt: &Runtime,
        format: ImageFormat,
    ) -> CoreResult<Option<(ImageWrite, Vec<crate::core::service::Lease>)>> {
        if !rt.daemon_pushes() || self.rootfs.is_scratch() {
            return Ok(None);
        }
        self.sync(rt).await?;
        let (rootfs, services) = rt.with_services(&self.rootfs).await?;
        let Some(def) = rootfs.marshal() else {
            return Ok(None);
        };
        // The base image's history, so that its layers keep their entries, then one entry for
        // each step since, named as progress names it (the exporter describes any layer left
        // without one itself).
        let history = match &self.base {
            Some(b) => rt
                .engine()
                .resolve_image(&b.reference, &self.platform)
                .await
                .ok()
                .and_then(|r| serde_json::from_slice::<serde_json::Value>(&r.config).ok())
                .and_then(|c| c.get("history").and_then(|h| h.as_array()).cloned())
                .map(|mut history| {
                    let steps = self.rootfs.steps_since_image().unwrap_or_default();
                    history.extend(steps.into_iter().map(|step| {
                        serde_json::json!({
                            "created_by": format!("dirk: {step}"),
                            "comment": "dirk",
                        })
                    }));
                    serde_json::Value::Array(history)
                }),
            None => None,
        };
        let (config, options) =
            crate::core::oci::exporter_image(&self.config, &self.platform, history, format)?;
        let image = ImageWrite {
            rootfs: def,
            config,
            exporter: String::new(),
            options,
        };
        Ok(Some((image, services)))
    }

    /// Has the daemon's `image` exporter write and push this container's image, where the daemon
    /// has one (a buildkitd, Docker with the containerd image store): its layers are the daemon's,
    /// one per step, the base image's kept as they are. `None` where it has none (Docker's graph
    /// drivers) or cannot reach the registry: the session then builds and pushes the image itself.
    pub(super) async fn push_by_daemon(
        &self,
        rt: &Runtime,
        reference: &ImageRef,
        tag: &str,
        format: ImageFormat,
    ) -> CoreResult<Option<String>> {
        let Some((mut image, _services)) = self.daemon_image(rt, format).await? else {
            return Ok(None);
        };
        let name = format!("{}/{}:{tag}", reference.domain, reference.path);
        image.exporter = "image".into();
        image.options.insert("name".into(), name.clone());
        image.options.insert("push".into(), "true".into());
        if crate::distribution::is_loopback(&reference.domain) {
            // A buildkitd reads this; Docker goes by its own insecure-registries (see below).
            image
                .options
                .insert("registry.insecure".into(), "true".into());
        }
        let step = rt.progress().start(format!("push {name} (by the daemon)"));
        let written = step.finish(rt.engine().write_image(&image).await);
        match written {
            Ok(response) => match response.get("containerimage.digest") {
                Some(digest) => Ok(Some(digest.clone())),
                None => Err(CoreError::Unsupported(format!(
                    "publishing {name}: the daemon pushed it but did not say its digest"
                ))),
            },
            Err(EngineError::Unsupported { message }) => {
                tracing::info!(image = %name, reason = %message, "the daemon cannot push images; the session pushes them itself");
                rt.set_daemon_pushes(false);
                Ok(None)
            }
            // A registry on this machine that speaks plain HTTP, which the daemon was not told of
            // (Docker's insecure-registries): the session reaches it itself.
            Err(e) if speaks_plain_http(&e.to_string()) => {
                tracing::info!(image = %name, reason = %e, "the daemon cannot reach this registry over HTTPS; the session pushes the image itself");
                Ok(None)
            }
            Err(e) => Err(crate::core::runtime::registry_error(
                format!("publishing {name} (the daemon pushes it)"),
                &reference.domain,
                e,
            )),
        }
    }

    /// Has the daemon's `docker` exporter write this container's image as an archive to `dest`
    /// (Docker's `manifest.json` beside an OCI image layout), where the daemon has one. `false`
    /// where it has none: the session then builds the archive itself.
    pub(super) async fn export_by_daemon(
        &self,
        rt: &Runtime,
        dest: &Path,
        format: ImageFormat,
    ) -> CoreResult<bool> {
        let Some((mut image, _services)) = self.daemon_image(rt, format).await? else {
            return Ok(false);
        };
        image.exporter = "docker".into();
        let step = rt.progress().start(format!(
            "export image to {} (by the daemon)",
            dest.display()
        ));
        let written = rt
            .exports()
            .run(
                dest,
                Received::Tarball,
                || async {
                    rt.engine()
                        .write_image(&image)
                        .await
                        .map(|_| ())
                        .map_err(|e| CoreError::Engine {
                            action: format!("exporting the image to {}", dest.display()),
                            source: e,
                        })
                },
                |staging| {
                    std::fs::rename(staging.join(TARBALL_NAME), dest).map_err(|e| {
                        export_error(dest, format!("moving the image archive into place: {e}"))
                    })
                },
            )
            .await;
        match step.finish(written) {
            Ok(()) => Ok(true),
            Err(CoreError::Engine {
                source: EngineError::Unsupported { message },
                ..
            }) => {
                tracing::info!(reason = %message, "the daemon cannot write image archives; the session writes them itself");
                rt.set_daemon_pushes(false);
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}
