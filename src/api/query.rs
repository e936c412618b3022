//! Root `Query` fields, and the small value types (`EnvVariable`, `Label`, `CacheVolume`).

use std::collections::HashMap;

use super::error::ApiError;
use super::field;
use super::resolve::{QueryInPipeline, Resolver, object, root, value};
use crate::core::pipeline::join_pipeline;
use crate::core::{CacheVolume, Container, Directory, File};

/// `name`/`value` pairs served as `EnvVariable` and `Label`.
#[derive(Clone)]
pub(super) struct NameValue {
    pub name: String,
    pub value: String,
}

pub(super) fn register(reg: &mut HashMap<(&'static str, &'static str), Resolver>) {
    reg.insert(
        ("Query", "container"),
        root("Query.container", |st, a| async move {
            if let Some(id) = a.opt_string("id")? {
                return Ok(object(st.ids.container("id", &id)?));
            }
            let platform = a.platform_or("platform", st.rt.default_platform())?;
            let mut container = Container::scratch(platform);
            container.pipeline = a.pipeline().to_owned();
            Ok(object(container))
        }),
    );
    reg.insert(
        ("Query", "http"),
        root("Query.http", |st, a| async move {
            let service = match a.opt_string("experimentalServiceHost")? {
                Some(id) => Some(
                    st.ids
                        .container("experimentalServiceHost", &id)?
                        .hostname(&st.rt)?,
                ),
                None => None,
            };
            Ok(object(File::http(
                &a.string("url")?,
                st.rt.default_platform(),
                service.as_deref(),
            )?))
        }),
    );
    reg.insert(
        ("Query", "pipeline"),
        root("Query.pipeline", |_st, a| async move {
            let name = a.string("name")?;
            if name.trim().is_empty() {
                return Err(ApiError::invalid_arg(
                    "name",
                    &name,
                    "a pipeline needs a name",
                ));
            }
            Ok(object(QueryInPipeline {
                pipeline: join_pipeline(a.pipeline(), name.trim()),
            }))
        }),
    );
    reg.insert(
        ("Query", "directory"),
        root("Query.directory", |st, a| async move {
            Ok(object(match a.opt_string("id")? {
                Some(id) => st.ids.directory("id", &id)?,
                None => {
                    let mut empty = Directory::empty(st.rt.default_platform().clone());
                    empty.pipeline = a.pipeline().to_owned();
                    empty
                }
            }))
        }),
    );
    reg.insert(
        ("Query", "file"),
        root("Query.file", |st, a| async move {
            Ok(object(st.ids.file("id", &a.string("id")?)?))
        }),
    );
    reg.insert(
        ("Query", "cacheVolume"),
        root("Query.cacheVolume", |_st, a| async move {
            let key = a.string("key")?;
            if key.is_empty() {
                return Err(ApiError::invalid_arg(
                    "key",
                    &key,
                    "a cache volume key cannot be empty",
                ));
            }
            Ok(object(CacheVolume { key }))
        }),
    );
    reg.insert(
        ("Query", "defaultPlatform"),
        root("Query.defaultPlatform", |st, _a| async move {
            Ok(value(st.rt.default_platform().to_string()))
        }),
    );

    field!(reg, "CacheVolume"."id", CacheVolume, |st, c, a| { Ok(value(st.ids.cache_id(&c))) });
    for ty in ["EnvVariable", "Label"] {
        reg.insert(
            (ty, "name"),
            super::resolve::on::<NameValue, _, _>("name", |_st, nv, _a| async move {
                Ok(value(nv.name))
            }),
        );
        reg.insert(
            (ty, "value"),
            super::resolve::on::<NameValue, _, _>("value", |_st, nv, _a| async move {
                Ok(value(nv.value))
            }),
        );
    }
}
