//! Secrets on real BuildKit: served by the session's secrets service, never written down, masked in
//! everything the session returns or logs.

mod common;

use common::{BUSYBOX, Session, lit, unique};

fn ctr() -> String {
    format!("container {{ from(address: {}) ", lit(BUSYBOX))
}

/// Every string in a JSON document, concatenated (IDs, outputs, messages, extensions).
fn all_text(v: &serde_json::Value) -> String {
    v.to_string()
}

#[test]
fn secrets_reach_commands_and_nothing_else() {
    let plain = format!("s3cr3t-{}", unique());
    let log = std::env::temp_dir().join(format!("dirk-secrets-{}.log", unique()));
    let s = Session::start_logged(
        &[],
        &[("DIRK_LOG", "debug"), ("DIRK_TEST_VAR", &plain)],
        &log,
    );
    let mut seen = Vec::new();

    let v = s.data(&format!(
        r#"{{ setSecret(name: "token", plaintext: {}) {{ id }} }}"#,
        lit(&plain)
    ));
    let secret = v["setSecret"]["id"].as_str().unwrap_or_default().to_owned();
    assert!(secret.starts_with("secret."), "{secret}");
    seen.push(v);

    // As a variable: the command sees the value; its output shows it masked.
    let q = format!(
        r#"{{ {} {{ withSecretVariable(name: "TOKEN", secret: {}) {{ withExec(args: ["sh", "-c", "echo value=$TOKEN; [ \"$TOKEN\" = {} ] && echo match; echo $TOKEN >&2"]) {{ id stdout stderr }} }} }} }} }}"#,
        ctr(),
        lit(&secret),
        lit(&format!("'{plain}'")).trim_matches('"')
    );
    let v = s.data(&q);
    let exec = &v["container"]["from"]["withSecretVariable"]["withExec"];
    assert_eq!(exec["stdout"], "value=***\nmatch\n");
    assert_eq!(exec["stderr"], "***\n");
    seen.push(v.clone());

    // As a file: readable by its owner only, masked when printed, absent from the filesystem after.
    let q = format!(
        r#"{{ {} {{ withMountedSecret(path: "/run/secrets/token", source: {}, owner: "1000:1001") {{ withExec(args: ["sh", "-c", "stat -c '%u:%g %a' /run/secrets/token; cat /run/secrets/token"]) {{ stdout }} }} }} }} }}"#,
        ctr(),
        lit(&secret)
    );
    let v = s.data(&q);
    let exec = &v["container"]["from"]["withMountedSecret"]["withExec"];
    assert_eq!(exec["stdout"], "1000:1001 400\n***");
    seen.push(v.clone());
    let leftovers = s.query(&format!(
        r#"{{ {} {{ withMountedSecret(path: "/run/secrets/token", source: {}) {{ withExec(args: ["true"]) {{ rootfs {{ file(path: "/run/secrets/token") {{ contents }} }} }} }} }} }}"#,
        ctr(),
        lit(&secret)
    ));
    assert!(
        !all_text(&leftovers).contains(&plain),
        "the secret was written into the filesystem: {leftovers}"
    );

    // A failing command's error and extensions are masked too.
    let q = format!(
        r#"{{ {} {{ withSecretVariable(name: "TOKEN", secret: {}) {{ withExec(args: ["sh", "-c", "echo out $TOKEN; echo err $TOKEN >&2; exit 3"]) {{ stdout }} }} }} }} }}"#,
        ctr(),
        lit(&secret)
    );
    let e = s.error(&q);
    assert_eq!(e["extensions"]["_type"], "EXEC_ERROR");
    assert_eq!(e["extensions"]["exitCode"], 3);
    assert_eq!(e["extensions"]["stdout"], "out ***\n");
    assert_eq!(e["extensions"]["stderr"], "err ***\n");
    seen.push(e);

    // The host's environment, as a value and as a secret.
    let v = s.data(r#"{ host { envVariable(name: "DIRK_TEST_VAR") { secret { id } } } }"#);
    let env_secret = v["host"]["envVariable"]["secret"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    seen.push(v);
    let q = format!(
        r#"{{ {} {{ withSecretVariable(name: "V", secret: {}) {{ withExec(args: ["sh", "-c", "echo ${{#V}}", {}]) {{ stdout }} }} }} }} }}"#,
        ctr(),
        lit(&env_secret),
        // Like `docker build --secret`, a new value alone does not re-run a cached step.
        lit(&unique())
    );
    let v = s.data(&q);
    assert_eq!(
        v["container"]["from"]["withSecretVariable"]["withExec"]["stdout"],
        format!("{}\n", plain.len())
    );
    seen.push(v);
    let v = s.data(r#"{ host { missing: envVariable(name: "DIRK_NO_SUCH_VAR") { value } } }"#);
    assert!(v["host"]["missing"].is_null());

    // Only `plaintext` (and `HostVariable.value`) give the value back, on purpose.
    let v = s.data(&format!(
        r#"{{ secret(id: {}) {{ plaintext }} }}"#,
        lit(&secret)
    ));
    assert_eq!(v["secret"]["plaintext"], plain.as_str());
    let v = s.data(r#"{ host { envVariable(name: "DIRK_TEST_VAR") { value } } }"#);
    assert_eq!(v["host"]["envVariable"]["value"], plain.as_str());

    for doc in &seen {
        assert!(!all_text(doc).contains(&plain), "plaintext leaked: {doc}");
    }
    drop(s);
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        logged.contains("session ready"),
        "the log was captured: {logged}"
    );
    assert!(
        !logged.contains(&plain),
        "the plaintext is in the session log"
    );
    let _ = std::fs::remove_file(log);
}

#[test]
fn a_secret_from_a_file_and_a_bad_secret_id() {
    let s = Session::start();
    let plain = format!("from-file-{}", unique());
    let q = format!(
        r#"{{ directory {{ withNewFile(path: "key", contents: {}) {{ file(path: "key") {{ secret {{ id }} }} }} }} }}"#,
        lit(&plain)
    );
    let id = s.string_at(&q, &["directory", "withNewFile", "file", "secret", "id"]);
    let q = format!(
        r#"{{ {} {{ withMountedSecret(path: "/k", source: {}) {{ withExec(args: ["sh", "-c", "wc -c < /k"]) {{ stdout }} }} }} }} }}"#,
        ctr(),
        lit(&id)
    );
    let v = s.data(&q);
    assert_eq!(
        v["container"]["from"]["withMountedSecret"]["withExec"]["stdout"],
        format!("{}\n", plain.len())
    );
    let e = s.error(r#"{ secret(id: "secret.nope") { plaintext } }"#);
    let msg = common::message(&e);
    assert!(
        msg.contains("SecretID") && msg.contains("secret.nope"),
        "{msg}"
    );
    let e = s.error(r#"{ setSecret(name: "", plaintext: "x") { id } }"#);
    assert!(common::message(&e).contains("secret name"), "{e}");
}
