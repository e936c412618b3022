//! The `dirk session` process and its HTTP front: what the SDKs rely on.

mod common;

use common::BUSYBOX;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Session;

#[test]
fn prints_exactly_one_json_line_with_port_and_token() {
    let s = Session::start_with(
        &[
            "--label",
            "dagger.io/sdk.name:python",
            "--label",
            "dagger.io/sdk.version:0.6.4",
            "--workdir",
            "/tmp",
            "--project",
            "/tmp",
        ],
        &[],
    );
    let v: serde_json::Value = serde_json::from_str(&s.line).unwrap_or_default();
    let keys: Vec<&String> = v
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys, vec!["port", "session_token"]);
    assert!(s.line.ends_with('\n') && s.line.matches('\n').count() == 1);
    assert!(s.token.len() >= 32);
    let status = s.close();
    assert!(status.success(), "exit status on stdin EOF: {status:?}");
}

#[test]
fn exits_zero_on_sigterm_and_sigint() {
    for signal in [libc::SIGTERM, libc::SIGINT] {
        let s = Session::start();
        // SAFETY: kill(2) on the pid of a child we spawned and still own.
        let rc = unsafe { libc::kill(s.pid() as i32, signal) };
        assert_eq!(rc, 0);
        let status = s.wait();
        assert!(status.success(), "signal {signal}: {status:?}");
    }
}

/// The one thing a session serves without its token: the exec shim, at a path named by its digest,
/// for the daemon to download.
#[test]
fn only_the_exec_shim_is_served_without_the_token() {
    let s = Session::start();
    let d = s.data(&format!(
        r#"{{ container {{ from(address: "{BUSYBOX}") {{ withExec(args: ["sha256sum", "/.dirk-shim/shim"]) {{ stdout }} }} }} }}"#
    ));
    let out = d["container"]["from"]["withExec"]["stdout"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let hex = out.split_whitespace().next().unwrap_or_default().to_owned();
    assert_eq!(hex.len(), 64, "{out}");
    let base = format!("http://127.0.0.1:{}", s.port);
    let shim = ureq::get(&format!("{base}/dirk-shim/{hex}"))
        .call()
        .unwrap_or_else(|e| panic!("GET the shim: {e}"));
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut shim.into_reader(), &mut body)
        .unwrap_or_else(|e| panic!("reading the shim: {e}"));
    use sha2::Digest as _;
    assert_eq!(hex::encode(sha2::Sha256::digest(&body)), hex);
    for path in [
        format!("/dirk-shim/{}", "0".repeat(64)),
        "/dirk-shim/".to_owned(),
        "/query".to_owned(),
    ] {
        match ureq::get(&format!("{base}{path}")).call() {
            Err(ureq::Error::Status(404 | 401, _)) => {}
            other => panic!("{path} answered {other:?}"),
        }
    }
}

#[test]
fn token_is_required_and_checked() {
    let s = Session::start();
    let unauth =
        ureq::post(&s.url()).send_json(serde_json::json!({"query": "{ defaultPlatform }"}));
    match unauth {
        Err(ureq::Error::Status(401, r)) => assert!(
            r.header("WWW-Authenticate")
                .is_some_and(|h| h.starts_with("Basic"))
        ),
        other => panic!("expected 401, got {other:?}"),
    }
    let wrong = ureq::post(&s.url())
        .set("Authorization", "Basic d3Jvbmc6")
        .send_json(serde_json::json!({"query": "{ defaultPlatform }"}));
    assert!(matches!(wrong, Err(ureq::Error::Status(401, _))));
    let ok = ureq::get(&s.url())
        .query("query", "{ defaultPlatform }")
        .set("Authorization", &s.auth())
        .call();
    let ok = ok.unwrap_or_else(|e| panic!("GET failed: {e}"));
    assert!(
        ok.header("x-dagger-engine")
            .is_some_and(|v| v.starts_with("dirk/"))
    );
    let body: serde_json::Value = ok.into_json().unwrap_or_default();
    assert_eq!(body["data"]["defaultPlatform"], "linux/amd64");
}

#[test]
fn listens_on_loopback_only() {
    let s = Session::start();
    let port = s.port;
    let non_loopback = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|u| u.connect("10.255.255.1:9").map(|_| u))
        .and_then(|u| u.local_addr())
        .map(|a| a.ip())
        .ok()
        .filter(|ip| !ip.is_loopback());
    if let Some(ip) = non_loopback {
        let r = std::net::TcpStream::connect_timeout(
            &std::net::SocketAddr::new(ip, port),
            Duration::from_secs(2),
        );
        assert!(r.is_err(), "the session answered on {ip}:{port}");
    }
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
}

