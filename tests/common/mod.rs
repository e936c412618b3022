//! Test harness: runs the real `dirk session` against the real BuildKit daemon and talks to it over
//! HTTP exactly as the SDKs do.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

/// The busybox image the setup script pushes to the local registry.
pub const BUSYBOX: &str = "127.0.0.1:5000/busybox:latest";
/// An image with one static binary (`/bin/busybox`) and nothing else: no shell, no libc.
pub const STATIC: &str = "127.0.0.1:5000/static:latest";

/// Fails with a clear message when no daemon is reachable (tests never skip silently).
pub fn require_daemon() {
    let configured = [
        "_EXPERIMENTAL_DAGGER_RUNNER_HOST",
        "BUILDKIT_HOST",
        "DOCKER_HOST",
    ]
    .iter()
    .any(|v| std::env::var(v).is_ok());
    assert!(
        configured || std::path::Path::new("/var/run/docker.sock").exists(),
        "no BuildKit daemon: run scripts/setup-engine.sh (or set BUILDKIT_HOST) before the e2e tests"
    );
}

/// A running `dirk session`.
pub struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    pub port: u16,
    pub token: String,
    pub line: String,
    /// Where stderr goes, for sessions started with [`Session::start_logged`].
    pub log: Option<std::path::PathBuf>,
}

impl Session {
    /// Starts a session with the test environment.
    pub fn start() -> Session {
        Self::start_with(&[], &[])
    }

    /// Starts a session with extra arguments and environment.
    pub fn start_with(args: &[&str], env: &[(&str, &str)]) -> Session {
        Self::spawn(args, env, None)
    }

    /// Starts a session whose info-level log is written to `log` (read it with [`Session::log`]).
    pub fn start_logged(args: &[&str], env: &[(&str, &str)], log: &std::path::Path) -> Session {
        let mut env = env.to_vec();
        if !env.iter().any(|(k, _)| *k == "DIRK_LOG") {
            env.push(("DIRK_LOG", "info"));
        }
        Self::spawn(args, &env, Some(log))
    }

    /// What the session has logged so far.
    pub fn log(&self) -> String {
        self.log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }

    fn spawn(args: &[&str], env: &[(&str, &str)], log: Option<&std::path::Path>) -> Session {
        require_daemon();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dirk"));
        let stderr = match log {
            Some(path) => Stdio::from(
                std::fs::File::create(path)
                    .unwrap_or_else(|e| panic!("creating {}: {e}", path.display())),
            ),
            None => Stdio::inherit(),
        };
        cmd.arg("session")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning dirk session: {e}"));
        let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .unwrap_or_else(|e| panic!("reading the connect line: {e}"));
        let parsed: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("connect line {line:?} is not JSON: {e}"));
        let port = parsed["port"]
            .as_u64()
            .unwrap_or_else(|| panic!("no port in {line:?}")) as u16;
        let token = parsed["session_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no token in {line:?}"))
            .to_owned();
        let stdin = child.stdin.take();
        Session {
            child,
            stdin,
            port,
            token,
            line,
            log: log.map(std::path::Path::to_owned),
        }
    }

    /// The URL of the API.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/query", self.port)
    }

    /// The Authorization header value.
    pub fn auth(&self) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{}:", self.token))
        )
    }

    /// Sends a query; returns the whole response document.
    pub fn query(&self, query: &str) -> Value {
        query_at(self.port, &self.token, query)
    }

    /// Sends a query that must succeed; returns `data`.
    pub fn data(&self, query: &str) -> Value {
        let v = self.query(query);
        assert!(
            v.get("errors")
                .is_none_or(|e| e.as_array().is_none_or(|a| a.is_empty())),
            "query failed: {v}\nquery: {query}"
        );
        v["data"].clone()
    }

    /// Sends a query that must succeed and returns the string at `path` in its data (an ID, usually).
    pub fn string_at(&self, query: &str, path: &[&str]) -> String {
        let data = self.data(query);
        let value = path.iter().fold(&data, |v, key| &v[*key]);
        value
            .as_str()
            .unwrap_or_else(|| panic!("no string at {path:?} in {data}"))
            .to_owned()
    }

    /// Sends a query that must fail; returns its first error.
    pub fn error(&self, query: &str) -> Value {
        let v = self.query(query);
        v["errors"]
            .get(0)
            .cloned()
            .unwrap_or_else(|| panic!("expected an error, got {v}\nquery: {query}"))
    }

    /// Closes stdin (the SDKs' way of ending a session) and waits for the exit status.
    pub fn close(mut self) -> std::process::ExitStatus {
        drop(self.stdin.take());
        wait_with_timeout(&mut self.child, Duration::from_secs(30))
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the child to exit.
    pub fn wait(mut self) -> std::process::ExitStatus {
        wait_with_timeout(&mut self.child, Duration::from_secs(30))
    }
}

