//! Containers on real BuildKit, through `dirk session` over HTTP.

mod common;

use common::{BUSYBOX, STATIC, Session, lit, unique};
use serde_json::json;

fn from(image: &str) -> String {
    format!("container {{ from(address: {}) ", lit(image))
}

#[test]
fn exec_stdout_stderr_and_exit_code() {
    let s = Session::start();
    let d = s.data(&format!(
        r#"{{ {} {{ withExec(args: ["sh", "-c", "echo out; echo err >&2"]) {{ stdout stderr exitCode }} }} }} }}"#,
        from(BUSYBOX)
    ));
    let exec = &d["container"]["from"]["withExec"];
    assert_eq!(exec["stdout"], "out\n");
    assert_eq!(exec["stderr"], "err\n");
    assert_eq!(exec["exitCode"], 0);
}

#[test]
fn failing_exec_answers_exec_error_extensions() {
    let s = Session::start();
    let e = s.error(&format!(
        r#"{{ {} {{ withExec(args: ["sh", "-c", "echo partial; echo boom >&2; exit 3"]) {{ stdout }} }} }} }}"#,
        from(BUSYBOX)
    ));
    assert_eq!(
        e["extensions"],
        json!({"_type": "EXEC_ERROR", "cmd": ["sh", "-c", "echo partial; echo boom >&2; exit 3"], "exitCode": 3, "stdout": "partial\n", "stderr": "boom\n"})
    );
    assert!(common::message(&e).contains("exit code: 3"), "{e}");
    // sync reports the same failure; a missing command names the command.
    let e = s.error(&format!(
        r#"{{ {} {{ withExec(args: ["foobar"]) {{ sync }} }} }} }}"#,
        from(BUSYBOX)
    ));
    assert_eq!(e["extensions"]["_type"], "EXEC_ERROR");
    assert_eq!(e["extensions"]["exitCode"], 127);
    assert!(
        e["extensions"]["stderr"]
            .as_str()
            .unwrap_or_default()
            .contains("foobar"),
        "{e}"
    );
    // An exec after the failing one does not hide it.
    let e = s.error(&format!(r#"{{ {} {{ withExec(args: ["false"]) {{ withExec(args: ["echo", "after"]) {{ stdout }} }} }} }} }}"#, from(BUSYBOX)));
    assert_eq!(e["extensions"]["cmd"], json!(["false"]));
    assert_eq!(e["extensions"]["exitCode"], 1);
}

/// A query whose command prints `marker` and a value that differs on every run: the same output
/// twice means the second came from the cache.
fn random_output_query(marker: &str) -> String {
    format!(
        r#"{{ {} {{ withExec(args: ["sh", "-c", "echo {marker}; cat /proc/sys/kernel/random/uuid"]) {{ stdout }} }} }} }}"#,
        from(BUSYBOX)
    )
}

#[test]
fn cached_exec_returns_the_same_output_without_running_again() {
    let marker = unique();
    let q = random_output_query(&marker);
    let first = Session::start().data(&q)["container"]["from"]["withExec"]["stdout"].clone();
    let again = Session::start().data(&q)["container"]["from"]["withExec"]["stdout"].clone();
    assert!(
        first
            .as_str()
            .is_some_and(|s| s.starts_with(&marker) && s.lines().count() == 2),
        "{first}"
    );
    assert_eq!(
        first, again,
        "a random value changed: the exec ran again instead of coming from the cache"
    );
}

/// A session that stays open holds on the daemon every step it ran. Sessions that come and go
/// beside it must still get each other's cache hits for steps built on those held steps (BuildKit
/// hands a held step's later users no cache keys when the holder executed it, so dirk keeps each
/// session's graph to itself).
#[test]
fn a_session_left_open_does_not_cost_later_sessions_their_cache_hits() {
    let marker = unique();
    let file = format!(r#"directory {{ withNewFile(path: "m", contents: "{marker}") {{ id }} }}"#);
    let holder = Session::start();
    holder.data(&format!(
        r#"{{ directory {{ withNewFile(path: "m", contents: "{marker}") {{ entries }} }} }}"#
    ));
    let run = || {
        let s = Session::start();
        let id = s.string_at(
            &format!("{{ {file} }}"),
            &["directory", "withNewFile", "id"],
        );
        s.data(&format!(
            r#"{{ {} {{ withMountedDirectory(path: "/m", source: {}) {{ withExec(args: ["sh", "-c", "cat /m/m; echo; cat /proc/sys/kernel/random/uuid"]) {{ stdout }} }} }} }} }}"#,
            from(BUSYBOX),
            lit(&id)
        ))["container"]["from"]["withMountedDirectory"]["withExec"]["stdout"]
            .clone()
    };
    let first = run();
    let again = run();
    assert!(
        first.as_str().is_some_and(|s| s.starts_with(&marker)),
        "{first}"
    );
    assert_eq!(
        first, again,
        "the second session ran the command again instead of taking the first one's result from the cache"
    );
    drop(holder);
}

/// Sessions that start together transfer the exec shim at the same moment, each into the daemon
/// (and, for the ones with the same working directory, through the same shared key). A command
/// run while that happens must still be a cache hit for a later session: its cache key cannot
/// depend on which session's transfer the daemon used.
#[test]
#[ignore = "known to fail now and then on a freshly started BuildKit v0.8 (twice in four clean CI runs, never in 17 local runs): in round 0 a later session runs one session's own command again; run it with --ignored"]
fn cache_hits_survive_sessions_transferring_the_shim_at_once() {
    let marker = unique();
    let q = |tag: &str| {
        format!(
            r#"{{ {} {{ withExec(args: ["sh", "-c", "echo {marker}-{tag}; cat /proc/sys/kernel/random/uuid"]) {{ stdout }} }} }} }}"#,
            from(BUSYBOX)
        )
    };
    let stdout = |v: &serde_json::Value| v["container"]["from"]["withExec"]["stdout"].clone();
    for round in 0..3 {
        let dirs: Vec<tempfile::TempDir> =
            (0..2).filter_map(|_| tempfile::tempdir().ok()).collect();
        // Four sessions at once: two in this directory, two in directories of their own; each runs
        // the shared command and one of its own.
        let runs: Vec<_> = (0..4)
            .map(|i| {
                let (shared, own) = (q(&format!("shared{round}")), q(&format!("own{round}-{i}")));
                let workdir = if i < 2 {
                    None
                } else {
                    dirs.get(i - 2).map(|d| d.path().to_owned())
                };
                std::thread::spawn(move || {
                    let s = match &workdir {
                        Some(dir) => Session::start_in(dir),
                        None => Session::start(),
                    };
                    let own = s.data(&own);
                    (stdout(&s.data(&shared)), stdout(&own))
                })
            })
            .collect();
        let answers: Vec<_> = runs.into_iter().filter_map(|r| r.join().ok()).collect();
        assert_eq!(answers.len(), 4, "a session thread panicked");
        // Later sessions get the cached results of all of them (of the shared command, the run
        // that was stored last).
        let later = Session::start();
        let shared = stdout(&later.data(&q(&format!("shared{round}"))));
        assert!(
            answers.iter().any(|a| a.0 == shared),
            "round {round}: the shared command ran again: {shared} is none of {answers:?}"
        );
        for (i, answer) in answers.iter().enumerate() {
            assert_eq!(
                stdout(&later.data(&q(&format!("own{round}-{i}")))),
                answer.1,
                "round {round}: the command of session {i} ran again instead of coming from the cache"
            );
        }
    }
}

/// Daemons that reach the session's loopback (all of the suite's: local sockets) download the exec
/// shim from the session by its digest, so a new session finds its cached commands by key without
/// sending anything; with `DIRK_SHIM_SOURCE=session` the session sends the shim, and commands still
/// run and are cached across sessions.
#[test]
fn the_exec_shim_is_downloaded_by_digest_or_sent_by_the_session() {
    let marker = unique();
    let q = random_output_query(&marker);
    let stdout = |s: &Session| s.data(&q)["container"]["from"]["withExec"]["stdout"].clone();
    let logs = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    const SENT: &str = "file sync sent dir=dirk-shim";

    let first = stdout(&Session::start());
    assert!(
        first.as_str().is_some_and(|s| s.starts_with(&marker)),
        "{first}"
    );
    let second = Session::start_logged(&[], &[], &logs.path().join("second.log"));
    assert_eq!(
        stdout(&second),
        first,
        "a new session ran the command again"
    );
    assert!(
        !second.log().contains(SENT),
        "the session sent the shim although the daemon downloads it: {}",
        second.log()
    );

    let by_session = [("DIRK_SHIM_SOURCE", "session")];
    let third = Session::start_logged(&[], &by_session, &logs.path().join("third.log"));
    let sent = stdout(&third);
    assert!(
        sent.as_str().is_some_and(|s| s.starts_with(&marker)),
        "{sent}"
    );
    assert!(third.log().contains(SENT), "{}", third.log());
    assert_eq!(
        stdout(&Session::start_with(&[], &by_session)),
        sent,
        "a new session with the shim sent ran the command again"
    );
}

#[test]
fn exec_works_in_an_image_without_shell_or_libc() {
    let s = Session::start();
    let d = s.data(&format!(
        r#"{{ {} {{ withExec(args: ["/bin/busybox", "echo", "static"]) {{ stdout }} }} }} }}"#,
        from(STATIC)
    ));
    assert_eq!(d["container"]["from"]["withExec"]["stdout"], "static\n");
    let e = s.error(&format!(r#"{{ {} {{ withExec(args: ["/bin/busybox", "ls", "/lib", "/bin/sh"]) {{ exitCode }} }} }} }}"#, from(STATIC)));
    assert_eq!(
        e["extensions"]["exitCode"], 1,
        "the static image must have neither /lib nor /bin/sh: {e}"
    );
}

#[test]
fn environment_variables() {
    let s = Session::start();
    let d = s.data(&format!(
        r#"{{ {} {{ withEnvVariable(name: "FOO", value: "bar") {{
            withEnvVariable(name: "X", value: "$FOO-x", expand: true) {{
              envVariable(name: "X")
              withoutEnvVariable(name: "FOO") {{ envVariables {{ name value }} foo: envVariable(name: "FOO")
                withExec(args: ["sh", "-c", "echo -n $X:$FOO"]) {{ stdout }} }}
            }} }} }} }} }}"#,
        from(BUSYBOX)
    ));
    let c = &d["container"]["from"]["withEnvVariable"]["withEnvVariable"];
    assert_eq!(c["envVariable"], "bar-x");
    let w = &c["withoutEnvVariable"];
    assert_eq!(w["foo"], serde_json::Value::Null);
    assert_eq!(w["withExec"]["stdout"], "bar-x:");
    let vars = w["envVariables"].as_array().cloned().unwrap_or_default();
    assert_eq!(
        vars.first(),
        Some(&json!({"name": "PATH", "value": "/usr/sbin:/usr/bin:/sbin:/bin"}))
    );
    assert!(vars.contains(&json!({"name": "X", "value": "bar-x"})));
}

