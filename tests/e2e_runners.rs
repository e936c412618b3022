//! Runner schemes that reach BuildKit through a helper command, and `dirk dial-stdio`. There is no
//! Kubernetes cluster here: a `kubectl` stand-in on PATH runs `dirk dial-stdio`, which relays to the
//! real daemon (this is the only stand-in in the suite).

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{BUSYBOX, Session, lit};

#[test]
fn kube_pod_through_kubectl_exec_and_dirk_dial_stdio() {
    common::require_daemon();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let argv_file = dir.path().join("kubectl-argv");
    let stand_in = dir.path().join("kubectl");
    std::fs::write(
        &stand_in,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\nexec env -u BUILDKIT_HOST '{}' dial-stdio\n",
            argv_file.display(),
            env!("CARGO_BIN_EXE_dirk")
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&stand_in, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{e}"));
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let s = Session::start_with(
        &[],
        &[
            ("PATH", &path),
            (
                "BUILDKIT_HOST",
                "kube-pod://buildkitd-0?context=kind&namespace=ci&container=buildkitd",
            ),
        ],
    );
    let v = s.data(&format!(
        r#"{{ container {{ from(address: {}) {{ withExec(args: ["echo", "through a pipe"]) {{ stdout }} }} }} }}"#,
        lit(BUSYBOX)
    ));
    assert_eq!(
        v["container"]["from"]["withExec"]["stdout"],
        "through a pipe\n"
    );
    let argv = std::fs::read_to_string(&argv_file).unwrap_or_default();
    assert_eq!(
        argv.lines().collect::<Vec<_>>(),
        vec![
            "--context=kind",
            "--namespace=ci",
            "exec",
            "--container=buildkitd",
            "-i",
            "buildkitd-0",
            "--",
            "buildctl",
            "dial-stdio"
        ]
    );
}

#[test]
fn dial_stdio_reports_an_unreachable_daemon() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dirk"))
        .args(["dial-stdio", "unix:///nonexistent/buildkitd.sock"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unix:///nonexistent/buildkitd.sock"),
        "{stderr}"
    );
}
