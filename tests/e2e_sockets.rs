//! Host unix sockets forwarded into containers on real BuildKit (the session's socket-forwarding
//! service). A server listens on a host socket; a client inside the container talks to it. No
//! network is involved: the client is a small static program built by the test and mounted in.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixListener;
use std::path::Path;

use common::{BUSYBOX, Session, lit};

const CLIENT: &str = r#"
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mut s = match UnixStream::connect(&args[1]) {
        Ok(s) => s,
        Err(e) => { eprintln!("connect {}: {e}", args[1]); std::process::exit(2) }
    };
    let _ = s.write_all(format!("{}\n", args[2]).as_bytes());
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    print!("{out}");
}
"#;

/// Builds the static client into `dir/bin/client`.
fn build_client(dir: &Path) {
    let src = dir.join("client.rs");
    std::fs::write(&src, CLIENT).unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(dir.join("bin")).unwrap_or_else(|e| panic!("{e}"));
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let status = std::process::Command::new(rustc)
        .args([
            "--edition",
            "2021",
            "-C",
            "target-feature=+crt-static",
            "-C",
            "opt-level=s",
            "-o",
        ])
        .arg(dir.join("bin/client"))
        .arg(&src)
        .status()
        .unwrap_or_else(|e| panic!("running rustc: {e}"));
    assert!(status.success(), "building the socket client failed");
}

/// Serves `path`: answers each connection's first line with `pong: <line>`.
fn serve(path: &Path) {
    let listener =
        UnixListener::bind(path).unwrap_or_else(|e| panic!("binding {}: {e}", path.display()));
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let mut line = String::new();
            let mut reader = BufReader::new(&conn);
            if reader.read_line(&mut line).is_ok() {
                let mut conn = &conn;
                let _ = conn.write_all(format!("pong: {}", line).as_bytes());
            }
        }
    });
}

#[test]
fn a_container_talks_to_a_host_socket() -> common::TestResult {
    let work = tempfile::tempdir()?;
    build_client(work.path());
    serve(&work.path().join("app.sock"));
    std::fs::write(work.path().join("plain.txt"), "x")?;
    let s = Session::start_with(&["--workdir", &work.path().to_string_lossy()], &[]);
    let socket = s.string_at(
        r#"{ host { unixSocket(path: "app.sock") { id } } }"#,
        &["host", "unixSocket", "id"],
    );
    assert!(socket.starts_with("socket."), "{socket}");
    let tools = s.string_at(
        r#"{ host { directory(path: "bin") { id } } }"#,
        &["host", "directory", "id"],
    );
    let base = format!(
        r#"container {{ from(address: {}) {{ withMountedDirectory(path: "/tools", source: {}) {{ withUnixSocket(path: "/run/app.sock", source: {}, owner: "1000:1000") {{ withUser(name: "1000") "#,
        lit(BUSYBOX),
        lit(&tools),
        lit(&socket)
    );
    let v = s.data(&format!(
        r#"{{ {base} {{ withExec(args: ["sh", "-c", "stat -c '%u %a' /run/app.sock; /tools/client /run/app.sock hello; /tools/client /run/app.sock again"]) {{ stdout withoutUnixSocket(path: "/run/app.sock") {{ withExec(args: ["sh", "-c", "test -S /run/app.sock && echo present || echo absent"]) {{ stdout }} }} }} }} }} }} }} }} }}"#
    ));
    let exec =
        &v["container"]["from"]["withMountedDirectory"]["withUnixSocket"]["withUser"]["withExec"];
    assert_eq!(exec["stdout"], "1000 600\npong: hello\npong: again\n");
    assert_eq!(exec["withoutUnixSocket"]["withExec"]["stdout"], "absent\n");

    let e = s.error(r#"{ host { unixSocket(path: "missing.sock") { id } } }"#);
    assert!(common::message(&e).contains("missing.sock"), "{e}");
    let e = s.error(r#"{ host { unixSocket(path: "plain.txt") { id } } }"#);
    assert!(common::message(&e).contains("is not a unix socket"), "{e}");
    Ok(())
}
