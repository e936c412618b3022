//! Directories and files on real BuildKit, through `dirk session` over HTTP.

mod common;

use common::{Session, lit};
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
    let d = s.data(
        r#"{ container { from(address: "127.0.0.1:5000/busybox:latest") {
            withExec(args: ["sh", "-c", "head -c 104857600 /dev/zero | tr '\\0' 'a' > /big"]) { file(path: "/big") { size contents } } } } }"#,
    );
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
        r#"{{ container {{ from(address: "127.0.0.1:5000/busybox:latest") {{ withMountedDirectory(path: "/d", source: {}) {{ withMountedFile(path: "/f", source: {}) {{ withExec(args: ["sh", "-c", "stat -c %Y /d/a/b.txt /f; cat /f"]) {{ stdout }} }} }} }} }} }}"#,
        common::lit(&dir),
        common::lit(&file)
    );
    let v = s.data(&q);
    assert_eq!(
        v["container"]["from"]["withMountedDirectory"]["withMountedFile"]["withExec"]["stdout"],
        "1000000000\n86400\nB"
    );
}

/// Serves `body` over HTTP on 127.0.0.1 (the daemon fetches from there); returns the port.
fn http_server(body: &'static str) -> u16 {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

#[test]
fn http_files_are_downloaded_by_the_daemon() {
    let port = http_server("#!/bin/sh\necho downloaded\n");
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
        r#"{{ container {{ from(address: "127.0.0.1:5000/busybox:latest") {{ withFile(path: "/usr/bin/tool", source: {}, permissions: 493) {{ withExec(args: ["tool"]) {{ stdout }} }} }} }} }}"#,
        common::lit(&file)
    );
    assert_eq!(
        s.data(&q)["container"]["from"]["withFile"]["withExec"]["stdout"],
        "downloaded\n"
    );
    let e = s.error(r#"{ http(url: "ftp://example.com/x") { id } }"#);
    assert!(common::message(&e).contains("ftp://example.com/x"), "{e}");
}