/// Waits for a child, killing it (and failing) after `timeout`.
pub fn wait_with_timeout(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return status;
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            panic!("process did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        drop(self.stdin.take());
        if let Ok(None) = self.child.try_wait() {
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(15) {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
        }
    }
}

/// The message of a GraphQL error (empty when it has none).
pub fn message(error: &Value) -> &str {
    error["message"].as_str().unwrap_or_default()
}

/// A GraphQL string literal.
pub fn lit(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

/// A unique suffix for names that must not collide between test runs (cache keys).
pub fn unique() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{}-{nanos}", std::process::id())
}

/// Sends a query to the session on `port` with `token`; returns the whole response document.
pub fn query_at(port: u16, token: &str, query: &str) -> Value {
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{token}:"))
    );
    let response = ureq::post(&format!("http://127.0.0.1:{port}/query"))
        .set("Authorization", &auth)
        .timeout(Duration::from_secs(300))
        .send_json(serde_json::json!({ "query": query }));
    match response {
        Ok(r) => {
            // Deep pipelines answer deeply nested JSON: lift serde_json's default limit.
            let mut de = serde_json::Deserializer::from_reader(r.into_reader());
            de.disable_recursion_limit();
            serde::Deserialize::deserialize(&mut de)
                .unwrap_or_else(|e| panic!("response is not JSON: {e}"))
        }
        Err(ureq::Error::Status(code, r)) => {
            panic!("HTTP {code}: {}", r.into_string().unwrap_or_default())
        }
        Err(e) => panic!("request failed: {e}"),
    }
}

/// Runs the dirk binary with `args` and extra environment; returns its exit code, stdout and stderr.
pub fn run_dirk(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dirk"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running dirk {args:?}: {e}"));
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A network bridge owned by one test (for a dockerd of its own), with its own name and subnet.
/// Names and subnets are picked under a machine-wide lock, so tests running at the same moment, in
/// one process or several, never pick the same one; the bridge is deleted when dropped.
pub struct TestBridge {
    /// The bridge's name (`dirkt<N>`).
    pub name: String,
}

