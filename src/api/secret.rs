//! `Secret` and `HostVariable` fields, and the fields that create or use secrets.

use std::collections::HashMap;

use super::field;
use super::host::HostObject;
use super::resolve::{Resolver, object, root, value};
use crate::core::{Container, File, Secret};

/// An environment variable of the session's host, read when asked for.
#[derive(Clone)]
pub(super) struct HostVariable {
    name: String,
    value: String,
}

pub(super) fn register(reg: &mut HashMap<(&'static str, &'static str), Resolver>) {
    reg.insert(
        ("Query", "setSecret"),
        root("Query.setSecret", |st, a| async move {
            let secret = st
                .rt
                .secrets()
                .set(&a.string("name")?, &a.string("plaintext")?)?;
            Ok(object(secret))
        }),
    );
    reg.insert(
        ("Query", "secret"),
        root("Query.secret", |st, a| async move {
            Ok(object(st.ids.secret("id", &a.string("id")?)?))
        }),
    );
    field!(reg, "Secret"."id", Secret, |st, s, a| { Ok(value(st.ids.secret_id(&s))) });
    field!(reg, "Secret"."plaintext", Secret, |st, s, a| {
        let bytes = st.rt.secrets().value(&s.id).ok_or_else(|| {
            super::error::ApiError::msg(format!("the session no longer holds secret {:?}", s.id))
        })?;
        Ok(value(String::from_utf8_lossy(&bytes).into_owned()))
    });

    field!(reg, "Host"."envVariable", HostObject, |st, _h, a| {
        let name = a.string("name")?;
        Ok(std::env::var(&name).ok().and_then(|value| object(HostVariable { name, value })))
    });
    field!(reg, "HostVariable"."value", HostVariable, |st, v, a| { Ok(value(v.value)) });
    field!(reg, "HostVariable"."secret", HostVariable, |st, v, a| {
        Ok(object(st.rt.secrets().from_env(&v.name, &v.value)))
    });
    field!(reg, "File"."secret", File, |st, f, a| {
        let contents = f.contents(&st.rt).await?;
        Ok(object(st.rt.secrets().from_file(&f.fingerprint(), contents.into_bytes())))
    });

    field!(reg, "Container"."withSecretVariable", Container, |st, c, a| {
        let secret = st.ids.secret("secret", &a.string("secret")?)?;
        Ok(object(c.with_secret_variable(&a.string("name")?, &secret)?))
    });
    field!(reg, "Container"."withRegistryAuth", Container, |st, c, a| {
        let secret = st.ids.secret("secret", &a.string("secret")?)?;
        st.rt.registry_auth().set(&a.string("address")?, &a.string("username")?, &secret)?;
        Ok(object(c))
    });
    field!(reg, "Container"."withoutRegistryAuth", Container, |st, c, a| {
        st.rt.registry_auth().remove(&a.string("address")?);
        Ok(object(c))
    });
    field!(reg, "Container"."withMountedSecret", Container, |st, c, a| {
        let secret = st.ids.secret("source", &a.string("source")?)?;
        let owner = a.opt_string("owner")?;
        Ok(object(c.with_mounted_secret(&st.rt, &a.string("path")?, &secret, owner.as_deref()).await?))
    });
}