fn session_error(env: &[(&str, &str)]) -> (String, Duration, Option<i32>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dirk"));
    cmd.arg("session")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for v in [
        "_EXPERIMENTAL_DAGGER_RUNNER_HOST",
        "BUILDKIT_HOST",
        "DOCKER_HOST",
    ] {
        cmd.env_remove(v);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn: {e}"));
    let status = common::wait_with_timeout(&mut child, Duration::from_secs(20));
    let elapsed = start.elapsed();
    let mut stderr = String::new();
    if let Some(e) = child.stderr.take() {
        for line in BufReader::new(e).lines().map_while(Result::ok) {
            stderr.push_str(&line);
            stderr.push('\n');
        }
    }
    let mut stdout = String::new();
    if let Some(o) = child.stdout.take() {
        let _ = BufReader::new(o).read_line(&mut stdout);
    }
    assert!(
        stdout.is_empty(),
        "nothing on stdout when the session cannot start: {stdout:?}"
    );
    (stderr, elapsed, status.code())
}

#[test]
fn malformed_runner_address_is_a_one_line_error() {
    let (stderr, _, code) = session_error(&[("BUILDKIT_HOST", "nonsense")]);
    assert_eq!(code, Some(1));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("BUILDKIT_HOST=\"nonsense\""), "{stderr}");
    let (stderr, _, code) = session_error(&[("_EXPERIMENTAL_DAGGER_RUNNER_HOST", "ftp://x")]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("_EXPERIMENTAL_DAGGER_RUNNER_HOST=\"ftp://x\"")
            && stderr.contains("unsupported scheme"),
        "{stderr}"
    );
}

#[test]
fn unreachable_daemon_is_named_within_ten_seconds() -> common::TestResult {
    let dir = tempfile::tempdir()?;
    let sock = dir.path().join("none.sock");
    let (stderr, elapsed, code) =
        session_error(&[("BUILDKIT_HOST", &format!("unix://{}", sock.display()))]);
    assert_eq!(code, Some(1));
    assert!(stderr.contains(&sock.display().to_string()), "{stderr}");
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    // A TCP port where nothing listens.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(1);
    let (stderr, elapsed, code) =
        session_error(&[("BUILDKIT_HOST", &format!("tcp://127.0.0.1:{free}"))]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(&format!("tcp://127.0.0.1:{free}")),
        "{stderr}"
    );
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    Ok(())
}

#[test]
fn dirk_query_answers_json_and_fails_on_errors() {
    common::require_daemon();
    let run = |args: &[&str], stdin: &str| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dirk"))
            .arg("query")
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawning dirk query: {e}"));
        if let Some(mut input) = child.stdin.take() {
            use std::io::Write;
            let _ = input.write_all(stdin.as_bytes());
        }
        let out = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("waiting for dirk query: {e}"));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)));
        (out.status.code(), json)
    };
    let q = &format!(
        r#"query Echo($word: String!) {{ container {{ from(address: "{BUSYBOX}") {{ withExec(args: ["echo", $word]) {{ stdout }} }} }} }}"#
    );
    let (code, v) = run(&[q, "--var", "word=hello"], "");
    assert_eq!(code, Some(0), "{v}");
    assert_eq!(
        v["data"]["container"]["from"]["withExec"]["stdout"],
        "hello\n"
    );
    let (code, v) = run(&["-"], "{ defaultPlatform }");
    assert_eq!(code, Some(0), "{v}");
    assert!(
        v["data"]["defaultPlatform"]
            .as_str()
            .is_some_and(|p| p.starts_with("linux/"))
    );
    let (code, v) = run(
        &["{ container { withExec(args: [\"true\"]) { nope } } }"],
        "",
    );
    assert_eq!(code, Some(1));
    assert!(
        v["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("nope"),
        "{v}"
    );
}

