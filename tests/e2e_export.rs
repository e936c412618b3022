//! Exports to the host on real BuildKit: received by the session's file-send service, installed
//! only once complete.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{BUSYBOX, Session, lit, unique};

#[test]
fn directory_export_writes_a_tree_and_merges() -> common::TestResult {
    let work = tempfile::tempdir()?;
    std::fs::create_dir_all(work.path().join("out/old"))?;
    std::fs::write(work.path().join("out/keep.txt"), "kept")?;
    std::fs::write(work.path().join("out/a.txt"), "stale")?;
    let s = Session::start_in(work.path());
    let marker = unique();
    let q = format!(
        r#"{{ container {{ from(address: {}) {{ withExec(args: ["sh", "-c", {}]) {{ directory(path: "/build") {{ export(path: "out") }} }} }} }} }}"#,
        lit(BUSYBOX),
        lit(&format!(
            "mkdir -p /build/bin /build/empty && echo {marker} > /build/a.txt && printf '#!/bin/sh\\n' > /build/bin/tool && chmod 751 /build/bin/tool && ln -s a.txt /build/link && dd if=/dev/zero of=/build/big bs=1024 count=3000 2>/dev/null"
        ))
    );
    let v = s.data(&q);
    assert_eq!(
        v["container"]["from"]["withExec"]["directory"]["export"],
        true
    );
    let out = work.path().join("out");
    assert_eq!(
        std::fs::read_to_string(out.join("a.txt")).unwrap_or_default(),
        format!("{marker}\n")
    );
    assert_eq!(
        std::fs::read_to_string(out.join("keep.txt")).unwrap_or_default(),
        "kept"
    );
    let mode = std::fs::metadata(out.join("bin/tool"))
        .map(|m| m.permissions().mode() & 0o777)
        .unwrap_or(0);
    assert_eq!(mode, 0o751);
    assert_eq!(
        std::fs::read_link(out.join("link")).ok(),
        Some("a.txt".into())
    );
    assert!(out.join("empty").is_dir());
    assert!(out.join("old").is_dir());
    assert_eq!(
        std::fs::metadata(out.join("big"))
            .map(|m| m.len())
            .unwrap_or(0),
        3000 * 1024
    );
    // Nothing is left beside the destination.
    let names: Vec<String> = std::fs::read_dir(work.path())
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(names, vec!["out".to_owned()]);
    Ok(())
}

#[test]
fn file_export_and_its_rules() -> common::TestResult {
    let work = tempfile::tempdir()?;
    std::fs::create_dir_all(work.path().join("dist"))?;
    let s = Session::start_in(work.path());
    let body = format!("artifact {}\n", unique());
    let file = s.string_at(
        &format!(r#"{{ directory {{ withNewFile(path: "app.bin", contents: {}, permissions: 493) {{ file(path: "app.bin") {{ id }} }} }} }}"#, lit(&body)),
        &["directory", "withNewFile", "file", "id"],
    );
    let v = s.data(&format!(
        r#"{{ file(id: {}) {{ export(path: "release/app") }} }}"#,
        lit(&file)
    ));
    assert_eq!(v["file"]["export"], true);
    let exported = work.path().join("release/app");
    assert_eq!(std::fs::read_to_string(&exported).unwrap_or_default(), body);
    assert_eq!(
        std::fs::metadata(&exported)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0),
        0o755
    );

    let e = s.error(&format!(
        r#"{{ file(id: {}) {{ export(path: "dist") }} }}"#,
        lit(&file)
    ));
    assert!(common::message(&e).contains("allowParentDirPath"), "{e}");
    let v = s.data(&format!(
        r#"{{ file(id: {}) {{ export(path: "dist", allowParentDirPath: true) }} }}"#,
        lit(&file)
    ));
    assert_eq!(v["file"]["export"], true);
    assert_eq!(
        std::fs::read_to_string(work.path().join("dist/app.bin")).unwrap_or_default(),
        body
    );

    let e = s.error(&format!(
        r#"{{ file(id: {}) {{ export(path: "../escape") }} }}"#,
        lit(&file)
    ));
    assert!(
        common::message(&e).contains("may not leave the working directory"),
        "{e}"
    );
    Ok(())
}

#[test]
fn a_failing_pipeline_exports_nothing() -> common::TestResult {
    let work = tempfile::tempdir()?;
    let s = Session::start_in(work.path());
    let q = format!(
        r#"{{ container {{ from(address: {}) {{ withExec(args: ["sh", "-c", "mkdir -p /o && echo x > /o/f && exit 4"]) {{ directory(path: "/o") {{ export(path: "out") }} }} }} }} }}"#,
        lit(BUSYBOX)
    );
    let e = s.error(&q);
    assert_eq!(e["extensions"]["exitCode"], 4, "{e}");
    let count = std::fs::read_dir(work.path())
        .map(|d| d.count())
        .unwrap_or(99);
    assert_eq!(count, 0, "a failed export must leave nothing behind");
    Ok(())
}

