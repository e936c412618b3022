//! Dockerfile builds. The daemon's own Dockerfile frontend (`dockerfile.v0`) does the work, with the
//! build context and the Dockerfile given as graphs; its result comes back as a graph too, so the
//! built container can be built upon like any other, and its image config becomes the container's.

use std::collections::BTreeMap;

use super::{BaseImage, Container};
use crate::core::directory::Directory;
use crate::core::engine::FrontendRequest;
use crate::core::error::{CoreError, CoreResult};
use crate::core::image::{ImageConfig, ImageRef};
use crate::core::runtime::Runtime;
use crate::core::secret::Secret;
use crate::llb::{Platform, State};

/// The frontend that reads Dockerfiles.
const DOCKERFILE_FRONTEND: &str = "dockerfile.v0";
/// The gateway capability for passing the context and Dockerfile as graphs.
const FRONTEND_INPUTS_CAP: &str = "frontend.inputs";

/// What to build from a context directory.
#[derive(Debug, Clone, Default)]
pub struct DockerBuild {
    /// Path of the Dockerfile within the context (`Dockerfile` when `None`).
    pub dockerfile: Option<String>,
    /// `ARG` values.
    pub build_args: Vec<(String, String)>,
    /// The stage to build (the last when `None`).
    pub target: Option<String>,
    /// Secrets `RUN --mount=type=secret,id=NAME` may read, by their names.
    pub secrets: Vec<Secret>,
}

impl Directory {
    /// Builds the Dockerfile in this directory (the build context) for `platform`.
    pub async fn docker_build(
        &self,
        rt: &Runtime,
        platform: &Platform,
        build: &DockerBuild,
    ) -> CoreResult<Container> {
        rt.require(FRONTEND_INPUTS_CAP, "Dockerfile builds")?;
        let dockerfile = build.dockerfile.as_deref().unwrap_or("Dockerfile");
        let (context, _services) = rt.with_services(&self.rooted("build context")).await?;
        let Some(def) = context.marshal() else {
            return Err(CoreError::NotFound {
                object: "Dockerfile build: the context is empty".into(),
                path: dockerfile.to_owned(),
            });
        };
        let mut options = BTreeMap::from([
            ("filename".to_owned(), dockerfile.to_owned()),
            ("platform".to_owned(), platform.to_string()),
        ]);
        if let Some(target) = &build.target {
            options.insert("target".into(), target.clone());
        }
        for (name, value) in &build.build_args {
            options.insert(format!("build-arg:{name}"), value.clone());
        }
        for secret in &build.secrets {
            rt.secrets().expose_by_name(secret);
        }
        let request = FrontendRequest {
            frontend: DOCKERFILE_FRONTEND.into(),
            options,
            inputs: BTreeMap::from([
                ("context".to_owned(), def.clone()),
                ("dockerfile".to_owned(), def),
            ]),
        };
        let result = rt
            .engine()
            .frontend_solve(request)
            .await
            .map_err(|e| CoreError::engine(format!("building {dockerfile}"), e))?;
        let rootfs = match &result.definition {
            Some(def) => State::from_definition(def).map_err(|e| {
                CoreError::Unsupported(format!("the result of building {dockerfile}: {e}"))
            })?,
            None => State::scratch(),
        };
        let config = match result.metadata.get("containerimage.config") {
            Some(json) => ImageConfig::from_image_json(dockerfile, json)?,
            None => ImageConfig::default(),
        };
        let mut container = Container::scratch(platform.clone());
        // Images written from the result keep the layers of the image its Dockerfile started FROM.
        container.base = match rootfs.image_below() {
            Some((reference, image)) => match ImageRef::parse(&reference) {
                Ok(r) => match rt.resolve_image(&r, platform).await {
                    Ok((_, _, diff_ids)) if !diff_ids.is_empty() => Some(BaseImage {
                        reference,
                        rootfs: image,
                        diff_ids,
                        marks: Vec::new(),
                    }),
                    _ => None,
                },
                Err(_) => None,
            },
            None => None,
        };
        container.rootfs = rootfs;
        container.config = config;
        Ok(container)
    }
}

impl Container {
    /// `Container.build`: the container built from the Dockerfile in `context`, on this container's
    /// platform and in its pipeline.
    pub async fn build(
        &self,
        rt: &Runtime,
        context: &Directory,
        build: &DockerBuild,
    ) -> CoreResult<Container> {
        let mut built = context.docker_build(rt, &self.platform, build).await?;
        built.pipeline = self.pipeline.clone();
        Ok(built)
    }
}