#[test]
fn pipelines_name_their_steps_in_progress() {
    common::require_daemon();
    let marker = common::unique();
    let q = format!(
        r#"{{ pipeline(name: "ci") {{ container {{ from(address: "{BUSYBOX}") {{ pipeline(name: "unit tests") {{ withExec(args: ["echo", {}]) {{ stdout }} }} }} }} }} }}"#,
        common::lit(&marker)
    );
    let (code, stdout, stderr) = common::run_dirk(&["query", "--progress", "plain", &q], &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_default();
    assert_eq!(
        v["data"]["pipeline"]["container"]["from"]["pipeline"]["withExec"]["stdout"],
        format!("{marker}\n")
    );
    assert!(
        stderr.contains(&format!("[ci / unit tests] exec echo {marker}")),
        "{stderr}"
    );
    // The exec shim's transfer is dirk's plumbing, not a step of the pipeline.
    assert!(!stderr.contains("shim"), "{stderr}");
    let e = common::Session::start().error(r#"{ container { pipeline(name: " ") { id } } }"#);
    assert!(common::message(&e).contains("pipeline needs a name"), "{e}");

    // Directories have pipelines too, nested the same way.
    let q = format!(
        r#"{{ pipeline(name: "assets") {{ directory {{ withNewFile(path: "a.txt", contents: "x") {{ pipeline(name: "docs") {{ withNewDirectory(path: {}) {{ entries }} }} }} }} }} }}"#,
        common::lit(&marker)
    );
    let (code, _, stderr) = common::run_dirk(&["query", "--progress", "plain", &q], &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("[assets] write /a.txt"), "{stderr}");
    assert!(
        stderr.contains(&format!("[assets / docs] mkdir /{marker}")),
        "{stderr}"
    );
}

#[test]
fn dirk_engine_describes_the_runner_or_fails() {
    common::require_daemon();
    let run = |env: &[(&str, &str)]| common::run_dirk(&["engine"], env);
    let (code, stdout, stderr) = run(&[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains("runner:") && stdout.contains("chosen by:"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("worker:") && l.contains("linux/")),
        "{stdout}"
    );
    assert!(stdout.contains("exec.mount.secret"), "{stdout}");
    if std::env::var_os("DIRK_CACHE").is_none()
        && std::env::var_os("_EXPERIMENTAL_DAGGER_CACHE_CONFIG").is_none()
    {
        assert!(stdout.contains("remote cache: none"), "{stdout}");
    }
    let (code, _, stderr) = run(&[("BUILDKIT_HOST", "unix:///nonexistent/buildkitd.sock")]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains("unix:///nonexistent/buildkitd.sock"),
        "{stderr}"
    );
}

#[test]
fn oversized_and_overdeep_requests_are_refused_clearly() {
    let s = common::Session::start();
    // A body over the limit: 413, before anything is parsed.
    let big = "x".repeat(17 * 1024 * 1024);
    let r = ureq::post(&s.url())
        .set("Authorization", &s.auth())
        .send_json(serde_json::json!({ "query": format!("{{ defaultPlatform }} # {big}") }));
    match r {
        Err(ureq::Error::Status(code, _)) => assert_eq!(code, 413),
        Err(ureq::Error::Transport(t)) => {
            // The server may close the connection while the client is still sending.
            assert!(
                t.to_string().contains("connection") || t.to_string().contains("Broken pipe"),
                "{t}"
            )
        }
        Ok(r) => panic!("accepted a 17 MiB body: {}", r.status()),
    }
    // Nesting past the limit: a GraphQL error that says what the limit is.
    let deep = format!("{}{}", "{ a ".repeat(1_100), "}".repeat(1_100));
    let v = s.query(&deep);
    let message = common::message(&v["errors"][0]);
    assert!(message.contains("1000") || message.contains("1,000"), "{v}");
    // The session is unharmed.
    assert_eq!(
        s.data("{ defaultPlatform }")["defaultPlatform"],
        "linux/amd64"
    );
}

#[test]
fn publishing_shows_its_pushes_in_progress() {
    common::require_daemon();
    let marker = common::unique();
    let target = format!(
        "127.0.0.1:5000/dirk-test/progress-{}:v1",
        marker.replace(['-', '_'], "")
    );
    let q = format!(
        r#"{{ container {{ from(address: "{BUSYBOX}") {{ withNewFile(path: "/m", contents: {}) {{ publish(address: {}) }} }} }} }}"#,
        common::lit(&marker),
        common::lit(&target)
    );
    let (code, stdout, stderr) = common::run_dirk(&["query", "--progress", "plain", &q], &[]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains(&format!("{target}@sha256:")), "{stdout}");
    // A daemon that pushes images itself (one that can merge: see the README) shows the push as
    // one step; where the session pushes, each of its requests is a step.
    let (_, engine, _) = common::run_dirk(&["engine"], &[]);
    if engine.contains("yes mergeop:") {
        let step = format!("push {target} (by the daemon)");
        assert!(stderr.contains(&step), "{stderr}");
        assert!(!stderr.contains(&format!("push {target}: ")), "{stderr}");
        return;
    }
    for step in ["authenticate", "layer ", "config ", "manifest v1"] {
        assert!(
            stderr.contains(&format!("push {target}: {step}")),
            "{step}: {stderr}"
        );
    }
}
