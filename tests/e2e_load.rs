//! Load and lifecycle on real BuildKit: many concurrent clients, identical pipelines solved once, a
//! client that hangs up mid-query, and `dirk run` whose child dies.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::{BUSYBOX, Session, lit};

#[test]
fn fifty_concurrent_clients_get_answers_and_identical_pipelines_run_once() {
    let s = Session::start();
    let marker = common::unique();
    // 50 clients, each its own small pipeline.
    let threads: Vec<_> = (0..50)
        .map(|i| {
            let (port, token, marker) = (s.port, s.token.clone(), marker.clone());
            std::thread::spawn(move || {
                let q = format!(
                    r#"{{ container {{ from(address: {}) {{ withNewFile(path: "/n", contents: {}) {{ withExec(args: ["cat", "/n"]) {{ stdout }} }} }} }} }}"#,
                    lit(BUSYBOX),
                    lit(&format!("{marker}-{i}"))
                );
                (i, common::query_at(port, &token, &q))
            })
        })
        .collect();
    for t in threads {
        let (i, v) = t
            .join()
            .unwrap_or_else(|_| panic!("a client thread panicked"));
        assert_eq!(
            v["data"]["container"]["from"]["withNewFile"]["withExec"]["stdout"],
            format!("{marker}-{i}"),
            "client {i}: {v}"
        );
    }

    // 50 clients, the same pipeline: its command appends to a shared cache and prints how many
    // times it ran. Run once, every client reads 1.
    let q = format!(
        r#"{{ container {{ from(address: {}) {{ withMountedCache(path: "/c", cache: "{}") {{ withExec(args: ["sh", "-c", "echo run >> /c/log; wc -l < /c/log"]) {{ stdout }} }} }} }} }}"#,
        lit(BUSYBOX),
        s.string_at(
            &format!(
                r#"{{ cacheVolume(key: {}) {{ id }} }}"#,
                lit(&format!("runs-{marker}"))
            ),
            &["cacheVolume", "id"]
        )
    );
    let threads: Vec<_> = (0..50)
        .map(|_| {
            let (port, token, q) = (s.port, s.token.clone(), q.clone());
            std::thread::spawn(move || common::query_at(port, &token, &q))
        })
        .collect();
    for t in threads {
        let v = t
            .join()
            .unwrap_or_else(|_| panic!("a client thread panicked"));
        let out = v["data"]["container"]["from"]["withMountedCache"]["withExec"]["stdout"]
            .as_str()
            .map(str::trim)
            .map(str::to_owned);
        assert_eq!(out.as_deref(), Some("1"), "{v}");
    }
}

/// Processes on this machine whose command line contains `needle`.
fn processes_with(needle: &str) -> usize {
    std::fs::read_dir("/proc")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| {
                    e.file_name()
                        .to_string_lossy()
                        .chars()
                        .all(|c| c.is_ascii_digit())
                })
                .filter(|e| {
                    std::fs::read(e.path().join("cmdline"))
                        .map(|c| {
                            String::from_utf8_lossy(&c)
                                .replace('\0', " ")
                                .contains(needle)
                        })
                        .unwrap_or(false)
                })
                .count()
        })
        .unwrap_or(0)
}

fn count_entries(path: String) -> usize {
    std::fs::read_dir(path).map(|d| d.count()).unwrap_or(0)
}

#[test]
fn a_client_that_hangs_up_mid_query_cancels_its_work_and_leaks_nothing() -> common::TestResult {
    let s = Session::start();
    let pid = s.pid();
    // Warm up: the first query opens connections that stay for the session.
    let _ = s.data(&format!(
        r#"{{ container {{ from(address: {}) {{ withExec(args: ["true"]) {{ exitCode }} }} }} }}"#,
        lit(BUSYBOX)
    ));
    std::thread::sleep(Duration::from_millis(500));
    let fds = count_entries(format!("/proc/{pid}/fd"));
    let tasks = count_entries(format!("/proc/{pid}/task"));

    // A long command, asked for by a client that goes away after a second.
    let seconds = format!(
        "97.{}",
        common::unique()
            .chars()
            .filter(char::is_ascii_digit)
            .take(6)
            .collect::<String>()
    );
    let body = serde_json::json!({ "query": format!(
        r#"{{ container {{ from(address: {}) {{ withExec(args: ["sleep", {}]) {{ stdout }} }} }} }}"#,
        lit(BUSYBOX),
        lit(&seconds)
    ) })
    .to_string();
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", s.port))?;
    let request = format!(
        "POST /query HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        s.auth(),
        body.len()
    );
    conn.write_all(request.as_bytes())?;
    let started = Instant::now();
    while processes_with(&format!("sleep {seconds}")) == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the command never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    drop(conn);

    // Its command is stopped, and the session is back to where it was.
    let hung_up = Instant::now();
    while processes_with(&format!("sleep {seconds}")) > 0 {
        assert!(
            hung_up.elapsed() < Duration::from_secs(15),
            "the command still runs {:?} after its client left",
            hung_up.elapsed()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let settle = Instant::now();
    loop {
        let (f, t) = (
            count_entries(format!("/proc/{pid}/fd")),
            count_entries(format!("/proc/{pid}/task")),
        );
        if f <= fds && t <= tasks {
            break;
        }
        assert!(
            settle.elapsed() < Duration::from_secs(10),
            "after the hang-up: {f} fds (was {fds}), {t} threads (was {tasks})"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The session still works.
    let v = s.data(&format!(
        r#"{{ container {{ from(address: {}) {{ withExec(args: ["echo", "still here"]) {{ stdout }} }} }} }}"#,
        lit(BUSYBOX)
    ));
    assert_eq!(v["container"]["from"]["withExec"]["stdout"], "still here\n");
    Ok(())
}

#[test]
fn dirk_run_whose_child_is_killed_ends_cleanly() {
    common::require_daemon();
    let started = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dirk"))
        .args([
            "run",
            "--",
            "sh",
            "-c",
            "test -n \"$DAGGER_SESSION_TOKEN\" && kill -9 $$",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running dirk run: {e}"));
    let status = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "dirk run did not end after its child was killed"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    let _ = child
        .stderr
        .take()
        .map(|mut e| e.read_to_string(&mut stderr));
    // The child's fate is dirk's exit status (128 + SIGKILL), and dirk said why.
    assert_eq!(status.code(), Some(137), "{stderr}");
    assert!(
        stderr.contains("signal 9") || stderr.contains("killed"),
        "{stderr}"
    );
}
