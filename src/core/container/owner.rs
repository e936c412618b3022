//! Owners: `owner` arguments (`uid[:gid]` or `user[:group]`), and names looked up in the
//! container's own `/etc/passwd` and `/etc/group`.

use super::Container;
use crate::core::error::{CoreError, CoreResult};
use crate::core::file::File;
use crate::core::runtime::Runtime;
use crate::llb::{Chown, FileAction};

/// A copy action owned by `owner` (`uid[:gid]` or names) when one is given.
pub(super) fn owned(mut action: FileAction, owner: Option<&str>) -> CoreResult<FileAction> {
    if let (FileAction::Copy { owner: o, .. }, Some(owner)) = (&mut action, owner) {
        *o = Some(parse_owner(owner)?);
    }
    Ok(action)
}

/// Parses an `owner` argument: `uid[:gid]` or `user[:group]`.
pub fn parse_owner(owner: &str) -> CoreResult<Chown> {
    let (user, group) = match owner.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (owner, None),
    };
    if user.is_empty() || group.is_some_and(str::is_empty) {
        return Err(CoreError::invalid(
            "owner",
            owner,
            "expected user[:group], e.g. 1000:1000 or app",
        ));
    }
    match (user.parse::<u32>(), group.map(str::parse::<u32>)) {
        (Ok(uid), None) => Ok(Chown::Ids { uid, gid: uid }),
        (Ok(uid), Some(Ok(gid))) => Ok(Chown::Ids { uid, gid }),
        _ => Ok(Chown::Names {
            user: user.to_owned(),
            group: group.map(str::to_owned),
        }),
    }
}

impl Container {
    /// Numeric ids for an `owner` argument (root when absent).
    pub(super) async fn owner_ids(
        &self,
        rt: &Runtime,
        owner: Option<&str>,
    ) -> CoreResult<(u32, u32)> {
        match owner {
            None => Ok((0, 0)),
            Some(owner) => match parse_owner(owner)? {
                Chown::Ids { uid, gid } => Ok((uid, gid)),
                Chown::Names { user, group } => self.lookup_ids(rt, &user, group.as_deref()).await,
            },
        }
    }

    /// Resolves user and group names through the container's own `/etc/passwd` and `/etc/group`.
    async fn lookup_ids(
        &self,
        rt: &Runtime,
        user: &str,
        group: Option<&str>,
    ) -> CoreResult<(u32, u32)> {
        let read = |path: &str| File {
            state: self.rootfs.clone(),
            path: path.to_owned(),
            platform: self.platform.clone(),
        };
        let field = |db: &str, name: &str, index: usize| -> Option<u32> {
            db.lines()
                .map(|l| l.split(':').collect::<Vec<_>>())
                .find(|f| f.first() == Some(&name))
                .and_then(|f| f.get(index).and_then(|v| v.parse().ok()))
        };
        let not_found = |what: &str, name: &str| {
            CoreError::invalid(
                "owner",
                name,
                format!("the container has no {what} {name:?}"),
            )
        };
        let passwd = read("/etc/passwd").contents(rt).await?;
        let uid = user
            .parse()
            .ok()
            .or_else(|| field(&passwd, user, 2))
            .ok_or_else(|| not_found("user", user))?;
        let gid = match group {
            None => field(&passwd, user, 3).unwrap_or(uid),
            Some(g) => match g.parse() {
                Ok(gid) => gid,
                Err(_) => {
                    let groups = read("/etc/group").contents(rt).await?;
                    field(&groups, g, 2).ok_or_else(|| not_found("group", g))?
                }
            },
        };
        Ok((uid, gid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners() {
        assert_eq!(
            parse_owner("1000").ok(),
            Some(Chown::Ids {
                uid: 1000,
                gid: 1000
            })
        );
        assert_eq!(parse_owner("1:2").ok(), Some(Chown::Ids { uid: 1, gid: 2 }));
        assert_eq!(
            parse_owner("app:staff").ok(),
            Some(Chown::Names {
                user: "app".into(),
                group: Some("staff".into())
            })
        );
        assert!(parse_owner("").is_err());
        assert!(parse_owner("a:").is_err());
    }
}