#[test]
fn workdir_user_entrypoint_and_default_args() {
    let s = Session::start();
    let d = s.data(&format!(
        r#"{{ {} {{
            withWorkdir(path: "/srv") {{ workdir withExec(args: ["pwd"]) {{ stdout }} }}
            withUser(name: "nobody") {{ user withExec(args: ["id", "-u"]) {{ stdout }} }}
            withEntrypoint(args: ["echo", "ep"]) {{ entrypoint
              withExec(args: ["arg"]) {{ stdout }}
              skip: withExec(args: ["echo", "plain"], skipEntrypoint: true) {{ stdout }}
              withDefaultArgs(args: ["dflt"]) {{ defaultArgs stdout }} }}
            defaultArgs
          }} }} }}"#,
        from(BUSYBOX)
    ));
    let c = &d["container"]["from"];
    assert_eq!(c["withWorkdir"]["workdir"], "/srv");
    assert_eq!(c["withWorkdir"]["withExec"]["stdout"], "/srv\n");
    assert_eq!(c["withUser"]["user"], "nobody");
    assert_eq!(c["withUser"]["withExec"]["stdout"], "65534\n");
    let ep = &c["withEntrypoint"];
    assert_eq!(ep["entrypoint"], json!(["echo", "ep"]));
    assert_eq!(ep["withExec"]["stdout"], "ep arg\n");
    assert_eq!(ep["skip"]["stdout"], "plain\n");
    assert_eq!(ep["withDefaultArgs"]["defaultArgs"], json!(["dflt"]));
    assert_eq!(
        ep["withDefaultArgs"]["stdout"], "ep dflt\n",
        "stdout with no exec runs entrypoint + default args"
    );
    assert_eq!(c["defaultArgs"], json!(["/bin/sh"]));
}

