//! Registry credentials on real BuildKit: a registry on 127.0.0.1 that requires htpasswd basic auth
//! (Debian's docker-registry over storage of the test's own, seeded by the test) is pulled from with credentials from
//! `withRegistryAuth` and from the Docker configuration, and refused clearly without; a writable one
//! is published to the same way.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{Session, lit};

const USER: &str = "dirk";

struct Registry {
    child: Child,
    address: String,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a registry requiring `USER`/`password` over a fresh storage directory; with `seeded`, the
/// test copies busybox into it first (from the suite's registry, through the registry API), so that
/// what the test pulls is what it put there.
fn auth_registry(dir: &std::path::Path, password: &str, seeded: bool) -> Registry {
    let storage = dir.join("storage");
    std::fs::create_dir_all(&storage).unwrap_or_else(|e| panic!("{e}"));
    let hash = Command::new("python3")
        .args(["-c", "import crypt,sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH)))", password])
        .output()
        .unwrap_or_else(|e| panic!("hashing the password: {e}"));
    let hash = String::from_utf8_lossy(&hash.stdout).trim().to_owned();
    assert!(hash.starts_with("$2"), "bcrypt hash expected, got {hash:?}");
    std::fs::write(dir.join("htpasswd"), format!("{USER}:{hash}\n"))
        .unwrap_or_else(|e| panic!("{e}"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let address = format!("127.0.0.1:{port}");
    let config = format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {address}\nauth:\n  htpasswd:\n    realm: dirk-test\n    path: {}\n",
        storage.display(),
        dir.join("htpasswd").display()
    );
    std::fs::write(dir.join("registry.yml"), config).unwrap_or_else(|e| panic!("{e}"));
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(dir.join("registry.yml"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("starting docker-registry: {e}"));
    let registry = Registry { child, address };
    let start = Instant::now();
    while std::net::TcpStream::connect(&registry.address).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the registry did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    if seeded {
        let (source, _) = common::BUSYBOX
            .split_once('/')
            .unwrap_or_else(|| panic!("no registry in {}", common::BUSYBOX));
        common::copy_image(
            source,
            &registry.address,
            "busybox",
            "latest",
            Some(&format!("{USER}:{password}")),
        );
    }
    registry
}

fn pull(address: &str, auth: Option<&str>) -> String {
    let image = format!("{address}/busybox:latest");
    match auth {
        None => format!(
            r#"{{ container {{ from(address: {}) {{ withExec(args: ["echo", "pulled"]) {{ stdout }} }} }} }}"#,
            lit(&image)
        ),
        Some(secret) => format!(
            r#"{{ container {{ withRegistryAuth(address: {}, username: {}, secret: {}) {{ from(address: {}) {{ withExec(args: ["echo", "pulled"]) {{ stdout }} }} }} }} }}"#,
            lit(address),
            lit(USER),
            lit(secret),
            lit(&image)
        ),
    }
}

#[test]
fn pulls_need_credentials_and_get_them() -> common::TestResult {
    let dir = tempfile::tempdir()?;
    let password = format!("pw-{}", common::unique());
    let registry = auth_registry(dir.path(), &password, true);
    let empty_config = dir.path().join("no-docker-config");
    std::fs::create_dir_all(&empty_config)?;
    let s = Session::start_with(&[], &[("DOCKER_CONFIG", &empty_config.to_string_lossy())]);

    // Without credentials: a clear error naming the image and what to do.
    let e = s.error(&pull(&registry.address, None));
    let msg = common::message(&e);
    assert!(msg.contains(&registry.address), "{msg}");
    assert!(msg.contains("withRegistryAuth"), "{msg}");

    // A wrong password is refused too.
    let wrong = s.string_at(
        r#"{ setSecret(name: "wrong", plaintext: "nope") { id } }"#,
        &["setSecret", "id"],
    );
    assert!(s.query(&pull(&registry.address, Some(&wrong)))["errors"].is_array());

    // withRegistryAuth: the pull succeeds.
    let secret = s.string_at(
        &format!(
            r#"{{ setSecret(name: "registry", plaintext: {}) {{ id }} }}"#,
            lit(&password)
        ),
        &["setSecret", "id"],
    );
    let v = s.data(&pull(&registry.address, Some(&secret)));
    assert_eq!(
        v["container"]["withRegistryAuth"]["from"]["withExec"]["stdout"],
        "pulled\n"
    );
    drop(s);

    // The user's Docker configuration is the fallback.
    let config_dir = dir.path().join("docker-config");
    std::fs::create_dir_all(&config_dir)?;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{password}"));
    let config = serde_json::json!({ "auths": { registry.address.clone(): { "auth": auth } } });
    std::fs::write(config_dir.join("config.json"), config.to_string())?;
    let s = Session::start_with(&[], &[("DOCKER_CONFIG", &config_dir.to_string_lossy())]);
    let v = s.data(&pull(&registry.address, None));
    assert_eq!(v["container"]["from"]["withExec"]["stdout"], "pulled\n");
    Ok(())
}

#[test]
fn publishes_need_credentials_and_get_them() -> common::TestResult {
    let dir = tempfile::tempdir()?;
    let password = format!("pw-{}", common::unique());
    let registry = auth_registry(dir.path(), &password, false);
    let empty_config = dir.path().join("no-docker-config");
    std::fs::create_dir_all(&empty_config)?;
    let s = Session::start_with(&[], &[("DOCKER_CONFIG", &empty_config.to_string_lossy())]);
    let marker = common::unique();
    let target = format!("{}/pushed:v1", registry.address);
    let image = format!(
        r#"from(address: {}) {{ withNewFile(path: "/marker", contents: {}) {{ publish(address: {}) }} }}"#,
        lit(common::BUSYBOX),
        lit(&marker),
        lit(&target)
    );

    // Without credentials: refused, naming the registry and what to do.
    let e = s.error(&format!("{{ container {{ {image} }} }}"));
    let msg = common::message(&e);
    assert!(msg.contains(&registry.address), "{msg}");
    assert!(msg.contains("withRegistryAuth"), "{msg}");

    // With credentials: pushed, and pulled back (with the same credentials) by digest.
    let secret = s.string_at(
        &format!(
            r#"{{ setSecret(name: "registry", plaintext: {}) {{ id }} }}"#,
            lit(&password)
        ),
        &["setSecret", "id"],
    );
    let v = s.data(&format!(
        r#"{{ container {{ withRegistryAuth(address: {}, username: {}, secret: {}) {{ {image} }} }} }}"#,
        lit(&registry.address),
        lit(USER),
        lit(&secret)
    ));
    let published = v["container"]["withRegistryAuth"]["from"]["withNewFile"]["publish"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(published.starts_with(&format!("{target}@sha256:")), "{v}");
    let v = s.data(&format!(
        r#"{{ container {{ withRegistryAuth(address: {}, username: {}, secret: {}) {{ from(address: {}) {{ file(path: "/marker") {{ contents }} }} }} }} }}"#,
        lit(&registry.address),
        lit(USER),
        lit(&secret),
        lit(&published)
    ));
    assert_eq!(
        v["container"]["withRegistryAuth"]["from"]["file"]["contents"],
        marker.as_str()
    );
    // The password never shows in what the session answered.
    assert!(!v.to_string().contains(&password));
    Ok(())
}

#[test]
fn credential_helpers_named_in_the_docker_config_are_asked() -> common::TestResult {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir()?;
    let password = format!("pw-{}", common::unique());
    let registry = auth_registry(dir.path(), &password, true);
    // A credential helper, as `docker login` with a helper leaves them: a program on PATH that
    // reads the server address and answers JSON.
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin)?;
    let asked = dir.path().join("asked");
    let helper = bin.join("docker-credential-dirktest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 1\ncat > '{}'\nprintf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{password}\"}}' \"$(cat '{}')\"\n",
            asked.display(),
            asked.display()
        ),
    )?;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755))?;
    let config_dir = dir.path().join("docker-config");
    std::fs::create_dir_all(&config_dir)?;
    let config = serde_json::json!({ "credHelpers": { registry.address.clone(): "dirktest" } });
    std::fs::write(config_dir.join("config.json"), config.to_string())?;
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let s = Session::start_with(
        &[],
        &[
            ("DOCKER_CONFIG", &config_dir.to_string_lossy()),
            ("PATH", &path),
        ],
    );
    let v = s.data(&pull(&registry.address, None));
    assert_eq!(v["container"]["from"]["withExec"]["stdout"], "pulled\n");
    assert_eq!(
        std::fs::read_to_string(&asked).unwrap_or_default(),
        registry.address,
        "the helper is asked for the registry's address"
    );
    Ok(())
}
