//! Directories and files on real BuildKit, through `dirk session` over HTTP.

mod common;

use common::{BUSYBOX, Session, lit};
use serde_json::json;

#[test]
fn build_and_read_a_directory() {
    let s = Session::start();
    let d = s.data(
        r##"{ directory {
            withNewFile(path: "hello.txt", contents: "hello") { withNewFile(path: "sub/deep/x.sh", contents: "#!/bin/sh", permissions: 493) {
              withNewDirectory(path: "empty") {
                entries
                sub: entries(path: "sub/deep")
                directory(path: "sub") { entries file(path: "deep/x.sh") { contents size } }
                file(path: "hello.txt") { contents }
                withoutFile(path: "hello.txt") { entries }
                withoutDirectory(path: "sub") { entries }
              } } } } }"##,
    );
    let dir = &d["directory"]["withNewFile"]["withNewFile"]["withNewDirectory"];
    assert_eq!(dir["entries"], json!(["empty", "hello.txt", "sub"]));
    assert_eq!(dir["sub"], json!(["x.sh"]));
    assert_eq!(dir["directory"]["entries"], json!(["deep"]));
    assert_eq!(
        dir["directory"]["file"],
        json!({"contents": "#!/bin/sh", "size": 9})
    );
    assert_eq!(dir["file"]["contents"], "hello");
    assert_eq!(dir["withoutFile"]["entries"], json!(["empty", "sub"]));
    assert_eq!(
        dir["withoutDirectory"]["entries"],
        json!(["empty", "hello.txt"])
    );
    assert_eq!(
        s.data("{ directory { entries } }")["directory"]["entries"],
        json!([])
    );
}

#[test]
fn copy_directories_and_files_between_trees() {
    let s = Session::start();
    let src = s.data(r#"{ directory { withNewFile(path: "a/1.txt", contents: "1") { withNewFile(path: "a/2.log", contents: "2") { id file(path: "a/1.txt") { id } } } } }"#);
    let src_dir = src["directory"]["withNewFile"]["withNewFile"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let src_file = src["directory"]["withNewFile"]["withNewFile"]["file"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let filtered = s.query(&format!(
        r#"{{ directory {{ withDirectory(path: "copy", directory: {}, include: ["**/*.txt"]) {{ entries(path: "copy/a") }} }} }}"#,
        lit(&src_dir)
    ));
    match filtered["errors"].get(0) {
        // Daemons without the capability (BuildKit v0.8) must say so instead of copying everything.
        Some(e) => assert!(
            common::message(e).contains("file.copy.includeexcludepatterns"),
            "{e}"
        ),
        None => assert_eq!(
            filtered["data"]["directory"]["withDirectory"]["entries"],
            json!(["1.txt"])
        ),
    }
    let d = s.data(&format!(
        r#"{{ directory {{
            withDirectory(path: "copy", directory: {dir}) {{ entries(path: "copy/a") }}
            withFile(path: "f/one.txt", source: {file}, permissions: 384) {{ file(path: "f/one.txt") {{ contents }} }}
          }} }}"#,
        dir = lit(&src_dir),
        file = lit(&src_file)
    ));
    assert_eq!(
        d["directory"]["withDirectory"]["entries"],
        json!(["1.txt", "2.log"])
    );
    assert_eq!(d["directory"]["withFile"]["file"]["contents"], "1");
    let f = s.data(&format!(
        r#"{{ file(id: {}) {{ contents size sync }} }}"#,
        lit(&src_file)
    ));
    assert_eq!(f["file"]["contents"], "1");
    assert_eq!(f["file"]["size"], 1);
    assert_eq!(f["file"]["sync"], src_file.as_str());
}

