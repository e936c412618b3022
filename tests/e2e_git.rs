//! Git sources on real BuildKit: the daemon clones a repository served over HTTP on 127.0.0.1 (git's
//! dumb protocol from a static file server in the test), and a session pins branches to the commit
//! it saw first.

mod common;

use std::io::{BufRead, BufReader, Write};
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

/// Serves the files under `root` over HTTP on 127.0.0.1; returns the port.
fn static_server(root: PathBuf) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut line = String::new();
            let _ = BufReader::new(&conn).read_line(&mut line);
            let path = line.split_whitespace().nth(1).unwrap_or("/");
            let path = path
                .split('?')
                .next()
                .unwrap_or("/")
                .trim_start_matches('/');
            let file = root.join(path);
            let response = match std::fs::read(&file).ok().filter(|_| !path.contains("..")) {
                Some(body) => {
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    r.extend(body);
                    r
                }
                None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_vec(),
            };
            let _ = conn.write_all(&response);
        }
    });
    port
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
fn branches_tags_and_commits_with_branches_pinned_per_session() {
    let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let bare = root.path().join("repo.git");
    let work = root.path().join("work");
    std::fs::create_dir_all(&work).unwrap_or_else(|e| panic!("{e}"));
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
}
