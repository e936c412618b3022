//! `Host` fields: directories and files from the session's machine.

use std::collections::HashMap;

use super::field;
use super::resolve::{Resolver, object, root};

/// The `Host` object (the session's machine; it has no state of its own).
#[derive(Clone, Copy)]
pub struct HostObject;

pub fn register(reg: &mut HashMap<(&'static str, &'static str), Resolver>) {
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
    field!(reg, "Host"."file", HostObject, |st, _h, a| {
        Ok(object(st.rt.host()?.file(&a.string("path")?, st.rt.default_platform())?))
    });
}
