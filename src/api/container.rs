//! `Container` fields.

use std::collections::HashMap;

use super::ApiState;
use super::error::ApiError;
use super::field;
use super::query::NameValue;
use super::resolve::{Args, Resolver, object, objects, opt_string, opt_strings, value};
use crate::core::container::build::DockerBuild;
use crate::core::oci::{ImageFormat, LayerCompression};
use crate::core::service::{Port, Protocol};
use crate::core::{Container, ExecOptions};
use crate::llb::CacheSharing;

fn sharing(mode: Option<String>) -> Result<CacheSharing, ApiError> {
    match mode.as_deref() {
        None | Some("SHARED") => Ok(CacheSharing::Shared),
        Some("PRIVATE") => Ok(CacheSharing::Private),
        Some("LOCKED") => Ok(CacheSharing::Locked),
        Some(other) => Err(ApiError::invalid_arg(
            "sharing",
            other,
            "expected SHARED, PRIVATE or LOCKED",
        )),
    }
}

fn protocol(name: Option<String>) -> Result<Protocol, ApiError> {
    match name.as_deref() {
        None | Some("TCP") => Ok(Protocol::Tcp),
        Some("UDP") => Ok(Protocol::Udp),
        Some(other) => Err(ApiError::invalid_arg(
            "protocol",
            other,
            "expected TCP or UDP",
        )),
    }
}

fn exec_options(a: &Args) -> Result<ExecOptions, ApiError> {
    if a.flag("experimentalPrivilegedNesting")? {
        return Err(ApiError::msg(
            "experimentalPrivilegedNesting is not available: dirk does not expose its session inside execs",
        ));
    }
    Ok(ExecOptions {
        args: a.strings("args")?,
        skip_entrypoint: a.flag("skipEntrypoint")?,
        stdin: a.opt_string("stdin")?,
        redirect_stdout: a.opt_string("redirectStdout")?,
        redirect_stderr: a.opt_string("redirectStderr")?,
        insecure_root_capabilities: a.flag("insecureRootCapabilities")?,
    })
}

/// The platform variants and layer format asked for by `export` and `publish`.
fn image_options(st: &ApiState, a: &Args) -> Result<(Vec<Container>, ImageFormat), ApiError> {
    let variants = a
        .strings("platformVariants")?
        .iter()
        .map(|id| st.ids.container("platformVariants", id))
        .collect::<Result<Vec<_>, _>>()?;
    let compression = match a.opt_enum("forcedCompression")?.as_deref() {
        None | Some("Gzip") => LayerCompression::Gzip,
        Some("Zstd") => LayerCompression::Zstd,
        Some("Uncompressed") => LayerCompression::Uncompressed,
        Some(other) => {
            return Err(ApiError::invalid_arg(
                "forcedCompression",
                other,
                "dirk writes Gzip, Zstd or Uncompressed layers (eStargz is not supported)",
            ));
        }
    };
    let docker_media_types = a.opt_enum("mediaTypes")?.as_deref() == Some("DockerMediaTypes");
    Ok((variants, ImageFormat::new(docker_media_types, compression)?))
}

/// The Dockerfile build options shared by `Container.build` and `Directory.dockerBuild`.
pub(super) fn docker_build_options(st: &ApiState, a: &Args) -> Result<DockerBuild, ApiError> {
    Ok(DockerBuild {
        dockerfile: a.opt_string("dockerfile")?,
        build_args: a.name_values("buildArgs")?,
        target: a.opt_string("target")?,
        secrets: a
            .strings("secrets")?
            .iter()
            .map(|id| st.ids.secret("secrets", id))
            .collect::<Result<Vec<_>, _>>()?,
    })
}