#[test]
fn container_export_is_an_image_docker_loads() -> common::TestResult {
    let work = tempfile::tempdir()?;
    let s = Session::start_in(work.path());
    let marker = unique();
    let q = format!(
        r#"{{ container {{ from(address: {}) {{ withEnvVariable(name: "MARKER", value: {}) {{ withExec(args: ["sh", "-c", "echo built > /built; chown 1234:5678 /built"]) {{ export(path: "image.tar") }} }} }} }} }}"#,
        lit(BUSYBOX),
        lit(&marker)
    );
    assert_eq!(
        s.data(&q)["container"]["from"]["withEnvVariable"]["withExec"]["export"],
        true
    );
    let archive = work.path().join("image.tar");
    let load = std::process::Command::new("docker")
        .args(["load", "-q", "-i"])
        .arg(&archive)
        .output()
        .unwrap_or_else(|e| panic!("docker load: {e}"));
    let loaded = String::from_utf8_lossy(&load.stdout).into_owned();
    assert!(
        load.status.success(),
        "docker load: {}",
        String::from_utf8_lossy(&load.stderr)
    );
    let image = loaded
        .trim()
        .rsplit(' ')
        .next()
        .unwrap_or_default()
        .to_owned();
    assert!(image.starts_with("sha256:"), "{loaded}");
    let run = std::process::Command::new("docker")
        .args([
            "run",
            "--rm",
            &image,
            "sh",
            "-c",
            "cat /built; stat -c %u:%g /built; echo $MARKER",
        ])
        .output()
        .unwrap_or_else(|e| panic!("docker run: {e}"));
    let _ = std::process::Command::new("docker")
        .args(["rmi", "-f", &image])
        .output();
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        format!("built\n1234:5678\n{marker}\n"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let e = s.error(&format!(
        r#"{{ container {{ from(address: {}) {{ export(path: "x.tar", forcedCompression: EStarGZ) }} }} }}"#,
        lit(BUSYBOX)
    ));
    assert!(common::message(&e).contains("forcedCompression"), "{e}");
    Ok(())
}

/// A registry blob or manifest from the test registry.
fn registry_get(path: &str, accept: &str) -> Vec<u8> {
    let response = ureq::get(&format!("http://127.0.0.1:5000{path}"))
        .set("Accept", accept)
        .call()
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut body)
        .unwrap_or_else(|e| panic!("reading {path}: {e}"));
    body
}

/// The digest `publish` answered (`address@digest`) and the OCI manifest the test registry holds
/// under it in `repo`.
fn published_manifest(repo: &str, published: &str) -> (String, serde_json::Value) {
    let digest = published
        .rsplit_once('@')
        .map(|(_, d)| d.to_owned())
        .unwrap_or_default();
    let manifest = serde_json::from_slice(&registry_get(
        &format!("/v2/{repo}/manifests/{digest}"),
        "application/vnd.oci.image.manifest.v1+json",
    ))
    .unwrap_or_default();
    (digest, manifest)
}

#[test]
fn zstd_layers_are_published_as_zstd_and_hold_the_filesystem() -> common::TestResult {
    let s = Session::start();
    let marker = unique();
    let repo = format!("dirk-test/zstd-{}", marker.replace(['-', '_'], ""));
    let v = s.data(&format!(
        r#"{{ container {{ from(address: {}) {{ withNewFile(path: "/zstd-marker", contents: {}) {{ publish(address: {}, forcedCompression: Zstd) }} }} }} }}"#,
        lit(BUSYBOX),
        lit(&marker),
        lit(&format!("127.0.0.1:5000/{repo}:v1"))
    ));
    let published = v["container"]["from"]["withNewFile"]["publish"]
        .as_str()
        .unwrap_or_default();
    let (_, manifest) = published_manifest(&repo, published);
    // The base image's layers stay as they are; the layer of what the pipeline added is zstd.
    let layers = manifest["layers"].as_array().cloned().unwrap_or_default();
    assert!(layers.len() >= 2, "{manifest}");
    let layer = &layers[layers.len() - 1];
    assert_eq!(
        layer["mediaType"], "application/vnd.oci.image.layer.v1.tar+zstd",
        "{manifest}"
    );
    assert_eq!(
        layers[0]["mediaType"], "application/vnd.oci.image.layer.v1.tar+gzip",
        "{manifest}"
    );
    // The blob is a zstd stream of a tar that holds the file.
    let blob = registry_get(
        &format!(
            "/v2/{repo}/blobs/{}",
            layer["digest"].as_str().unwrap_or_default()
        ),
        "*/*",
    );
    let decoder = ruzstd::decoding::StreamingDecoder::new(&blob[..])?;
    let mut archive = tar::Archive::new(decoder);
    let mut found = None;
    for entry in archive.entries()? {
        let mut entry = entry?;
        if entry
            .path()
            .map(|p| p.ends_with("zstd-marker"))
            .unwrap_or(false)
        {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut entry, &mut text);
            found = Some(text);
        }
    }
    assert_eq!(found.as_deref(), Some(marker.as_str()));
    // Docker's media types have no zstd layer: a clear error, before anything is pushed.
    let e = s.error(&format!(
        r#"{{ container {{ from(address: {}) {{ publish(address: "127.0.0.1:5000/x:y", forcedCompression: Zstd, mediaTypes: DockerMediaTypes) }} }} }}"#,
        lit(BUSYBOX)
    ));
    assert!(common::message(&e).contains("OCIMediaTypes"), "{e}");
    Ok(())
}

