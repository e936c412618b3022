//! Host directories and files on real BuildKit: synced by the session's filesync service.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{BUSYBOX, Session, lit, unique};

fn write(root: &Path, rel: &str, body: &str) {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .unwrap_or_else(|e| panic!("mkdir {}: {e}", parent.display()));
    }
    std::fs::write(&path, body).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// A project tree with a unique marker so that no other run's cache answers for it.
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    let p = dir.path();
    write(p, "README.md", &format!("readme {}\n", unique()));
    write(p, "src/main.rs", "fn main() {}\n");
    write(p, "src/lib/util.rs", "pub fn util() {}\n");
    write(p, "docs/guide.md", "guide\n");
    write(p, "target/big.bin", &"x".repeat(10_000));
    write(p, "run.sh", "#!/bin/sh\necho ran\n");
    std::fs::set_permissions(p.join("run.sh"), std::fs::Permissions::from_mode(0o750))
        .unwrap_or_else(|e| panic!("chmod: {e}"));
    std::fs::create_dir_all(p.join("empty")).unwrap_or_else(|e| panic!("mkdir: {e}"));
    std::os::unix::fs::symlink("src/main.rs", p.join("main-link"))
        .unwrap_or_else(|e| panic!("symlink: {e}"));
    dir
}

#[test]
fn host_directory_mounted_in_a_container() {
    let p = project();
    let s = Session::start_in(p.path());
    let dir = s.string_at(
        r#"{ host { directory(path: ".") { id } } }"#,
        &["host", "directory", "id"],
    );
    let q = format!(
        r#"{{ container {{ from(address: {}) {{ withMountedDirectory(path: "/src", source: {}) {{ withWorkdir(path: "/src") {{ withExec(args: ["sh", "-c", "cat README.md; ls -A | sort | tr '\n' ' '; echo; stat -c '%a' run.sh; readlink main-link; ./run.sh; ls -A empty | wc -l"]) {{ stdout }} }} }} }} }} }}"#,
        lit(BUSYBOX),
        lit(&dir)
    );
    let out = s.string_at(
        &q,
        &[
            "container",
            "from",
            "withMountedDirectory",
            "withWorkdir",
            "withExec",
            "stdout",
        ],
    );
    let readme = std::fs::read_to_string(p.path().join("README.md")).unwrap_or_default();
    assert_eq!(
        out,
        format!(
            "{readme}README.md docs empty main-link run.sh src target \n750\nsrc/main.rs\nran\n0\n"
        )
    );
}

