//! `Query.git`, `GitRepository` and `GitRef` fields.

use std::collections::HashMap;

use super::error::ApiError;
use super::field;
use super::resolve::{Resolver, object, root};
use crate::core::git::{GitRef, GitRepository, RefKind};

pub(super) fn register(reg: &mut HashMap<(&'static str, &'static str), Resolver>) {
    reg.insert(
        ("Query", "git"),
        root("Query.git", |st, a| async move {
            let repo = GitRepository::new(&a.string("url")?, a.flag("keepGitDir")?)?;
            Ok(object(match a.opt_string("experimentalServiceHost")? {
                Some(id) => {
                    let service = st.ids.container("experimentalServiceHost", &id)?;
                    repo.served_by(&service.hostname(&st.rt)?)
                }
                None => repo,
            }))
        }),
    );
    field!(reg, "GitRepository"."branch", GitRepository, |st, r, a| { Ok(object(r.reference(RefKind::Branch, &a.string("name")?)?)) });
    field!(reg, "GitRepository"."tag", GitRepository, |st, r, a| { Ok(object(r.reference(RefKind::Tag, &a.string("name")?)?)) });
    field!(reg, "GitRepository"."commit", GitRepository, |st, r, a| { Ok(object(r.reference(RefKind::Commit, &a.string("id")?)?)) });
    field!(reg, "GitRef"."tree", GitRef, |st, r, a| {
        if a.opt_string("sshKnownHosts")?.is_some() || a.opt_string("sshAuthSocket")?.is_some() {
            return Err(ApiError::msg("sshKnownHosts and sshAuthSocket are not supported yet: use an https:// URL"));
        }
        Ok(object(r.tree(&st.rt).await?))
    });
}