#[test]
fn files_directories_and_rootfs() {
    let s = Session::start();
    let d = s.data(&format!(
        r#"{{ {} {{ withNewFile(path: "/out/hello.txt", contents: "hi there", permissions: 384) {{
            file(path: "/out/hello.txt") {{ contents size }}
            directory(path: "/out") {{ entries }}
            rootfs {{ entries }}
            withExec(args: ["stat", "-c", "%a", "/out/hello.txt"]) {{ stdout }}
            platform
          }} }} }} }}"#,
        from(BUSYBOX)
    ));
    let c = &d["container"]["from"]["withNewFile"];
    assert_eq!(c["file"], json!({"contents": "hi there", "size": 8}));
    assert_eq!(c["directory"]["entries"], json!(["hello.txt"]));
    let root = c["rootfs"]["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        root.contains(&json!("bin")) && root.contains(&json!("out")),
        "{root:?}"
    );
    assert_eq!(c["withExec"]["stdout"], "600\n");
    assert_eq!(c["platform"], "linux/amd64");
    let e = s.error(&format!(
        r#"{{ {} {{ file(path: "/nope") {{ contents }} }} }} }}"#,
        from(BUSYBOX)
    ));
    assert!(
        common::message(&e).contains("no such file or directory"),
        "{e}"
    );
}

