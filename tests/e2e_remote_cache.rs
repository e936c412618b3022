//! A remote build cache in the test registry (`DIRK_CACHE`, or `_EXPERIMENTAL_DAGGER_CACHE_CONFIG`
//! as the original engine reads it). On a daemon that can export a cache, a pipeline run once and
//! then again after the daemon's whole build cache is pruned is answered from the registry: its
//! steps show `CACHED` and the command does not run again. A daemon that cannot export (Docker's
//! embedded BuildKit with graph drivers) gets an import-only cache, said once, and the pipeline runs.
//!
//! This file holds one test: it prunes the daemon's build cache, which no other test may see.

mod common;

use common::{BUSYBOX, lit, unique};
use std::process::Command;

/// Runs `dirk query` with the remote cache in `variable`; returns (stdout, stderr).
fn query(variable: &str, cache: &str, q: &str) -> (String, String) {
    common::require_daemon();
    let out = Command::new(env!("CARGO_BIN_EXE_dirk"))
        .args(["query", "--progress", "plain", q])
        .env_remove("DIRK_CACHE")
        .env_remove("_EXPERIMENTAL_DAGGER_CACHE_CONFIG")
        .env(variable, cache)
        .output()
        .unwrap_or_else(|e| panic!("running dirk: {e}"));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    (stdout, stderr)
}

#[test]
fn a_pipeline_is_answered_from_the_remote_cache_after_the_daemon_forgets_it() {
    let marker = unique();
    let reference = format!(
        "127.0.0.1:5000/dirk-test/cache-{}:main",
        marker.replace(['-', '_'], "")
    );
    let cache = format!("type=registry,ref={reference},mode=max");
    // The command prints a value that differs on every run: a repeat that prints the same value
    // did not run.
    let q = format!(
        r#"{{ container {{ from(address: {}) {{ withExec(args: ["sh", "-c", {}]) {{ stdout }} }} }} }}"#,
        lit(BUSYBOX),
        lit(&format!("echo {marker}; cat /proc/sys/kernel/random/uuid"))
    );
    let (first, first_log) = query("_EXPERIMENTAL_DAGGER_CACHE_CONFIG", &cache, &q);
    let import_only = first_log.contains("is import-only in this session");
    // `dirk engine` says the same of this daemon.
    let (code, engine, engine_log) = common::run_dirk(&["engine"], &[("DIRK_CACHE", &cache)]);
    assert_eq!(code, Some(0), "{engine_log}");
    let expected = if import_only {
        "import-only (this daemon cannot export a build cache)"
    } else {
        "imported and exported"
    };
    assert!(
        engine.contains(&format!(
            "remote cache: registry {reference} (DIRK_CACHE): {expected}"
        )),
        "{engine}"
    );
    if import_only {
        assert_eq!(
            first_log.matches("is import-only").count(),
            1,
            "said once: {first_log}"
        );
        assert!(
            first_log.contains("cannot export a build cache"),
            "{first_log}"
        );
        assert!(first.contains(&marker), "the pipeline runs: {first}");
        return;
    }
    assert!(!first_log.contains("was not written"), "{first_log}");
    let pruned = Command::new("docker")
        .args(["builder", "prune", "-af"])
        .output()
        .unwrap_or_else(|e| panic!("running docker: {e}"));
    assert!(
        pruned.status.success(),
        "{}",
        String::from_utf8_lossy(&pruned.stderr)
    );
    let (second, second_log) = query("DIRK_CACHE", &cache, &q);
    assert_eq!(
        second, first,
        "the command did not run again: its output came from the cache\n{second_log}"
    );
    let exec_step = second_log
        .lines()
        .find(|l| l.contains(" exec sh -c echo "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no exec step in {second_log}"));
    assert!(
        second_log.contains(&format!("{exec_step} CACHED")),
        "{second_log}"
    );
}
