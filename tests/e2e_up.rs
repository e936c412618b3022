//! `dirk up` on the example plan and on broken plans, through real BuildKit.

mod common;

use common::BUSYBOX;

use std::path::Path;
use std::process::{Command, Output};

fn up(workdir: &Path, args: &[&str]) -> Output {
    common::require_daemon();
    Command::new(env!("CARGO_BIN_EXE_dirk"))
        .arg("up")
        .arg("--workdir")
        .arg(workdir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running dirk up: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A copy of the example project in a fresh directory.
fn example_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/project");
    for name in ["greet.sh", "test.sh", "dirk.graphql"] {
        std::fs::copy(src.join(name), dir.path().join(name))
            .unwrap_or_else(|e| panic!("copying {name}: {e}"));
    }
    dir
}

#[test]
fn the_example_plan_tests_builds_and_exports() {
    let p = example_project();
    let name = format!("tester-{}", common::unique());
    let out = up(p.path(), &["--set", &format!("name={name}")]);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("tests passed\n"), "{stdout}");
    let stderr = text(&out.stderr);
    let order: Vec<&str> = stderr.lines().filter(|l| l.starts_with('▶')).collect();
    assert_eq!(order, vec!["▶ source", "▶ test", "▶ build"]);
    let greeting = std::fs::read_to_string(p.path().join("dist/greeting.txt")).unwrap_or_default();
    assert_eq!(greeting, format!("hello, {name}\n"));

    let json = up(p.path(), &["--json"]);
    assert_eq!(
        json.status.code(),
        Some(0),
        "stderr: {}",
        text(&json.stderr)
    );
    let lines: Vec<serde_json::Value> = text(&json.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_default())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[1]["operation"], "test");
    assert_eq!(
        lines[1]["data"]["container"]["from"]["withMountedDirectory"]["withWorkdir"]["withExec"]["stdout"],
        "tests passed\n"
    );
}

#[test]
fn broken_plans_fail_clearly() -> common::TestResult {
    let p = tempfile::tempdir()?;
    let cases = [
        (
            "syntax.graphql",
            "query a { container { from(address: ",
            "syntax error at line 1",
        ),
        (
            "unknown.graphql",
            "query a { container { fromm(address: \"x\") { id } } }",
            "Unknown field \"fromm\"",
        ),
        (
            "missing.graphql",
            "query a($image: String!) { container { from(address: $image) { id } } }",
            "needs variable $image",
        ),
        (
            "failing.graphql",
            &format!(
                "query a {{ container {{ from(address: \"{BUSYBOX}\") {{ withExec(args: [\"false\"]) {{ stdout }} }} }} }}\nquery b {{ defaultPlatform }}"
            ),
            "operation a (line 1) failed",
        ),
    ];
    for (file, plan, expected) in cases {
        std::fs::write(p.path().join(file), plan)?;
        let path = p.path().join(file);
        let out = up(p.path(), &[&path.to_string_lossy()]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{file}: {stderr}");
        assert!(stderr.contains(expected), "{file}: {stderr}");
        assert!(
            !stderr.contains("▶ b"),
            "{file}: the run must stop at the failure"
        );
    }
    let out = up(p.path(), &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("dirk.graphql"),
        "{}",
        text(&out.stderr)
    );
    Ok(())
}

#[test]
fn plain_progress_shows_steps_and_output_with_secrets_masked() -> common::TestResult {
    let p = tempfile::tempdir()?;
    let plain = format!("pw-{}", common::unique());
    let plan = p.path().join("dirk.graphql");
    std::fs::write(
        &plan,
        format!(
            r#"query token($PASSWORD: String!) {{ setSecret(name: "pw", plaintext: $PASSWORD) {{ id }} }}
query use($token: SecretID!) {{
  container {{ from(address: "{BUSYBOX}") {{ withSecretVariable(name: "PW", secret: $token) {{
    withExec(args: ["sh", "-c", "echo progress-{marker}; echo the password is $PW"]) {{ stdout }}
  }} }} }}
}}"#,
            marker = common::unique()
        ),
    )?;
    common::require_daemon();
    let out = Command::new(env!("CARGO_BIN_EXE_dirk"))
        .args(["up", "--progress", "plain", "--workdir"])
        .arg(p.path())
        .env("PASSWORD", &plain)
        .env("DIRK_LOG", "debug")
        .output()
        .unwrap_or_else(|e| panic!("running dirk up: {e}"));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("the password is ***"), "{stdout}");
    let exec_line = stderr
        .lines()
        .find(|l| l.contains(" exec sh -c echo progress-"))
        .unwrap_or_else(|| panic!("no exec step in the progress output:\n{stderr}"));
    let step = exec_line.split_whitespace().next().unwrap_or("#?");
    assert!(
        stderr.contains(&format!("{step} the password is ***")),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("{step} DONE")), "{stderr}");
    assert!(
        !stderr.contains(&plain) && !stdout.contains(&plain),
        "the plaintext leaked:\n{stdout}\n{stderr}"
    );
    Ok(())
}