#[test]
fn sync_reports_missing_paths() {
    let s = Session::start();
    let e = s.error(r#"{ directory { withNewFile(path: "x", contents: "") { directory(path: "foobar") { sync } } } }"#);
    let msg = common::message(&e);
    assert!(
        msg.contains("no such file or directory") && msg.contains("foobar"),
        "{e}"
    );
    let e = s.error(r#"{ directory { withNewFile(path: "x", contents: "") { file(path: "missing.txt") { contents } } } }"#);
    assert!(common::message(&e).contains("missing.txt"), "{e}");
    let ok = s.data(r#"{ directory { withNewFile(path: "x", contents: "") { sync } } }"#);
    assert!(
        ok["directory"]["withNewFile"]["sync"]
            .as_str()
            .is_some_and(|id| id.starts_with("dir."))
    );
}

#[test]
fn a_100_mib_file_is_read_in_chunks() {
    let s = Session::start();
    let d = s.data(&format!(
        r#"{{ container {{ from(address: "{BUSYBOX}") {{
            withExec(args: ["sh", "-c", "head -c 104857600 /dev/zero | tr '\\0' 'a' > /big"]) {{ file(path: "/big") {{ size contents }} }} }} }} }}"#,
    ));
    let f = &d["container"]["from"]["withExec"]["file"];
    assert_eq!(f["size"], 100 * 1024 * 1024);
    let contents = f["contents"].as_str().unwrap_or_default();
    assert_eq!(contents.len(), 100 * 1024 * 1024);
    assert!(contents.bytes().all(|b| b == b'a'));
}

