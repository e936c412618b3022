//! `Host` fields: directories, files and unix sockets from the session's machine, and the fields
//! that forward sockets into containers.

use std::collections::HashMap;

use super::field;
use super::resolve::{Resolver, object, root, value};
use crate::core::{Container, Socket};

/// The `Host` object (the session's machine; it has no state of its own).
#[derive(Clone, Copy)]
pub(super) struct HostObject;

pub(super) fn register(reg: &mut HashMap<(&'static str, &'static str), Resolver>) {
    reg.insert(
        ("Query", "host"),
        root(
            "Query.host",
            |_st, _a| async move { Ok(object(HostObject)) },
        ),
    );
    field!(reg, "Host"."directory", HostObject, |st, _h, a| {
        let platform = st.rt.default_platform();
        Ok(object(st.rt.host()?.directory(&a.string("path")?, a.strings("include")?, a.strings("exclude")?, platform)?))
    });
    field!(reg, "Host"."workdir", HostObject, |st, _h, a| {
        let platform = st.rt.default_platform();
        Ok(object(st.rt.host()?.directory(".", a.strings("include")?, a.strings("exclude")?, platform)?))
    });
    field!(reg, "Host"."unixSocket", HostObject, |st, _h, a| {
        Ok(object(st.rt.host()?.unix_socket(&a.string("path")?)?))
    });
    reg.insert(
        ("Query", "socket"),
        root("Query.socket", |st, a| async move {
            let id = a.opt_string("id")?.ok_or_else(|| {
                super::error::ApiError::msg(
                    "argument id is required: pass a SocketID from Host.unixSocket",
                )
            })?;
            Ok(object(st.ids.socket("id", &id)?))
        }),
    );
    field!(reg, "Socket"."id", Socket, |st, s, a| { Ok(value(st.ids.socket_id(&s))) });
    field!(reg, "Container"."withUnixSocket", Container, |st, c, a| {
        let socket = st.ids.socket("source", &a.string("source")?)?;
        let owner = a.opt_string("owner")?;
        Ok(object(c.with_unix_socket(&st.rt, &a.string("path")?, &socket, owner.as_deref()).await?))
    });
    field!(reg, "Container"."withoutUnixSocket", Container, |st, c, a| {
        Ok(object(c.without_unix_socket(&a.string("path")?)?))
    });
    field!(reg, "Host"."file", HostObject, |st, _h, a| {
        Ok(object(st.rt.host()?.file(&a.string("path")?, st.rt.default_platform())?))
    });
}
