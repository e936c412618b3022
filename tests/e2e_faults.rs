//! The daemon going away under a live session, with a dockerd each test owns (its own data root,
//! socket and bridge; the shared daemon is never touched): an in-flight query fails within seconds
//! with a clear error, the session stays up, and once the daemon is back later queries succeed
//! without restarting the session.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{BUSYBOX, Session, lit};

/// A dockerd owned by this test.
struct OwnDockerd {
    dir: PathBuf,
    child: Option<Child>,
    /// Its own bridge: two of these daemons may run at once, and none shares the suite's bridges.
    bridge: common::TestBridge,
}

impl OwnDockerd {
    fn socket(&self) -> PathBuf {
        self.dir.join("docker.sock")
    }

    /// The dockerd binary: BuildKit v0.13's from the setup script's state, else the system one.
    fn binary() -> PathBuf {
        let state =
            std::env::var("DIRK_ENGINE_STATE").unwrap_or_else(|_| "/var/lib/dirk-test".into());
        let unpacked = Path::new(&state).join("docker26/root/usr/sbin/dockerd");
        if unpacked.exists() {
            unpacked
        } else {
            PathBuf::from("dockerd")
        }
    }

    fn start(dir: &Path) -> OwnDockerd {
        let bridge = common::TestBridge::create();
        let mut d = OwnDockerd {
            dir: dir.to_path_buf(),
            child: None,
            bridge,
        };
        d.run();
        d
    }