#[test]
fn bad_arguments_name_the_field_and_value() {
    let s = Session::start();
    let e = s.error(r#"{ directory { withNewFile(path: "", contents: "x") { id } } }"#);
    assert_eq!(
        e["message"],
        "Directory.withNewFile: invalid path \"\": the path is empty"
    );
    let e = s.error(
        r#"{ directory { withNewFile(path: "a", contents: "x", permissions: 99999) { id } } }"#,
    );
    assert!(
        common::message(&e).contains("argument permissions \"99999\""),
        "{e}"
    );
    let e = s.error(r#"{ container(platform: "linux//x") { id } }"#);
    assert!(
        common::message(&e).starts_with("Query.container: invalid platform \"linux//x\""),
        "{e}"
    );
    let e = s.error(r#"{ container { from(address: "Not A Ref") { id } } }"#);
    assert!(
        common::message(&e).contains("invalid image reference \"Not A Ref\""),
        "{e}"
    );
    let e = s.error(r#"{ cacheVolume(key: "") { id } }"#);
    assert!(
        common::message(&e).contains("cache volume key cannot be empty"),
        "{e}"
    );
}

#[test]
fn timestamps_are_set_on_directories_and_files() {
    let s = Session::start();
    let q = r#"{ directory { withNewFile(path: "a/b.txt", contents: "B") { withTimestamps(timestamp: 1000000000) { id file(path: "a/b.txt") { withTimestamps(timestamp: 86400) { id } } } } } }"#;
    let v = s.data(q);
    let dir = v["directory"]["withNewFile"]["withTimestamps"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let file = v["directory"]["withNewFile"]["withTimestamps"]["file"]["withTimestamps"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let q = format!(
        r#"{{ container {{ from(address: "{BUSYBOX}") {{ withMountedDirectory(path: "/d", source: {}) {{ withMountedFile(path: "/f", source: {}) {{ withExec(args: ["sh", "-c", "stat -c %Y /d/a/b.txt /f; cat /f"]) {{ stdout }} }} }} }} }} }}"#,
        common::lit(&dir),
        common::lit(&file)
    );
    let v = s.data(&q);
    assert_eq!(
        v["container"]["from"]["withMountedDirectory"]["withMountedFile"]["withExec"]["stdout"],
        "1000000000\n86400\nB"
    );
}

#[test]
fn http_files_are_downloaded_by_the_daemon() {
    let port = common::serve_http(|_| Some(b"#!/bin/sh\necho downloaded\n".to_vec()));
    let s = Session::start();
    let url = format!("http://127.0.0.1:{port}/dl/tool.sh");
    let v = s.data(&format!(
        r#"{{ http(url: {}) {{ contents size id }} }}"#,
        common::lit(&url)
    ));
    assert_eq!(v["http"]["contents"], "#!/bin/sh\necho downloaded\n");
    assert_eq!(v["http"]["size"], 26);
    let file = v["http"]["id"].as_str().unwrap_or_default().to_owned();
    let q = format!(
        r#"{{ container {{ from(address: "{BUSYBOX}") {{ withFile(path: "/usr/bin/tool", source: {}, permissions: 493) {{ withExec(args: ["tool"]) {{ stdout }} }} }} }} }}"#,
        common::lit(&file)
    );
    assert_eq!(
        s.data(&q)["container"]["from"]["withFile"]["withExec"]["stdout"],
        "downloaded\n"
    );
    let e = s.error(r#"{ http(url: "ftp://example.com/x") { id } }"#);
    assert!(common::message(&e).contains("ftp://example.com/x"), "{e}");
}

/// A listing of `/src` in a container: every path with its type, mode, owner and size, and each
/// file's content, sorted.
const LIST_SRC: &str = "cd /src && find . -mindepth 1 | sort | while read -r p; do if [ -d \"$p\" ]; then t=d; elif [ -L \"$p\" ]; then t=l; else t=f; fi; echo \"$t $p $(stat -c '%a %u:%g' \"$p\") $( [ $t = f ] && cat \"$p\")\"; done";

#[test]
fn copies_with_patterns_give_the_same_tree_on_every_daemon() -> common::TestResult {
    let dir = tempfile::tempdir()?;
    let root = dir.path();
    for (path, contents) in [
        ("package.json", "{}"),
        ("index.js", "main"),
        ("node_modules/left-pad/index.js", "pad"),
        ("src/app.js", "app"),
        ("src/app.test.js", "test"),
        ("src/deep/util.js", "util"),
        ("docs/readme.md", "docs"),
        ("docs/notes.txt", "notes"),
        ("logs/a.log", "a"),
        ("logs/keep.log", "keep"),
    ] {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap_or(root))?;
        std::fs::write(&p, contents)?;
    }
    std::fs::create_dir_all(root.join("empty"))?;
    std::os::unix::fs::symlink("index.js", root.join("main.js"))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        root.join("src/deep"),
        std::fs::Permissions::from_mode(0o750),
    )?;
    std::fs::set_permissions(
        root.join("index.js"),
        std::fs::Permissions::from_mode(0o755),
    )?;

    // (include, exclude, paths expected in the copy)
    let cases: [(&[&str], &[&str], &[&str]); 5] = [
        // The quick start of the v0.6.4 docs: everything but node_modules.
        (
            &[],
            &["node_modules/"],
            &[
                "docs",
                "docs/notes.txt",
                "docs/readme.md",
                "empty",
                "index.js",
                "logs",
                "logs/a.log",
                "logs/keep.log",
                "main.js",
                "package.json",
                "src",
                "src/app.js",
                "src/app.test.js",
                "src/deep",
                "src/deep/util.js",
            ],
        ),
        (
            &["src", "*.json"],
            &[],
            &[
                "package.json",
                "src",
                "src/app.js",
                "src/app.test.js",
                "src/deep",
                "src/deep/util.js",
            ],
        ),
        (
            &["**/*.js"],
            &["**/*.test.js", "node_modules"],
            &[
                "index.js",
                "main.js",
                "src",
                "src/app.js",
                "src/deep",
                "src/deep/util.js",
            ],
        ),
        (
            &[],
            &[
                "logs/*.log",
                "!logs/keep.log",
                "docs",
                "node_modules",
                "src",
                "empty",
            ],
            &[
                "index.js",
                "logs",
                "logs/keep.log",
                "main.js",
                "package.json",
            ],
        ),
        (
            &["docs/*.md", "empty"],
            &[],
            &["docs", "docs/readme.md", "empty"],
        ),
    ];
    let daemons = common::suite_daemons();
    for (include, exclude, expected) in cases {
        let patterns = format!(
            "include: {}, exclude: {}",
            serde_json::to_string(include).unwrap_or_default(),
            serde_json::to_string(exclude).unwrap_or_default()
        );
        let mut listings = Vec::new();
        for (daemon, host) in &daemons {
            let s = Session::start_with(
                &["--workdir", &root.to_string_lossy()],
                &[
                    ("DOCKER_HOST", host),
                    ("BUILDKIT_HOST", ""),
                    ("_EXPERIMENTAL_DAGGER_RUNNER_HOST", ""),
                ],
            );
            let host_dir = s.string_at(
                r#"{ host { directory(path: ".") { id } } }"#,
                &["host", "directory", "id"],
            );
            let v = s.data(&format!(
                r#"{{ container {{ from(address: {}) {{ withDirectory(path: "/src", directory: {}, {patterns}) {{ withExec(args: ["sh", "-c", {}]) {{ stdout }} }} }} }}
                   directory {{ withDirectory(path: "copy", directory: {}, {patterns}) {{ entries(path: "copy") }} }} }}"#,
                lit(common::BUSYBOX),
                lit(&host_dir),
                lit(LIST_SRC),
                lit(&host_dir),
            ));
            let listing = v["container"]["from"]["withDirectory"]["withExec"]["stdout"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let paths: Vec<&str> = listing
                .lines()
                .filter_map(|l| l.split(' ').nth(1))
                .map(|p| p.trim_start_matches("./"))
                .collect();
            assert_eq!(paths, expected, "{daemon}, {patterns}:\n{listing}");
            let top: Vec<&str> = expected
                .iter()
                .copied()
                .filter(|p| !p.contains('/'))
                .collect();
            assert_eq!(
                v["directory"]["withDirectory"]["entries"],
                json!(top),
                "{daemon}, {patterns}"
            );
            listings.push((daemon, listing));
        }
        for pair in listings.windows(2) {
            assert_eq!(
                pair[0].1, pair[1].1,
                "{patterns}: {} and {} copied different trees",
                pair[0].0, pair[1].0
            );
        }
    }
    Ok(())
}

/// `Directory.diff` on every suite daemon: through the daemon's diff op where `dirk engine` reports
/// one, else through the exec shim. Both give the same entries for what was added or changed, at
/// the root and for subdirectories; they differ where the README says: a file rewritten with the
/// same content counts as changed for the diff op (its metadata changed), not for the shim.
#[test]
fn diff_gives_the_same_changes_through_the_diff_op_or_the_shim() {
    for (daemon, host) in common::suite_daemons() {
        let env = common::daemon_env(&host);
        let native = common::daemon_supports(daemon, &host, "diffop");
        let s = Session::start_with(&[], &env);
        let d = s.data(
            r#"{ directory { withNewFile(path: "same.txt", contents: "same") { withNewFile(path: "sub/old.txt", contents: "old") {
                base: id
                withNewFile(path: "sub/new.txt", contents: "new") { withNewFile(path: "same.txt", contents: "same") {
                    changed: id } } } } } }"#,
        );
        let base = &d["directory"]["withNewFile"]["withNewFile"];
        let changed = &base["withNewFile"]["withNewFile"]["changed"];
        let changed = changed.as_str().unwrap_or_default();
        let changed_sub = s.string_at(
            &format!(
                r#"{{ directory(id: {}) {{ directory(path: "sub") {{ id }} }} }}"#,
                lit(changed)
            ),
            &["directory", "directory", "id"],
        );
        let v = s.data(&format!(
            r#"{{ base: directory(id: {b}) {{ diff(other: {c}) {{ entries sub: entries(path: "sub") file(path: "sub/new.txt") {{ contents }} }}
                  directory(path: "sub") {{ diff(other: {subc}) {{ entries }} }} }}
                  same: directory(id: {b}) {{ diff(other: {b}) {{ entries }} }} }}"#,
            b = lit(base["base"].as_str().unwrap_or_default()),
            c = lit(changed),
            subc = lit(&changed_sub),
        ));
        let diff = &v["base"]["diff"];
        let rewritten = if native {
            json!(["same.txt", "sub"])
        } else {
            json!(["sub"])
        };
        assert_eq!(diff["entries"], rewritten, "{daemon} (diff op: {native})");
        assert_eq!(diff["sub"], json!(["new.txt"]), "{daemon}");
        assert_eq!(diff["file"]["contents"], "new", "{daemon}");
        assert_eq!(
            v["base"]["directory"]["diff"]["entries"],
            json!(["new.txt"]),
            "{daemon}: a subdirectory diffs as its own tree"
        );
        assert_eq!(v["same"]["diff"]["entries"], json!([]), "{daemon}");
    }
}