#[test]
fn include_and_exclude_follow_dockerignore_rules() {
    let p = project();
    let s = Session::start_in(p.path());
    let entries = |include: &str, exclude: &str| -> Vec<String> {
        let q = format!(
            r#"{{ host {{ directory(path: ".", include: {include}, exclude: {exclude}) {{ entries }} }} }}"#
        );
        let v = s.data(&q);
        let mut names: Vec<String> = v["host"]["directory"]["entries"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    };
    assert_eq!(
        entries("[]", r#"["target", "**/*.md", "!README.md"]"#),
        vec!["README.md", "docs", "empty", "main-link", "run.sh", "src"]
    );
    assert_eq!(entries(r#"["src/**/*.rs"]"#, "[]"), vec!["src"]);
    assert_eq!(
        entries(r#"["docs", "README.md"]"#, r#"["docs/*.md"]"#),
        vec!["README.md", "docs"]
    );
    let q = r#"{ host { directory(path: ".", include: ["src/**/*.rs"]) { directory(path: "src/lib") { entries } } } }"#;
    assert_eq!(
        s.data(q)["host"]["directory"]["directory"]["entries"],
        serde_json::json!(["util.rs"])
    );
}

#[test]
fn host_file_and_errors_name_the_path() {
    let p = project();
    let s = Session::start_in(p.path());
    let v = s.data(r#"{ host { file(path: "src/main.rs") { contents size } } }"#);
    assert_eq!(v["host"]["file"]["contents"], "fn main() {}\n");
    assert_eq!(v["host"]["file"]["size"], 13);
    let e = s.error(r#"{ host { directory(path: "missing/dir") { id } } }"#);
    let msg = common::message(&e);
    assert!(
        msg.contains("missing/dir") && msg.contains("Host.directory"),
        "{msg}"
    );
    let e = s.error(r#"{ host { directory(path: "../outside") { id } } }"#);
    let msg = common::message(&e);
    assert!(msg.contains("may not leave the working directory"), "{msg}");
    let e = s.error(r#"{ host { directory(path: ".", exclude: ["[oops"]) { id } } }"#);
    let msg = common::message(&e);
    assert!(msg.contains("[oops"), "{msg}");
    // Absolute paths are allowed.
    let abs = p.path().join("docs").to_string_lossy().into_owned();
    let v = s.data(&format!(
        r#"{{ host {{ directory(path: {}) {{ file(path: "guide.md") {{ contents }} }} }} }}"#,
        lit(&abs)
    ));
    assert_eq!(v["host"]["directory"]["file"]["contents"], "guide\n");
}

#[test]
fn read_once_per_session_and_only_changes_travel_next_time() {
    let p = project();
    let workdir = p.path().to_string_lossy().into_owned();
    let log1 = p
        .path()
        .join("..")
        .join(format!("dirk-sync-{}.log", unique()));
    let read = |s: &Session| {
        s.string_at(
            r#"{ host { directory(path: ".", exclude: ["*.log"]) { file(path: "README.md") { contents } } } }"#,
            &["host", "directory", "file", "contents"],
        )
    };
    let first = std::fs::read_to_string(p.path().join("README.md")).unwrap_or_default();
    let s1 = Session::start_logged(&["--workdir", &workdir], &[], &log1);
    assert_eq!(read(&s1), first);
    write(p.path(), "README.md", "changed on disk\n");
    // The same session keeps what it read first.
    assert_eq!(read(&s1), first);
    let sent_first = synced_bytes(&s1.log());
    assert!(
        sent_first >= 10_000,
        "the first sync sends the files: {sent_first} bytes"
    );
    drop(s1);

    let log2 = p
        .path()
        .join("..")
        .join(format!("dirk-sync-{}.log", unique()));
    let s2 = Session::start_logged(&["--workdir", &workdir], &[], &log2);
    assert_eq!(read(&s2), "changed on disk\n");
    let sent_second = synced_bytes(&s2.log());
    // Only the changed file travels; everything else is known to the daemon by its metadata.
    assert_eq!(
        sent_second,
        "changed on disk\n".len() as u64,
        "log:\n{}",
        s2.log()
    );
    let _ = std::fs::remove_file(log1);
    let _ = std::fs::remove_file(log2);
}

/// Bytes of file content the session sent for host directories, from its log.
fn synced_bytes(log: &str) -> u64 {
    log.lines()
        .filter(|l| l.contains("file sync sent") && l.contains("dir=host-"))
        .filter_map(|l| l.split("bytes=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter_map(|n| n.parse::<u64>().ok())
        .sum()
}

#[test]
fn a_directory_of_thousands_of_small_files_syncs_whole() -> common::TestResult {
    // Each file is one request from the daemon: thousands of tiny messages at once.
    let dir = tempfile::tempdir()?;
    for i in 0..5_000 {
        write(dir.path(), &format!("d{}/f{i}", i / 500), "x");
    }
    let s = Session::start_in(dir.path());
    let v = s.data(
        r#"{ container { from(address: "IMAGE") { withMountedDirectory(path: "/src", source: "HOST") { withExec(args: ["sh", "-c", "find /src -type f | wc -l; cat /src/d9/f4999"]) { stdout } } } } }"#
            .replace("IMAGE", BUSYBOX)
            .replace(
                "\"HOST\"",
                &common::lit(&s.string_at(r#"{ host { directory(path: ".") { id } } }"#, &["host", "directory", "id"])),
            )
            .as_str(),
    );
    let out = v["container"]["from"]["withMountedDirectory"]["withExec"]["stdout"]
        .as_str()
        .unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(out, "5000 x");
    Ok(())
}

#[test]
fn every_file_is_frozen_at_its_first_use_whichever_selection_read_it() -> common::TestResult {
    let dir = tempfile::tempdir()?;
    let root = dir.path();
    let marker = unique();
    write(root, "a.txt", &format!("first {marker}"));
    write(root, "b.txt", "b before");
    write(root, "d/c.txt", "c before");
    write(root, "d/e.txt", "e");
    let s = Session::start_with(&["--workdir", &root.to_string_lossy()], &[]);
    let dir_id = |patterns: &str| {
        s.string_at(
            &format!(r#"{{ host {{ directory(path: ".", {patterns}) {{ id }} }} }}"#),
            &["host", "directory", "id"],
        )
    };
    let read = |id: &str, path: &str| {
        s.data(&format!(
            r#"{{ directory(id: {}) {{ file(path: {}) {{ contents }} }} }}"#,
            lit(id),
            lit(path)
        ))["directory"]["file"]["contents"]
            .as_str()
            .map(str::to_owned)
    };
    // First use: everything but b.txt is read (and frozen).
    let first = dir_id(r#"exclude: ["b.txt"]"#);
    assert_eq!(
        read(&first, "a.txt").as_deref(),
        Some(format!("first {marker}").as_str())
    );
    assert_eq!(read(&first, "d/c.txt").as_deref(), Some("c before"));

    // The disk changes: a.txt is rewritten (another size), b.txt too, d/c.txt is deleted, and a
    // new file appears.
    write(root, "a.txt", &format!("second, longer {marker}"));
    write(root, "b.txt", "b after");
    std::fs::remove_file(root.join("d/c.txt"))?;
    write(root, "new.txt", "new");

    // Another selection of the same path: files read before keep their first content (a deleted
    // one is still there); files first selected now are read now.
    let all = dir_id("include: []");
    assert_eq!(
        read(&all, "a.txt").as_deref(),
        Some(format!("first {marker}").as_str())
    );
    assert_eq!(read(&all, "b.txt").as_deref(), Some("b after"));
    assert_eq!(read(&all, "d/c.txt").as_deref(), Some("c before"));
    assert_eq!(read(&all, "new.txt").as_deref(), Some("new"));
    let v = s.data(&format!(
        r#"{{ directory(id: {}) {{ entries sub: entries(path: "d") }} }}"#,
        lit(&all)
    ));
    assert_eq!(
        v["directory"]["entries"],
        serde_json::json!(["a.txt", "b.txt", "d", "new.txt"])
    );
    assert_eq!(v["directory"]["sub"], serde_json::json!(["c.txt", "e.txt"]));

    // The same file through other doors: Host.file, and a subdirectory as its own host directory.
    let v = s.data(
        r#"{ host { file(path: "a.txt") { contents } directory(path: "d") { file(path: "c.txt") { contents } } } }"#,
    );
    assert_eq!(v["host"]["file"]["contents"], format!("first {marker}"));
    assert_eq!(v["host"]["directory"]["file"]["contents"], "c before");
    // Mounted in a container, the same content and sizes.
    let v = s.data(&format!(
        r#"{{ container {{ from(address: {}) {{ withMountedDirectory(path: "/src", source: {}) {{ withExec(args: ["sh", "-c", "cat /src/a.txt; echo; wc -c < /src/a.txt; cat /src/d/c.txt"]) {{ stdout }} }} }} }} }}"#,
        lit(BUSYBOX),
        lit(&all)
    ));
    let expected = format!(
        "first {marker}\n{}\nc before",
        format!("first {marker}").len()
    );
    assert_eq!(
        v["container"]["from"]["withMountedDirectory"]["withExec"]["stdout"],
        expected
    );
    drop(s);

    // A new session sees the disk as it is now.
    let s = Session::start_with(&["--workdir", &root.to_string_lossy()], &[]);
    let v =
        s.data(r#"{ host { directory(path: ".") { entries file(path: "a.txt") { contents } } } }"#);
    assert_eq!(
        v["host"]["directory"]["file"]["contents"],
        format!("second, longer {marker}")
    );
    assert_eq!(
        v["host"]["directory"]["entries"],
        serde_json::json!(["a.txt", "b.txt", "d", "new.txt"])
    );
    Ok(())
}