/// `publish` on each suite daemon: one whose BuildKit has an image exporter that pushes (Docker 28
/// with the containerd image store) writes and pushes the image itself, the others leave it to the
/// session. Either way the base image's layers and history come first, as they are, the command's
/// changes follow, and the image runs with the container's config.
#[test]
fn publish_is_left_to_the_daemon_where_it_can_push() -> common::TestResult {
    let base: serde_json::Value = serde_json::from_slice(&registry_get(
        "/v2/busybox/manifests/latest",
        "application/vnd.docker.distribution.manifest.v2+json",
    ))?;
    let base_layers: Vec<serde_json::Value> = base["layers"]
        .as_array()
        .map(|l| l.iter().map(|x| x["digest"].clone()).collect())
        .unwrap_or_default();
    for (daemon, host) in common::suite_daemons() {
        let env = common::daemon_env(&host);
        let daemon_pushes = common::daemon_supports(daemon, &host, "mergeop");
        let s = Session::start_with(&[], &env);
        let marker = unique();
        let repo = format!("dirk-test/by-daemon-{}", marker.replace(['-', '_'], ""));
        let v = s.data(&format!(
            r#"{{ container {{ from(address: {}) {{ withEnvVariable(name: "MARK", value: {m}) {{ withExec(args: ["sh", "-c", "echo $MARK > /marker && rm /bin/vi"]) {{
                 publish(address: {}) }} }} }} }} }}"#,
            lit(BUSYBOX),
            lit(&format!("127.0.0.1:5000/{repo}:v1")),
            m = lit(&marker),
        ));
        let published = v["container"]["from"]["withEnvVariable"]["withExec"]["publish"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let (digest, manifest) = published_manifest(&repo, &published);
        let layers: Vec<serde_json::Value> = manifest["layers"]
            .as_array()
            .map(|l| l.iter().map(|x| x["digest"].clone()).collect())
            .unwrap_or_default();
        assert_eq!(
            layers[..base_layers.len()],
            base_layers[..],
            "{daemon}: {manifest}"
        );
        assert_eq!(layers.len(), base_layers.len() + 1, "{daemon}: {manifest}");
        let config: serde_json::Value = serde_json::from_slice(&registry_get(
            &format!(
                "/v2/{repo}/blobs/{}",
                manifest["config"]["digest"].as_str().unwrap_or_default()
            ),
            "*/*",
        ))?;
        let history = config["history"].as_array().cloned().unwrap_or_default();
        // The session names its layer for what it holds; the daemon writes one per step, which
        // dirk names as progress does.
        let last = history
            .last()
            .and_then(|h| h["created_by"].as_str())
            .unwrap_or_default();
        let expected = if daemon_pushes {
            "dirk: exec sh -c echo $MARK"
        } else {
            "dirk: changes since"
        };
        assert!(last.starts_with(expected), "{daemon}: {config}");
        assert!(
            config["config"]["Env"]
                .to_string()
                .contains(&format!("MARK={marker}")),
            "{daemon}: {config}"
        );
        let c = s.data(&format!(
            r#"{{ container {{ from(address: {}) {{ withExec(args: ["sh", "-c", "cat /marker; test -e /bin/vi || echo no-vi"]) {{ stdout }} }} }} }}"#,
            lit(&format!("127.0.0.1:5000/{repo}@{digest}"))
        ));
        assert_eq!(
            c["container"]["from"]["withExec"]["stdout"],
            format!("{marker}\nno-vi\n"),
            "{daemon}"
        );
    }
    Ok(())
}