impl TestBridge {
    /// Creates a fresh bridge with a /24 of 172.30.0.0/16 that no interface on the machine uses.
    pub fn create() -> TestBridge {
        use std::os::fd::AsRawFd;
        let lock_dir = std::path::Path::new("/run/dirk-test");
        std::fs::create_dir_all(lock_dir)
            .unwrap_or_else(|e| panic!("creating {}: {e}", lock_dir.display()));
        let lock_path = lock_dir.join("bridges.lock");
        let lock = std::fs::File::create(&lock_path)
            .unwrap_or_else(|e| panic!("opening {}: {e}", lock_path.display()));
        // SAFETY: flock on a file descriptor this function owns; released when `lock` is dropped.
        let locked = unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
        assert_eq!(locked, 0, "locking {}", lock_path.display());
        let ip = |args: &[&str]| {
            Command::new("ip")
                .args(args)
                .output()
                .unwrap_or_else(|e| panic!("running ip {args:?}: {e}"))
        };
        let addresses =
            String::from_utf8_lossy(&ip(&["-4", "-o", "addr", "show"]).stdout).into_owned();
        for n in 0..200u32 {
            let name = format!("dirkt{n}");
            let subnet = format!("172.30.{n}.");
            if addresses.contains(&subnet) || ip(&["link", "show", &name]).status.success() {
                continue;
            }
            let steps: [Vec<String>; 3] = [
                vec![
                    "link".into(),
                    "add".into(),
                    name.clone(),
                    "type".into(),
                    "bridge".into(),
                ],
                vec![
                    "addr".into(),
                    "add".into(),
                    format!("{subnet}1/24"),
                    "dev".into(),
                    name.clone(),
                ],
                vec!["link".into(), "set".into(), name.clone(), "up".into()],
            ];
            let bridge = TestBridge { name };
            for step in &steps {
                let args: Vec<&str> = step.iter().map(String::as_str).collect();
                let out = ip(&args);
                assert!(
                    out.status.success(),
                    "ip {args:?} failed (tests that run their own dockerd need root to make a bridge): {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            return bridge;
        }
        panic!("no free bridge name dirkt0..dirkt199 with a free 172.30.N.0/24 subnet");
    }
}

impl Drop for TestBridge {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["link", "del", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

/// Copies image `repo:tag` from `from` (a registry address) to `to`, blob by blob over the registry
/// API, authenticating to `to` with `auth` (`user:password`) when given. Tests seed the registries
/// they read this way instead of relying on another registry's storage.
pub fn copy_image(from: &str, to: &str, repo: &str, tag: &str, auth: Option<&str>) {
    const MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
    let header = auth.map(|a| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(a)
        )
    });
    let with_auth = |r: ureq::Request| match &header {
        Some(h) => r.set("Authorization", h),
        None => r,
    };
    let fail = |what: &str, e: ureq::Error| -> ! {
        panic!("copying {repo}:{tag} from {from} to {to}: {what}: {e}")
    };
    let manifest = ureq::get(&format!("http://{from}/v2/{repo}/manifests/{tag}"))
        .set("Accept", MANIFEST)
        .call()
        .unwrap_or_else(|e| fail("reading the manifest", e))
        .into_string()
        .unwrap_or_else(|e| panic!("reading the manifest of {repo}:{tag}: {e}"));
    let parsed: Value = serde_json::from_str(&manifest)
        .unwrap_or_else(|e| panic!("the manifest of {repo}:{tag} is not JSON: {e}"));
    let mut digests = vec![
        parsed["config"]["digest"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    ];
    for layer in parsed["layers"].as_array().into_iter().flatten() {
        digests.push(layer["digest"].as_str().unwrap_or_default().to_owned());
    }
    for digest in digests {
        let mut blob = Vec::new();
        ureq::get(&format!("http://{from}/v2/{repo}/blobs/{digest}"))
            .call()
            .unwrap_or_else(|e| fail("reading a blob", e))
            .into_reader()
            .read_to_end(&mut blob)
            .unwrap_or_else(|e| panic!("reading blob {digest}: {e}"));
        let started = with_auth(ureq::post(&format!("http://{to}/v2/{repo}/blobs/uploads/")))
            .call()
            .unwrap_or_else(|e| fail("starting an upload", e));
        let location = started.header("Location").unwrap_or_default().to_owned();
        let location = if location.starts_with("http") {
            location
        } else {
            format!("http://{to}{location}")
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        with_auth(ureq::put(&format!("{location}{separator}digest={digest}")))
            .set("Content-Type", "application/octet-stream")
            .send_bytes(&blob)
            .unwrap_or_else(|e| fail("uploading a blob", e));
    }
    with_auth(ureq::put(&format!("http://{to}/v2/{repo}/manifests/{tag}")))
        .set("Content-Type", MANIFEST)
        .send_string(&manifest)
        .unwrap_or_else(|e| fail("writing the manifest", e));
}

/// The `DOCKER_HOST` of every daemon the setup script runs for the suite (one per BuildKit
/// generation), for tests that compare what the daemons give for the same pipeline. Each must
/// answer: a test that needs them all fails, naming the one that is missing.
pub fn suite_daemons() -> Vec<(&'static str, String)> {
    let docker26 = std::env::var("DIRK_DOCKER26_SOCK")
        .unwrap_or_else(|_| "/run/dirk-test/docker26.sock".into());
    let daemons = vec![
        (
            "BuildKit v0.8 (dockerd 20.10)",
            "/var/run/docker.sock".to_owned(),
        ),
        ("BuildKit v0.13 (dockerd 26.1)", docker26),
        (
            "BuildKit v0.25 (dockerd 28.5, containerd image store)",
            std::env::var("DIRK_DOCKER28_SOCK")
                .unwrap_or_else(|_| "/run/dirk-test/docker28.sock".into()),
        ),
    ];
    daemons
        .into_iter()
        .map(|(name, socket)| {
            assert!(
                std::path::Path::new(&socket).exists(),
                "{name} is not running at {socket}: run scripts/setup-engine.sh"
            );
            (name, format!("unix://{socket}"))
        })
        .collect()
}

/// The environment that points dirk at the daemon `host` (a `DOCKER_HOST` value) and at no other.
pub fn daemon_env(host: &str) -> [(&'static str, &str); 3] {
    [
        ("DOCKER_HOST", host),
        ("BUILDKIT_HOST", ""),
        ("_EXPERIMENTAL_DAGGER_RUNNER_HOST", ""),
    ]
}

/// Whether `dirk engine` reports that the daemon `host` (named `daemon`) supports `capability`.
pub fn daemon_supports(daemon: &str, host: &str, capability: &str) -> bool {
    let (code, engine, log) = run_dirk(&["engine"], &daemon_env(host));
    assert_eq!(code, Some(0), "{daemon}: {log}");
    engine
        .lines()
        .any(|l| l.trim().starts_with(&format!("yes {capability}:")))
}

/// What a test returns: `?` on any error fails it with that error's message.
pub type TestResult = Result<(), Box<dyn std::error::Error>>;

impl Session {
    /// Starts a session whose working directory (where relative host paths resolve) is `dir`.
    pub fn start_in(dir: &std::path::Path) -> Session {
        Self::start_with(&["--workdir", &dir.to_string_lossy()], &[])
    }
}

/// Serves HTTP/1.1 GETs on 127.0.0.1 (the daemon fetches from there) with what `respond` gives
/// for the requested path (without its query), or 404; returns the port.
pub fn serve_http(respond: impl Fn(&str) -> Option<Vec<u8>> + Send + 'static) -> u16 {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap_or_else(|e| panic!("binding an HTTP server on 127.0.0.1: {e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut line = String::new();
            let _ = BufReader::new(&conn).read_line(&mut line);
            let target = line.split_whitespace().nth(1).unwrap_or("/");
            let path = target.split('?').next().unwrap_or("/");
            let response = match respond(path) {
                Some(body) => {
                    let mut r = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
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
