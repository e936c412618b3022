//! Git sources on real BuildKit: the daemon clones a repository served over HTTP on 127.0.0.1 (git's
//! dumb protocol from a static file server in the test), and a session pins branches to the commit
//! it saw first.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Session, lit};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "dirk")
        .env("GIT_AUTHOR_EMAIL", "dirk@localhost")
        .env("GIT_COMMITTER_NAME", "dirk")
        .env("GIT_COMMITTER_EMAIL", "dirk@localhost")
        .output()
        .unwrap_or_else(|e| panic!("git {args:?}: {e}"));
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Commits `readme` in `work` and publishes it to the bare repository.
fn commit(work: &Path, readme: &str) -> String {
    std::fs::write(work.join("README"), readme).unwrap_or_else(|e| panic!("{e}"));
    git(work, &["add", "README"]);
    git(work, &["commit", "-q", "-m", readme]);
    git(work, &["push", "-q", "origin", "HEAD:main", "--tags"]);
    git(&work.join("../repo.git"), &["update-server-info"]);
    git(work, &["rev-parse", "HEAD"])
}

/// Serves the files under `root` over HTTP on 127.0.0.1 (git's dumb protocol); returns the port.
fn static_server(root: PathBuf) -> u16 {
    common::serve_http(move |path| {
        let path = path.trim_start_matches('/');
        if path.contains("..") {
            return None;
        }
        std::fs::read(root.join(path)).ok()
    })
}

fn readme(s: &Session, url: &str, reference: &str) -> String {
    let v = s.data(&format!(
        r#"{{ git(url: {}) {{ {reference} {{ tree {{ file(path: "README") {{ contents }} }} }} }} }}"#,
        lit(url)
    ));
    let git = &v["git"];
    let key = reference.split('(').next().unwrap_or_default();
    git[key]["tree"]["file"]["contents"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn branches_tags_and_commits_with_branches_pinned_per_session() -> common::TestResult {
    let root = tempfile::tempdir()?;
    let bare = root.path().join("repo.git");
    let work = root.path().join("work");
    std::fs::create_dir_all(&work)?;
    git(root.path(), &["init", "-q", "--bare", "repo.git"]);
    git(&work, &["init", "-q", "-b", "main"]);
    git(&work, &["remote", "add", "origin", &bare.to_string_lossy()]);
    let marker = common::unique();
    let first = commit(&work, &format!("v1 {marker}\n"));
    git(&work, &["tag", "v1"]);
    git(&work, &["push", "-q", "origin", "v1"]);
    git(&bare, &["update-server-info"]);
    let port = static_server(root.path().to_path_buf());
    let url = format!("http://127.0.0.1:{port}/repo.git");

    let s = Session::start();
    assert_eq!(
        readme(&s, &url, r#"branch(name: "main")"#),
        format!("v1 {marker}\n")
    );
    commit(&work, &format!("v2 {marker}\n"));
    // The session keeps the commit it saw first; tags and commits are what they name.
    assert_eq!(
        readme(&s, &url, r#"branch(name: "main")"#),
        format!("v1 {marker}\n")
    );
    assert_eq!(
        readme(&s, &url, r#"tag(name: "v1")"#),
        format!("v1 {marker}\n")
    );
    assert_eq!(
        readme(&s, &url, &format!(r#"commit(id: "{first}")"#)),
        format!("v1 {marker}\n")
    );
    drop(s);
    let s = Session::start();
    assert_eq!(
        readme(&s, &url, r#"branch(name: "main")"#),
        format!("v2 {marker}\n")
    );

    let e = s.error(r#"{ git(url: "/not/a/url") { branch(name: "main") { tree { id } } } }"#);
    assert!(common::message(&e).contains("/not/a/url"), "{e}");
    Ok(())
}
