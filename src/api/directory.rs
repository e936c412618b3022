//! `Directory` and `File` fields.

use std::collections::HashMap;

use super::container::docker_build_options;
use super::field;
use super::resolve::{Resolver, object, value};
use crate::core::{Directory, File};

pub(super) fn register(reg: &mut HashMap<(&'static str, &'static str), Resolver>) {
    field!(reg, "Directory"."id", Directory, |st, d, a| { Ok(value(st.ids.directory_id(&d))) });
    field!(reg, "Directory"."sync", Directory, |st, d, a| {
        d.sync(&st.rt).await?;
        Ok(value(st.ids.directory_id(&d)))
    });
    field!(reg, "Directory"."entries", Directory, |st, d, a| {
        let path = a.opt_string("path")?;
        Ok(value(d.entries(&st.rt, path.as_deref()).await?))
    });
    field!(reg, "Directory"."file", Directory, |st, d, a| { Ok(object(d.file(&a.string("path")?)?)) });
    field!(reg, "Directory"."directory", Directory, |st, d, a| { Ok(object(d.directory(&a.string("path")?)?)) });
    field!(reg, "Directory"."withNewFile", Directory, |st, d, a| {
        Ok(object(d.with_new_file(&a.string("path")?, &a.string("contents")?, a.permissions("permissions")?)?))
    });
    field!(reg, "Directory"."withNewDirectory", Directory, |st, d, a| {
        Ok(object(d.with_new_directory(&a.string("path")?, a.permissions("permissions")?)?))
    });
    field!(reg, "Directory"."withDirectory", Directory, |st, d, a| {
        let source = st.ids.directory("directory", &a.string("directory")?)?;
        Ok(object(d.with_directory(&st.rt, &a.string("path")?, &source, a.strings("include")?, a.strings("exclude")?)?))
    });
    field!(reg, "Directory"."withFile", Directory, |st, d, a| {
        let source = st.ids.file("source", &a.string("source")?)?;
        Ok(object(d.with_file(&a.string("path")?, &source, a.permissions("permissions")?)?))
    });
    field!(reg, "Directory"."withoutFile", Directory, |st, d, a| { Ok(object(d.without_file(&a.string("path")?)?)) });
    field!(reg, "Directory"."withoutDirectory", Directory, |st, d, a| { Ok(object(d.without_directory(&a.string("path")?)?)) });

    field!(reg, "Directory"."export", Directory, |st, d, a| {
        d.export(&st.rt, &a.string("path")?).await?;
        Ok(value(true))
    });
    field!(reg, "File"."export", File, |st, f, a| {
        f.export(&st.rt, &a.string("path")?, a.flag("allowParentDirPath")?).await?;
        Ok(value(true))
    });
    field!(reg, "Directory"."diff", Directory, |st, d, a| {
        let other = st.ids.directory("other", &a.string("other")?)?;
        Ok(object(d.diff(&st.rt, &other)?))
    });
    field!(reg, "Directory"."pipeline", Directory, |st, d, a| { Ok(object(d.with_pipeline(&a.string("name")?)?)) });
    field!(reg, "Directory"."dockerBuild", Directory, |st, d, a| {
        let platform = a.platform_or("platform", st.rt.default_platform())?;
        let build = docker_build_options(&st, &a)?;
        Ok(object(d.docker_build(&st.rt, &platform, &build).await?))
    });
    field!(reg, "Directory"."withTimestamps", Directory, |st, d, a| {
        Ok(object(d.with_timestamps(a.opt_int("timestamp")?.unwrap_or(0))))
    });
    field!(reg, "File"."withTimestamps", File, |st, f, a| {
        Ok(object(f.with_timestamps(a.opt_int("timestamp")?.unwrap_or(0))))
    });
    field!(reg, "File"."id", File, |st, f, a| { Ok(value(st.ids.file_id(&f))) });
    field!(reg, "File"."sync", File, |st, f, a| {
        f.sync(&st.rt).await?;
        Ok(value(st.ids.file_id(&f)))
    });
    field!(reg, "File"."contents", File, |st, f, a| { Ok(value(f.contents(&st.rt).await?)) });
    field!(reg, "File"."size", File, |st, f, a| { Ok(value(f.size(&st.rt).await?)) });
}