#[test]
fn mounted_directory_temp_and_cache() {
    let s = Session::start();
    let dir_id = s.string_at(
        r#"{ directory { withNewFile(path: "a.txt", contents: "a") { withNewFile(path: "b.txt", contents: "b") { id } } } }"#,
        &["directory", "withNewFile", "withNewFile", "id"],
    );
    let d = s.data(&format!(
        r#"{{ {} {{ withMountedDirectory(path: "/mnt", source: {}) {{
            mounts
            withExec(args: ["sh", "-c", "ls /mnt; echo new > /mnt/c.txt"]) {{ stdout directory(path: "/mnt") {{ entries }} }}
            withMountedTemp(path: "/scratch") {{ withExec(args: ["sh", "-c", "echo t > /scratch/t; cat /scratch/t; grep -c ' /scratch tmpfs' /proc/mounts"]) {{ stdout rootfs {{ entries }} }} mounts }}
            withoutMount(path: "/mnt") {{ mounts }}
          }} }} }} }}"#,
        from(BUSYBOX),
        lit(&dir_id)
    ));
    let c = &d["container"]["from"]["withMountedDirectory"];
    assert_eq!(c["mounts"], json!(["/mnt"]));
    assert_eq!(c["withExec"]["stdout"], "a.txt\nb.txt\n");
    assert_eq!(
        c["withExec"]["directory"]["entries"],
        json!(["a.txt", "b.txt", "c.txt"]),
        "writes to a mounted directory are kept"
    );
    assert_eq!(c["withMountedTemp"]["withExec"]["stdout"], "t\n1\n");
    assert_eq!(c["withMountedTemp"]["mounts"], json!(["/mnt", "/scratch"]));
    assert_eq!(c["withoutMount"]["mounts"], json!([]));

    // A cache volume accumulates across execs (and the key is unique to this run).
    let key = format!("cache-{}", unique());
    let cache = s.string_at(
        &format!(r#"{{ cacheVolume(key: {}) {{ id }} }}"#, lit(&key)),
        &["cacheVolume", "id"],
    );
    let mut outputs = Vec::new();
    for i in 0..3 {
        let d = s.data(&format!(
            r#"{{ {} {{ withMountedCache(path: "/cache", cache: {}, sharing: LOCKED) {{ withExec(args: ["sh", "-c", "echo {i} >> /cache/lines; cat /cache/lines"]) {{ stdout }} }} }} }} }}"#,
            from(BUSYBOX),
            lit(&cache)
        ));
        outputs.push(
            d["container"]["from"]["withMountedCache"]["withExec"]["stdout"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    assert_eq!(
        outputs,
        ["0\n", "0\n1\n", "0\n1\n2\n"],
        "each exec sees what the ones before it wrote to the cache volume"
    );
    // The same command on another volume runs again, on that volume (daemons from BuildKit v0.13
    // on leave the cache mount's id out of an exec's cache key; dirk puts it back): a command no
    // run has seen before then finds what it wrote.
    let other = s.string_at(
        &format!(
            r#"{{ cacheVolume(key: {}) {{ id }} }}"#,
            lit(&format!("{key}-other"))
        ),
        &["cacheVolume", "id"],
    );
    let on_other = |command: &str| {
        let d = s.data(&format!(
            r#"{{ {} {{ withMountedCache(path: "/cache", cache: {}, sharing: LOCKED) {{ withExec(args: ["sh", "-c", {}]) {{ stdout }} }} }} }} }}"#,
            from(BUSYBOX),
            lit(&other),
            lit(command)
        ));
        d["container"]["from"]["withMountedCache"]["withExec"]["stdout"].clone()
    };
    assert_eq!(on_other("echo 0 >> /cache/lines; cat /cache/lines"), "0\n");
    assert_eq!(
        on_other(&format!("echo {key} > /dev/null; cat /cache/lines")),
        "0\n",
        "the first command wrote to the second volume"
    );
}

#[test]
fn ids_round_trip_and_bad_ids_are_clear_errors() {
    let s = Session::start();
    let q = format!(
        r#"{{ {} {{ withEnvVariable(name: "A", value: "1") {{ id }} }} }} }}"#,
        from(BUSYBOX)
    );
    let id = s.string_at(&q, &["container", "from", "withEnvVariable", "id"]);
    assert_eq!(
        s.data(&q)["container"]["from"]["withEnvVariable"]["id"],
        id.as_str(),
        "the same object has the same ID"
    );
    assert!(id.len() < 64, "IDs are compact: {id}");
    let d = s.data(&format!(r#"{{ container(id: {}) {{ envVariable(name: "A") withExec(args: ["sh", "-c", "echo $A"]) {{ stdout }} }} }}"#, lit(&id)));
    assert_eq!(d["container"]["withExec"]["stdout"], "1\n");

    let forged = format!("ctr.{}", "B".repeat(43));
    let e = s.error(&format!(
        r#"{{ container(id: {}) {{ id }} }}"#,
        lit(&forged)
    ));
    assert!(
        common::message(&e).contains("this session did not issue it"),
        "{e}"
    );
    let e = s.error(r#"{ container(id: "not-an-id") { id } }"#);
    assert!(
        common::message(&e).contains("not an ID issued by dirk"),
        "{e}"
    );
    let dir = s.string_at(r#"{ directory { id } }"#, &["directory", "id"]);
    let e = s.error(&format!(r#"{{ container(id: {}) {{ id }} }}"#, lit(&dir)));
    assert!(
        common::message(&e).contains("it is a DirectoryID, not a ContainerID"),
        "{e}"
    );
    // IDs from another session are refused.
    let other = Session::start();
    let e = other.error(&format!(r#"{{ container(id: {}) {{ id }} }}"#, lit(&id)));
    assert!(
        common::message(&e).contains("this session did not issue it"),
        "{e}"
    );
}

#[test]
fn deep_chains_and_aliases() {
    // 200 stacked execs: deeper than GraphQL parsers allow by default and deeper than Docker's
    // layer store mounts, so the session must both parse the chain and flatten its layers
    // (keeping ownership and modes).
    let s = Session::start();
    let depth = 200;
    let mut q = format!("{{ container {{ from(address: {}) {{ ", lit(BUSYBOX));
    for i in 0..depth {
        let setup = if i == 0 {
            "; chown 1234:5678 /n; chmod 640 /n"
        } else {
            ""
        };
        q.push_str(&format!(
            "withExec(args: [\"sh\", \"-c\", \"echo {i} > /n{setup}\"]) {{ "
        ));
    }
    q.push_str("first: file(path: \"/n\") { contents } second: withExec(args: [\"sh\", \"-c\", \"cat /n; stat -c '%u:%g %a' /n\"]) { stdout }");
    q.push_str(&" }".repeat(depth + 3));
    let v = s.data(&q);
    let mut node = &v["container"]["from"];
    for _ in 0..depth {
        node = &node["withExec"];
    }
    assert_eq!(node["first"]["contents"], format!("{}\n", depth - 1));
    assert_eq!(
        node["second"]["stdout"],
        format!("{}\n1234:5678 640\n", depth - 1)
    );
}

#[test]
fn concurrent_identical_pipelines_run_once() {
    let key = format!("once-{}", unique());
    let s = Session::start();
    let cache = s.string_at(
        &format!(r#"{{ cacheVolume(key: {}) {{ id }} }}"#, lit(&key)),
        &["cacheVolume", "id"],
    );
    let q = format!(
        r#"{{ {} {{ withMountedCache(path: "/c", cache: {}) {{ withExec(args: ["sh", "-c", "echo run >> /c/log; sleep 1; wc -l < /c/log"]) {{ stdout }} }} }} }} }}"#,
        from(BUSYBOX),
        lit(&cache)
    );
    let outputs: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                scope.spawn(|| {
                    s.data(&q)["container"]["from"]["withMountedCache"]["withExec"]["stdout"]
                        .as_str()
                        .unwrap_or_default()
                        .trim()
                        .to_owned()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    assert!(
        outputs.iter().all(|o| o == "1"),
        "every client sees the one run: {outputs:?}"
    );
}

#[test]
fn labels_and_image_ref() {
    let s = Session::start();
    let d = s.data(&format!(
        r#"{{ {} {{ imageRef withLabel(name: "a", value: "1") {{ withLabel(name: "b", value: "2") {{ labels {{ name value }} label(name: "a") withoutLabel(name: "a") {{ labels {{ name }} }} }} }} }} }} }}"#,
        from(BUSYBOX)
    ));
    let c = &d["container"]["from"];
    assert!(
        c["imageRef"]
            .as_str()
            .is_some_and(|r| r.starts_with(BUSYBOX)),
        "{c}"
    );
    let l = &c["withLabel"]["withLabel"];
    assert_eq!(
        l["labels"],
        json!([{"name": "a", "value": "1"}, {"name": "b", "value": "2"}])
    );
    assert_eq!(l["label"], "1");
    assert_eq!(l["withoutLabel"]["labels"], json!([{"name": "b"}]));
}

#[test]
fn with_directory_mounted_file_and_deprecated_spellings() {
    let s = Session::start();
    let dir = s.string_at(
        r#"{ directory { withNewFile(path: "sub/a.txt", contents: "A") { withNewFile(path: "b.txt", contents: "B") { id } } } }"#,
        &["directory", "withNewFile", "withNewFile", "id"],
    );
    let file = s.string_at(
        r#"{ directory { withNewFile(path: "conf.ini", contents: "k=v") { file(path: "conf.ini") { id } } } }"#,
        &["directory", "withNewFile", "file", "id"],
    );
    let q = format!(
        r#"{{ {} {{ withDirectory(path: "/app", directory: {}, owner: "1234:5678") {{ withMountedFile(path: "/etc/app.ini", source: {}) {{ withFocus {{ exec(args: ["sh", "-c", "ls -R /app | tr '\n' ' '; stat -c '%u:%g' /app/b.txt; cat /etc/app.ini"]) {{ stdout fs {{ file(path: "/app/sub/a.txt") {{ contents }} }} }} }} }} }} }} }} }}"#,
        from(BUSYBOX),
        lit(&dir),
        lit(&file)
    );
    let v = s.data(&q);
    let exec = &v["container"]["from"]["withDirectory"]["withMountedFile"]["withFocus"]["exec"];
    assert_eq!(
        exec["stdout"],
        "/app: b.txt sub  /app/sub: a.txt 1234:5678\nk=v"
    );
    assert_eq!(exec["fs"]["file"]["contents"], "A");
    let q = format!(
        r#"{{ container {{ withFS(id: {}) {{ withoutFocus {{ rootfs {{ entries }} }} }} }} }}"#,
        lit(&dir)
    );
    assert_eq!(
        s.data(&q)["container"]["withFS"]["withoutFocus"]["rootfs"]["entries"],
        json!(["b.txt", "sub"])
    );
}

#[test]
fn insecure_root_capabilities_without_the_entitlement_is_a_clear_error() {
    let s = Session::start();
    let e = s.error(&format!(
        r#"{{ {} {{ withExec(args: ["true"], insecureRootCapabilities: true) {{ stdout }} }} }} }}"#,
        from(BUSYBOX)
    ));
    let m = common::message(&e);
    assert!(m.contains("security.insecure"), "{m}");
    assert!(m.contains("insecureRootCapabilities"), "{m}");
}