    fn run(&mut self) {
        let binary = Self::binary();
        let path = format!(
            "{}:{}",
            binary
                .parent()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            std::env::var("PATH").unwrap_or_default()
        );
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("dockerd.log"))
            .unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new(&binary)
            .env("PATH", path)
            .arg("--data-root")
            .arg(self.dir.join("data"))
            .arg("--exec-root")
            .arg(self.dir.join("exec"))
            .arg("--pidfile")
            .arg(self.dir.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", self.socket().display()))
            .arg(format!("--bridge={}", self.bridge.name))
            .args(["--iptables=false", "--ip-masq=false"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", binary.display()));
        self.child = Some(child);
        let start = Instant::now();
        while !self.pings() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the test's dockerd did not start; see {}",
                self.dir.join("dockerd.log").display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn pings(&self) -> bool {
        Command::new("curl")
            .args(["-sf", "--max-time", "1", "--unix-socket"])
            .arg(self.socket())
            .arg("http://d/_ping")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Kills the daemon outright (as a crash would) and waits until it is gone.
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Its containerd and shims go with it; give the socket a moment to disappear.
        let _ = std::fs::remove_file(self.socket());
    }
}

/// Unmounts what a killed daemon left mounted below `dir` (its containerd's and BuildKit's
/// snapshots), deepest first, so that the test's directory can be removed.
fn unmount_below(dir: &Path) {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mut points: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(1))
        .filter(|m| Path::new(m).starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for point in points {
        let _ = Command::new("umount")
            .args(["-l", point])
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for OwnDockerd {
    fn drop(&mut self) {
        self.stop();
        unmount_below(&self.dir);
    }
}

impl OwnDockerd {
    /// Stops the daemon cleanly (so that containerd and its shims exit too), killing it if it
    /// does not stop within 15 seconds.
    fn stop(&mut self) {
        if let Some(child) = self.child.as_mut() {
            // A clean stop, so that containerd and its shims exit too.
            let _ = Command::new("kill").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn echo(s: &Session, text: &str) -> serde_json::Value {
    s.query(&format!(
        r#"{{ container {{ from(address: {}) {{ withExec(args: ["echo", {}]) {{ stdout }} }} }} }}"#,
        lit(BUSYBOX),
        lit(text)
    ))
}

/// A dockerd of the test's own in a fresh directory, and its `DOCKER_HOST` value.
fn own_daemon() -> (tempfile::TempDir, OwnDockerd, String) {
    common::require_daemon();
    // Short paths: the daemon's sockets live under this directory.
    let dir = tempfile::Builder::new()
        .prefix("dirk-fault")
        .tempdir_in("/tmp")
        .unwrap_or_else(|e| panic!("{e}"));
    let daemon = OwnDockerd::start(dir.path());
    let host = format!("unix://{}", daemon.socket().display());
    (dir, daemon, host)
}

#[test]
fn a_daemon_that_dies_fails_in_flight_queries_fast_and_is_reconnected_when_back() {
    let (_dir, mut daemon, host) = own_daemon();
    let s = Session::start_with(&[], &[("DOCKER_HOST", &host), ("BUILDKIT_HOST", "")]);
    let before = echo(&s, "before");
    assert_eq!(
        before["data"]["container"]["from"]["withExec"]["stdout"], "before\n",
        "{before}"
    );

    // A long command in flight when the daemon dies.
    let (port, token) = (s.port, s.token.clone());
    let in_flight = std::thread::spawn(move || {
        let q = format!(
            r#"{{ container {{ from(address: {}) {{ withExec(args: ["sleep", "120"]) {{ stdout }} }} }} }}"#,
            lit(BUSYBOX)
        );
        common::query_at(port, &token, &q)
    });
    std::thread::sleep(Duration::from_secs(2));
    let killed = Instant::now();
    daemon.kill();
    let answer = in_flight
        .join()
        .unwrap_or_else(|_| panic!("the query thread panicked"));
    let took = killed.elapsed();
    let message = common::message(&answer["errors"][0]);
    assert!(
        took < Duration::from_secs(5),
        "the in-flight query took {took:?} to fail: {answer}"
    );
    assert!(
        !message.is_empty(),
        "no error for the lost daemon: {answer}"
    );

    eprintln!("in-flight query failed {took:?} after the daemon died: {message}");
    // While the daemon is away, queries fail clearly and the session stays up.
    let away = echo(&s, "away");
    let away_message = common::message(&away["errors"][0]);
    assert!(away_message.contains("BuildKit"), "{away}");
    assert!(
        away_message.contains(&daemon.socket().display().to_string()),
        "{away}"
    );

    // Back again: the same session reconnects.
    daemon.run();
    let after = echo(&s, "after");
    assert_eq!(
        after["data"]["container"]["from"]["withExec"]["stdout"], "after\n",
        "{after}"
    );
}

#[test]
fn progress_continues_after_the_daemon_comes_back() -> common::TestResult {
    let (dir, mut daemon, host) = own_daemon();
    let marker = common::unique();
    let flag = |name: &str| dir.path().join(name).display().to_string();
    // A client that runs one pipeline, waits while the test kills and restarts the daemon (asking
    // once in between, which finds it gone), then runs another.
    let query = |text: &str| {
        format!(
            r#"q '{{"query":"{{ container {{ from(address: \"{BUSYBOX}\") {{ withExec(args: [\"echo\", \"{text}\"]) {{ stdout }} }} }} }}"}}'"#
        )
    };
    let script = format!(
        "q() {{ curl -s -u \"$DAGGER_SESSION_TOKEN:\" -H content-type:application/json -d \"$1\" http://127.0.0.1:$DAGGER_SESSION_PORT/query; echo; }}\n{}\ntouch '{}'\nwhile [ ! -f '{}' ]; do sleep 0.1; done\n{}\ntouch '{}'\nwhile [ ! -f '{}' ]; do sleep 0.1; done\n{}\n",
        query(&format!("before-{marker}")),
        flag("ready"),
        flag("killed"),
        query("while-away"),
        flag("asked"),
        flag("back"),
        query(&format!("after-{marker}")),
    );
    let child = Command::new(env!("CARGO_BIN_EXE_dirk"))
        .args(["run", "--progress", "plain", "--", "sh", "-c", &script])
        .env("DOCKER_HOST", &host)
        .env_remove("BUILDKIT_HOST")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running dirk run: {e}"));
    let wait_for = |name: &str| {
        let start = Instant::now();
        while !dir.path().join(name).exists() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the client never got to {name}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_for("ready");
    daemon.kill();
    std::fs::write(dir.path().join("killed"), "").unwrap_or_else(|e| panic!("{e}"));
    wait_for("asked");
    daemon.run();
    std::fs::write(dir.path().join("back"), "").unwrap_or_else(|e| panic!("{e}"));
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for dirk run: {e}"));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains(&format!("after-{marker}\\n")), "{stdout}");
    // Both pipelines show in the progress, the one after the reconnect too.
    assert!(
        stderr.contains(&format!("exec echo before-{marker}")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("exec echo after-{marker}")),
        "{stderr}"
    );
    Ok(())
}