/// `withDirectory` of a whole tree to the root, onto a directory and onto a container: the daemon's
/// merge op where `dirk engine` reports one, a copy elsewhere. Both give the same tree (names, modes,
/// owners, sizes, contents; a directory on both sides takes the source's metadata), which the test
/// compares across the three daemons. Where they differ is where a copy fails: a source directory
/// over a symlink of the container replaces it in a merge.
#[test]
fn with_directory_at_the_root_gives_the_same_tree_merged_or_copied() {
    const LIST: &str = "cd /w && find . | sort | while read p; do stat -c '%n %a %u %g %s %F' \"$p\"; done; cat a/sub/y d/new";
    let mut listings = Vec::new();
    for (daemon, host) in common::suite_daemons() {
        let env = common::daemon_env(&host);
        let merges = common::daemon_supports(daemon, &host, "mergeop");
        let s = Session::start_with(&[], &env);
        let source = s.string_at(
            r#"{ directory { withNewFile(path: "a/z", contents: "z") { withNewFile(path: "a/sub/y", contents: "y-new") {
                withNewDirectory(path: "d", permissions: 493) { withNewFile(path: "d/new", contents: "n", permissions: 448) {
                withNewFile(path: "new/deep/f", contents: "f") { id } } } } } } }"#,
            &[
                "directory",
                "withNewFile",
                "withNewFile",
                "withNewDirectory",
                "withNewFile",
                "withNewFile",
                "id",
            ],
        );
        let v = s.data(&format!(
            r#"{{ directory {{ withNewFile(path: "a/x", contents: "x") {{ withNewFile(path: "a/sub/y", contents: "y-old") {{
                 withNewFile(path: "top.txt", contents: "top", permissions: 384) {{ withNewDirectory(path: "d", permissions: 448) {{
                 withNewFile(path: "d/keep", contents: "k") {{ withDirectory(path: ".", directory: {src}) {{
                   entries
                   onto: id }} }} }} }} }} }} }} }}"#,
            src = lit(&source),
        ));
        let merged = &v["directory"]["withNewFile"]["withNewFile"]["withNewFile"]["withNewDirectory"]
            ["withNewFile"]["withDirectory"];
        assert_eq!(
            merged["entries"],
            json!(["a", "d", "new", "top.txt"]),
            "{daemon}"
        );
        let onto = merged["onto"].as_str().unwrap_or_default();
        let c = s.data(&format!(
            r#"{{ container {{ from(address: {image}) {{
                 dir: withMountedDirectory(path: "/w", source: {onto}) {{ withExec(args: ["sh", "-c", {list}]) {{ stdout }} }}
                 root: withDirectory(path: "/", directory: {src}) {{ withExec(args: ["sh", "-c", {root}]) {{ stdout }} }} }} }} }}"#,
            image = lit(BUSYBOX),
            onto = lit(onto),
            src = lit(&source),
            list = lit(LIST),
            root = lit("stat -c '%n %a %u %g' / /a /d /new/deep/f /bin/sh && cat /a/sub/y"),
        ));
        let listing = c["container"]["from"]["dir"]["withExec"]["stdout"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            listing.contains("./d 755 0 0") && listing.contains("./d/keep 644 0 0 1"),
            "{daemon}: {listing}"
        );
        assert!(listing.ends_with("y-newn"), "{daemon}: {listing}");
        let root = c["container"]["from"]["root"]["withExec"]["stdout"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(root.ends_with("y-new"), "{daemon}: {root}");
        listings.push((daemon, listing, root));

        // A directory of the source over a symlink of the container.
        let q = format!(
            r#"{{ container {{ from(address: {image}) {{ withExec(args: ["sh", "-c", "mkdir /real && ln -s real /link"]) {{
                 withDirectory(path: "/", directory: {src}) {{ withExec(args: ["ls", "/link", "/real"]) {{ stdout }} }} }} }} }} }}"#,
            image = lit(BUSYBOX),
            src = lit(&s.string_at(
                r#"{ directory { withNewFile(path: "link/f", contents: "f") { id } } }"#,
                &["directory", "withNewFile", "id"],
            )),
        );
        let answer = s.query(&q);
        if merges {
            assert_eq!(
                answer["data"]["container"]["from"]["withExec"]["withDirectory"]["withExec"]["stdout"],
                "/link:\nf\n\n/real:\n",
                "{daemon}: {answer}"
            );
        } else {
            assert!(
                answer["errors"]
                    .to_string()
                    .contains("cannot copy to non-directory"),
                "{daemon}: {answer}"
            );
        }
    }
    for pair in listings.windows(2) {
        assert_eq!(
            (&pair[0].1, &pair[0].2),
            (&pair[1].1, &pair[1].2),
            "{} and {} made different trees",
            pair[0].0,
            pair[1].0
        );
    }
}