pub(super) fn register(reg: &mut HashMap<(&'static str, &'static str), Resolver>) {
    field!(reg, "Container"."id", Container, |st, c, a| { Ok(value(st.ids.container_id(&c))) });
    field!(reg, "Container"."sync", Container, |st, c, a| {
        c.sync(&st.rt).await?;
        Ok(value(st.ids.container_id(&c)))
    });
    field!(reg, "Container"."pipeline", Container, |st, c, a| { Ok(object(c.with_pipeline(&a.string("name")?)?)) });
    field!(reg, "Container"."platform", Container, |st, c, a| { Ok(value(c.platform.to_string())) });
    field!(reg, "Container"."from", Container, |st, c, a| { Ok(object(c.from(&st.rt, &a.string("address")?).await?)) });
    field!(reg, "Container"."imageRef", Container, |st, c, a| { Ok(opt_string(c.image_ref.clone())) });

    // `exec` is the deprecated spelling: the same options, no skipEntrypoint/insecureRootCapabilities.
    field!(reg, "Container".["withExec", "exec"], Container, |st, c, a| {
        let opts = exec_options(&a)?;
        Ok(object(c.with_exec(&st.rt, opts)?))
    });
    field!(reg, "Container"."stdout", Container, |st, c, a| { Ok(value(st.rt.secrets().scrub(&c.stdout(&st.rt).await?))) });
    field!(reg, "Container"."stderr", Container, |st, c, a| { Ok(value(st.rt.secrets().scrub(&c.stderr(&st.rt).await?))) });
    field!(reg, "Container"."exitCode", Container, |st, c, a| { Ok(value(c.exit_code(&st.rt).await?)) });

    field!(reg, "Container"."withEnvVariable", Container, |st, c, a| {
        Ok(object(c.with_env_variable(&a.string("name")?, &a.string("value")?, a.flag("expand")?)?))
    });
    field!(reg, "Container"."withoutEnvVariable", Container, |st, c, a| { Ok(object(c.without_env_variable(&a.string("name")?))) });
    field!(reg, "Container"."envVariable", Container, |st, c, a| {
        Ok(opt_string(c.config.env_value(&a.string("name")?).map(str::to_owned)))
    });
    field!(reg, "Container"."envVariables", Container, |st, c, a| {
        Ok(objects(c.config.env.iter().map(|kv| {
            let (name, value) = kv.split_once('=').unwrap_or((kv.as_str(), ""));
            NameValue { name: name.to_owned(), value: value.to_owned() }
        })))
    });
    field!(reg, "Container"."withLabel", Container, |st, c, a| { Ok(object(c.with_label(&a.string("name")?, &a.string("value")?))) });
    field!(reg, "Container"."withoutLabel", Container, |st, c, a| { Ok(object(c.without_label(&a.string("name")?))) });
    field!(reg, "Container"."label", Container, |st, c, a| {
        let name = a.string("name")?;
        Ok(opt_string(c.config.labels.as_ref().and_then(|l| l.get(&name).cloned())))
    });
    field!(reg, "Container"."labels", Container, |st, c, a| {
        let labels = c.config.labels.clone().unwrap_or_default();
        Ok(objects(labels.into_iter().map(|(name, value)| NameValue { name, value })))
    });

    field!(reg, "Container"."withWorkdir", Container, |st, c, a| { Ok(object(c.with_workdir(&a.string("path")?)?)) });
    field!(reg, "Container"."workdir", Container, |st, c, a| {
        Ok(opt_string(Some(c.config.working_dir.clone()).filter(|w| !w.is_empty())))
    });
    field!(reg, "Container"."withUser", Container, |st, c, a| { Ok(object(c.with_user(&a.string("name")?))) });
    field!(reg, "Container"."user", Container, |st, c, a| { Ok(opt_string(Some(c.config.user.clone()).filter(|u| !u.is_empty()))) });
    field!(reg, "Container"."withEntrypoint", Container, |st, c, a| { Ok(object(c.with_entrypoint(a.strings("args")?))) });
    field!(reg, "Container"."entrypoint", Container, |st, c, a| { Ok(opt_strings(c.config.entrypoint.clone())) });
    field!(reg, "Container"."withDefaultArgs", Container, |st, c, a| { Ok(object(c.with_default_args(a.opt_strings("args")?))) });
    field!(reg, "Container"."defaultArgs", Container, |st, c, a| { Ok(opt_strings(c.config.cmd.clone())) });

    field!(reg, "Container"."withNewFile", Container, |st, c, a| {
        let contents = a.opt_string("contents")?.unwrap_or_default();
        let owner = a.opt_string("owner")?;
        Ok(object(c.with_new_file(&a.string("path")?, &contents, a.permissions("permissions")?, owner.as_deref())?))
    });
    field!(reg, "Container"."withFile", Container, |st, c, a| {
        let source = st.ids.file("source", &a.string("source")?)?;
        let owner = a.opt_string("owner")?;
        Ok(object(c.with_file(&a.string("path")?, &source, a.permissions("permissions")?, owner.as_deref())?))
    });
    field!(reg, "Container"."withMountedDirectory", Container, |st, c, a| {
        let source = st.ids.directory("source", &a.string("source")?)?;
        let owner = a.opt_string("owner")?;
        Ok(object(c.with_mounted_directory(&a.string("path")?, &source, owner.as_deref())?))
    });
    field!(reg, "Container"."withMountedCache", Container, |st, c, a| {
        let volume = st.ids.cache("cache", &a.string("cache")?)?;
        let seed = a.opt_string("source")?.map(|id| st.ids.directory("source", &id)).transpose()?;
        let mode = sharing(a.opt_enum("sharing")?)?;
        let owner = a.opt_string("owner")?;
        Ok(object(c.with_mounted_cache(&a.string("path")?, &volume, seed.as_ref(), mode, owner.as_deref())?))
    });
    field!(reg, "Container"."withMountedTemp", Container, |st, c, a| { Ok(object(c.with_mounted_temp(&a.string("path")?)?)) });
    field!(reg, "Container"."withoutMount", Container, |st, c, a| { Ok(object(c.without_mount(&a.string("path")?)?)) });
    field!(reg, "Container"."mounts", Container, |st, c, a| { Ok(value(c.mount_targets())) });

    // `fs` and `withFS` are the deprecated spellings of `rootfs` and `withRootfs`.
    field!(reg, "Container".["rootfs", "fs"], Container, |st, c, a| { Ok(object(c.rootfs_directory())) });
    field!(reg, "Container".["withRootfs", "withFS"], Container, |st, c, a| {
        Ok(object(c.with_rootfs(&st.ids.directory("id", &a.string("id")?)?)))
    });
    field!(reg, "Container"."export", Container, |st, c, a| {
        let (variants, format) = image_options(&st, &a)?;
        c.export(&st.rt, &a.string("path")?, &variants, format).await?;
        Ok(value(true))
    });
    field!(reg, "Container"."build", Container, |st, c, a| {
        let context = st.ids.directory("context", &a.string("context")?)?;
        let build = docker_build_options(&st, &a)?;
        Ok(object(c.build(&st.rt, &context, &build).await?))
    });
    field!(reg, "Container"."import", Container, |st, c, a| {
        let source = st.ids.file("source", &a.string("source")?)?;
        Ok(object(c.import(&st.rt, &source, a.opt_string("tag")?.as_deref()).await?))
    });
    field!(reg, "Container"."publish", Container, |st, c, a| {
        let (variants, format) = image_options(&st, &a)?;
        Ok(value(c.publish(&st.rt, &a.string("address")?, &variants, format).await?))
    });
    field!(reg, "Container"."withDirectory", Container, |st, c, a| {
        let source = st.ids.directory("directory", &a.string("directory")?)?;
        let owner = a.opt_string("owner")?;
        Ok(object(c.with_directory(&st.rt, &a.string("path")?, &source, a.strings("include")?, a.strings("exclude")?, owner.as_deref())?))
    });
    field!(reg, "Container"."withMountedFile", Container, |st, c, a| {
        let source = st.ids.file("source", &a.string("source")?)?;
        let owner = a.opt_string("owner")?;
        Ok(object(c.with_mounted_file(&a.string("path")?, &source, owner.as_deref())?))
    });
    // Focus only changes how a client's own progress view highlights steps; dirk's views show
    // every step, so these keep the container as it is.
    field!(reg, "Container".["withFocus", "withoutFocus"], Container, |st, c, a| { Ok(object(c)) });
    field!(reg, "Container"."withExposedPort", Container, |st, c, a| {
        let port = a.opt_int("port")?.unwrap_or(0);
        Ok(object(c.with_exposed_port(port, protocol(a.opt_enum("protocol")?)?, a.opt_string("description")?)?))
    });
    field!(reg, "Container"."withoutExposedPort", Container, |st, c, a| {
        let port = a.opt_int("port")?.unwrap_or(0);
        Ok(object(c.without_exposed_port(port, protocol(a.opt_enum("protocol")?)?)?))
    });
    field!(reg, "Container"."exposedPorts", Container, |st, c, a| { Ok(objects(c.ports.clone())) });
    field!(reg, "Container"."hostname", Container, |st, c, a| { Ok(value(c.hostname(&st.rt)?)) });
    field!(reg, "Container"."endpoint", Container, |st, c, a| {
        let scheme = a.opt_string("scheme")?.unwrap_or_default();
        Ok(value(c.endpoint(&st.rt, a.opt_int("port")?.unwrap_or(0), &scheme)?))
    });
    field!(reg, "Container"."withServiceBinding", Container, |st, c, a| {
        let service = st.ids.container("service", &a.string("service")?)?;
        Ok(object(c.with_service_binding(&st.rt, &a.string("alias")?, &service)?))
    });
    field!(reg, "Port"."port", Port, |st, p, a| { Ok(value(i64::from(p.port))) });
    field!(reg, "Port"."protocol", Port, |st, p, a| {
        Ok(value(async_graphql::Value::Enum(async_graphql::Name::new(p.protocol.api_name()))))
    });
    field!(reg, "Port"."description", Port, |st, p, a| { Ok(opt_string(p.description)) });
    field!(reg, "Container"."directory", Container, |st, c, a| { Ok(object(c.directory(&a.string("path")?)?)) });
    field!(reg, "Container"."file", Container, |st, c, a| { Ok(object(c.file(&a.string("path")?)?)) });
}
