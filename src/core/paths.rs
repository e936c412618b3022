//! Path arithmetic inside containers and directories (always `/`-separated, never the host's).

use super::error::{CoreError, CoreResult};

/// Normalises an absolute path: collapses `//`, `.` and `..` (never above `/`).
pub fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Resolves `path` against `base` (used for container paths relative to the working directory).
pub fn resolve(base: &str, path: &str) -> String {
    if path.starts_with('/') {
        clean(path)
    } else {
        clean(&format!(
            "{}/{}",
            if base.is_empty() { "/" } else { base },
            path
        ))
    }
}

/// The parent directory of an absolute, clean path.
pub fn parent(path: &str) -> String {
    match path.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(i) => path[..i].to_owned(),
    }
}

/// The last segment of a clean absolute path (`/` for the root).
pub fn base_name(path: &str) -> &str {
    path.rsplit('/').find(|s| !s.is_empty()).unwrap_or("/")
}

/// `path` relative to `root` if it lies inside it.
pub fn strip_root<'a>(path: &'a str, root: &str) -> Option<&'a str> {
    if root == "/" {
        return Some(path.trim_start_matches('/'));
    }
    let rest = path.strip_prefix(root)?;
    if rest.is_empty() {
        Some("")
    } else {
        rest.strip_prefix('/')
    }
}

/// Rejects empty paths and NUL bytes, naming the argument.
pub fn check(what: &str, path: &str) -> CoreResult<()> {
    if path.is_empty() {
        return Err(CoreError::invalid(what, path, "the path is empty"));
    }
    if path.contains('\0') {
        return Err(CoreError::invalid(
            what,
            path.replace('\0', "\\0"),
            "the path contains a NUL byte",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaning_and_resolving() {
        assert_eq!(clean("/a//b/./c/../d/"), "/a/b/d");
        assert_eq!(clean("/../.."), "/");
        assert_eq!(resolve("/work", "src/x"), "/work/src/x");
        assert_eq!(resolve("/work", "/etc"), "/etc");
        assert_eq!(resolve("", "x"), "/x");
        assert_eq!(resolve("/w", "../../x"), "/x");
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(parent("/a"), "/");
        assert_eq!(strip_root("/mnt/a/b", "/mnt"), Some("a/b"));
        assert_eq!(strip_root("/mnt", "/mnt"), Some(""));
        assert_eq!(strip_root("/mntx", "/mnt"), None);
        assert_eq!(strip_root("/x", "/"), Some("x"));
    }
}
