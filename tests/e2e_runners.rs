//! Runner schemes that reach BuildKit through a helper command, and `dirk dial-stdio`. There is no
//! Kubernetes cluster here: a `kubectl` stand-in on PATH runs `dirk dial-stdio`, which relays to the
//! real daemon (this is the only stand-in in the suite).

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{BUSYBOX, Session, lit};

#[test]
fn kube_pod_through_kubectl_exec_and_dirk_dial_stdio() -> common::TestResult {
    common::require_daemon();
    let dir = tempfile::tempdir()?;
    let argv_file = dir.path().join("kubectl-argv");
    let stand_in = dir.path().join("kubectl");
    std::fs::write(
        &stand_in,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\nexec env -u BUILDKIT_HOST '{}' dial-stdio\n",
            argv_file.display(),
            env!("CARGO_BIN_EXE_dirk")
        ),
    )?;
    std::fs::set_permissions(&stand_in, std::fs::Permissions::from_mode(0o755))?;
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
    Ok(())
}

#[test]
fn dial_stdio_reports_an_unreachable_daemon() -> common::TestResult {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dirk"))
        .args(["dial-stdio", "unix:///nonexistent/buildkitd.sock"])
        .stdin(std::process::Stdio::null())
        .output()?;
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unix:///nonexistent/buildkitd.sock"),
        "{stderr}"
    );
    Ok(())
}

/// What the relays below forward to: a `dirk dial-stdio` per connection, which reaches the test
/// daemon the way dirk itself would (the Docker socket, or `DOCKER_HOST`).
mod relay {
    use std::sync::Arc;

    use tokio::io::{AsyncRead, AsyncWrite};
    use tokio::process::Command;

    async fn pipe<S: AsyncRead + AsyncWrite + Unpin>(mut conn: S) {
        let Ok(mut child) = Command::new(env!("CARGO_BIN_EXE_dirk"))
            .arg("dial-stdio")
            .env_remove("BUILDKIT_HOST")
            .env_remove("_EXPERIMENTAL_DAGGER_RUNNER_HOST")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
        else {
            return;
        };
        let (Some(out), Some(inp)) = (child.stdout.take(), child.stdin.take()) else {
            return;
        };
        let mut helper = tokio::io::join(out, inp);
        let _ = tokio::io::copy_bidirectional(&mut conn, &mut helper).await;
    }

    /// Serves on a unix socket at `path`, in a background thread, for the life of the test.
    pub fn unix(path: std::path::PathBuf) {
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
            rt.block_on(async move {
                let listener =
                    tokio::net::UnixListener::bind(&path).unwrap_or_else(|e| panic!("{e}"));
                while let Ok((conn, _)) = listener.accept().await {
                    tokio::spawn(pipe(conn));
                }
            });
        });
    }

    /// Accepts connections on 127.0.0.1 in a background thread, handing each (as a TLS stream when
    /// `tls` is given) to `serve`; returns the port.
    fn serve_tcp<F, Fut>(tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>, serve: F) -> u16
    where
        F: Fn(Box<dyn Conn>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let std_listener =
            std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let port = std_listener
            .local_addr()
            .map(|a| a.port())
            .unwrap_or_default();
        let serve = Arc::new(serve);
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
            rt.block_on(async move {
                let _ = std_listener.set_nonblocking(true);
                let listener = tokio::net::TcpListener::from_std(std_listener)
                    .unwrap_or_else(|e| panic!("{e}"));
                while let Ok((conn, _)) = listener.accept().await {
                    let (tls, serve) = (tls.clone(), serve.clone());
                    tokio::spawn(async move {
                        match tls {
                            None => serve(Box::new(conn)).await,
                            Some(config) => {
                                let acceptor = tokio_rustls::TlsAcceptor::from(config);
                                if let Ok(stream) = acceptor.accept(conn).await {
                                    serve(Box::new(stream)).await;
                                }
                            }
                        }
                    });
                }
            });
        });
        port
    }

    /// A connection the relays serve.
    pub trait Conn: AsyncRead + AsyncWrite + Unpin + Send {}
    impl<T: AsyncRead + AsyncWrite + Unpin + Send> Conn for T {}

    /// Serves TLS on 127.0.0.1, relaying the bytes of each connection to the unix socket `target`
    /// (a Docker API behind TLS, as `dockerd --tlsverify` serves it); returns the port.
    pub fn tls_to_unix(
        tls: Arc<tokio_rustls::rustls::ServerConfig>,
        target: std::path::PathBuf,
    ) -> u16 {
        serve_tcp(Some(tls), move |mut conn| {
            let target = target.clone();
            async move {
                if let Ok(mut docker) = tokio::net::UnixStream::connect(&target).await {
                    let _ = tokio::io::copy_bidirectional(&mut conn, &mut docker).await;
                }
            }
        })
    }

    /// Serves on 127.0.0.1 (with TLS when `tls` is given) through `dirk dial-stdio`; returns the
    /// port.
    pub fn tcp(tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>) -> u16 {
        serve_tcp(tls, pipe)
    }
}

fn echo_through(runner: &str) {
    let s = Session::start_with(&[], &[("BUILDKIT_HOST", runner)]);
    let marker = common::unique();
    let v = s.data(&format!(
        r#"{{ container {{ from(address: {}) {{ withExec(args: ["echo", {}]) {{ stdout }} }} }} }}"#,
        lit(BUSYBOX),
        lit(&marker)
    ));
    assert_eq!(
        v["container"]["from"]["withExec"]["stdout"],
        format!("{marker}\n"),
        "through {runner}"
    );
}

#[test]
fn unix_and_plain_tcp_runners_reach_a_real_buildkit() -> common::TestResult {
    common::require_daemon();
    let dir = tempfile::tempdir()?;
    let sock = dir.path().join("buildkitd.sock");
    relay::unix(sock.clone());
    let start = std::time::Instant::now();
    while !sock.exists() && start.elapsed() < std::time::Duration::from_secs(5) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    echo_through(&format!("unix://{}", sock.display()));
    let port = relay::tcp(None);
    echo_through(&format!("tcp://127.0.0.1:{port}"));
    Ok(())
}

struct Pki {
    dir: tempfile::TempDir,
    server: std::sync::Arc<tokio_rustls::rustls::ServerConfig>,
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, written as PEM files
/// (`ca.pem`, `client.pem`, `client-key.pem`, and `other-ca.pem` from an unrelated CA), and a server
/// config that requires a client certificate from the CA.
fn pki(alpn: &[u8]) -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use tokio_rustls::rustls;
    let fail = |e: &dyn std::fmt::Display| -> ! { panic!("making test certificates: {e}") };
    let ca = |name: &str| {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| fail(&e));
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = KeyPair::generate().unwrap_or_else(|e| fail(&e));
        let cert = params.self_signed(&key).unwrap_or_else(|e| fail(&e));
        (cert, Issuer::new(params, key))
    };
    let (ca_cert, issuer) = ca("dirk test CA");
    let (other_ca, _) = ca("unrelated CA");
    let leaf = |names: Vec<String>| {
        let params = CertificateParams::new(names).unwrap_or_else(|e| fail(&e));
        let key = KeyPair::generate().unwrap_or_else(|e| fail(&e));
        let cert = params.signed_by(&key, &issuer).unwrap_or_else(|e| fail(&e));
        (cert, key)
    };
    let (server_cert, server_key) = leaf(vec!["127.0.0.1".into(), "localhost".into()]);
    let (client_cert, client_key) = leaf(vec!["dirk-client".into()]);
    let dir = tempfile::tempdir().unwrap_or_else(|e| fail(&e));
    for (name, pem) in [
        ("ca.pem", ca_cert.pem()),
        ("other-ca.pem", other_ca.pem()),
        ("client.pem", client_cert.pem()),
        ("client-key.pem", client_key.serialize_pem()),
    ] {
        std::fs::write(dir.path().join(name), pem).unwrap_or_else(|e| fail(&e));
    }
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(ca_cert.der().clone())
        .unwrap_or_else(|e| fail(&e));
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        std::sync::Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap_or_else(|e| fail(&e));
    let key_der = rustls::pki_types::PrivateKeyDer::try_from(server_key.serialize_der())
        .unwrap_or_else(|e| fail(&e));
    let mut server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|e| fail(&e))
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![server_cert.der().clone()], key_der)
        .unwrap_or_else(|e| fail(&e));
    server.alpn_protocols = vec![alpn.to_vec()];
    Pki {
        dir,
        server: std::sync::Arc::new(server),
    }
}

#[test]
fn mutual_tls_runner_reaches_a_real_buildkit_and_wrong_certificates_are_clear_errors() {
    common::require_daemon();
    let pki = pki(b"h2");
    let port = relay::tcp(Some(pki.server.clone()));
    let file = |name: &str| pki.dir.path().join(name).display().to_string();
    // Certificates as URL parameters, the way buildctl's --tlscacert etc. map onto BUILDKIT_HOST.
    echo_through(&format!(
        "tcp://127.0.0.1:{port}?cacert={}&cert={}&key={}",
        file("ca.pem"),
        file("client.pem"),
        file("client-key.pem")
    ));

    let engine = |host: String, env: &[(&str, String)]| {
        let mut all: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        all.push(("BUILDKIT_HOST", &host));
        common::run_dirk(&["engine"], &all)
    };
    // The same through BUILDKIT_CACERT / BUILDKIT_CERT / BUILDKIT_KEY.
    let (code, stdout, stderr) = engine(
        format!("tcp://127.0.0.1:{port}"),
        &[
            ("BUILDKIT_CACERT", file("ca.pem")),
            ("BUILDKIT_CERT", file("client.pem")),
            ("BUILDKIT_KEY", file("client-key.pem")),
        ],
    );
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("(TLS)"), "{stdout}");

    // A daemon certificate from a CA we do not trust.
    let (code, _, stderr) = engine(
        format!(
            "tcp://127.0.0.1:{port}?cacert={}&cert={}&key={}",
            file("other-ca.pem"),
            file("client.pem"),
            file("client-key.pem")
        ),
        &[],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(stderr.contains("TLS handshake failed"), "{stderr}");
    assert!(stderr.to_lowercase().contains("certificate"), "{stderr}");

    // No client certificate: the daemon refuses the connection.
    let (code, _, stderr) = engine(
        format!("tcp://127.0.0.1:{port}?cacert={}", file("ca.pem")),
        &[],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");

    // A CA file that does not exist is named.
    let (code, _, stderr) = engine(
        format!("tcp://127.0.0.1:{port}?cacert=/nonexistent/ca.pem"),
        &[],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("/nonexistent/ca.pem"), "{stderr}");
}

/// The socket of the Docker daemon the tests use (`DOCKER_HOST` when it names a unix socket).
fn docker_socket() -> std::path::PathBuf {
    std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|h| h.strip_prefix("unix://").map(std::path::PathBuf::from))
        .unwrap_or_else(|| "/var/run/docker.sock".into())
}

fn docker(args: &[&str]) -> std::process::Output {
    std::process::Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running docker {args:?}: {e}"))
}

/// A container named like a BuildKit container, whose `buildctl` is dirk itself (so `buildctl
/// dial-stdio` relays to the Docker socket mounted into it): the setup users get by putting dirk
/// into a container next to a daemon.
struct BuildctlContainer {
    name: String,
}

impl BuildctlContainer {
    fn start() -> BuildctlContainer {
        let root = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dirk = std::path::Path::new(env!("CARGO_BIN_EXE_dirk"));
        let copy = |from: &std::path::Path, to: &str| {
            let dest = root.path().join(to.trim_start_matches('/'));
            let _ = std::fs::create_dir_all(dest.parent().unwrap_or(root.path()));
            std::fs::copy(from, &dest)
                .unwrap_or_else(|e| panic!("copying {}: {e}", from.display()));
        };
        copy(dirk, "/usr/bin/buildctl");
        copy(std::path::Path::new("/bin/busybox"), "/bin/busybox");
        // dirk's shared libraries, at the paths the loader looks for them.
        let ldd = std::process::Command::new("ldd")
            .arg(dirk)
            .output()
            .unwrap_or_else(|e| panic!("ldd: {e}"));
        for line in String::from_utf8_lossy(&ldd.stdout).lines() {
            let path = line
                .split_whitespace()
                .find(|w| w.starts_with('/'))
                .map(str::to_owned);
            if let Some(p) = path {
                copy(std::path::Path::new(&p), &p);
            }
        }
        let image = "dirk-test/buildctl:latest";
        let tarball = root.path().with_extension("tar");
        let tar = std::process::Command::new("tar")
            .args([
                "-C",
                &root.path().to_string_lossy(),
                "-cf",
                &tarball.to_string_lossy(),
                ".",
            ])
            .status()
            .unwrap_or_else(|e| panic!("tar: {e}"));
        assert!(tar.success(), "tar failed");
        let import = docker(&[
            "import",
            "--change",
            "ENV PATH=/usr/bin:/bin",
            &tarball.to_string_lossy(),
            image,
        ]);
        let _ = std::fs::remove_file(&tarball);
        assert!(
            import.status.success(),
            "docker import: {}",
            String::from_utf8_lossy(&import.stderr)
        );
        let name = format!("dirk-buildkit-{}", common::unique());
        let socket = format!("{}:/var/run/docker.sock", docker_socket().display());
        let run = docker(&[
            "run",
            "-d",
            "--name",
            &name,
            "-v",
            &socket,
            image,
            "/bin/busybox",
            "sleep",
            "600",
        ]);
        assert!(
            run.status.success(),
            "docker run: {}",
            String::from_utf8_lossy(&run.stderr)
        );
        BuildctlContainer { name }
    }
}

impl Drop for BuildctlContainer {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.name]);
    }
}

#[test]
fn docker_container_runner_reaches_buildkit_through_a_real_container() {
    common::require_daemon();
    let container = BuildctlContainer::start();
    echo_through(&format!("docker-container://{}", container.name));
    // A container that does not exist: the error names it and says what failed.
    let (code, _, stderr) = common::run_dirk(
        &["engine"],
        &[("BUILDKIT_HOST", "docker-container://dirk-no-such-container")],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("dirk-no-such-container"), "{stderr}");
    // What docker said is part of the error, not lost on the side.
    assert!(stderr.contains("the dial helper said"), "{stderr}");
    assert!(stderr.contains("No such container"), "{stderr}");
}

#[test]
fn docker_host_over_tls_uses_the_docker_cli_certificates() -> common::TestResult {
    common::require_daemon();
    let pki = pki(b"http/1.1");
    let port = relay::tls_to_unix(pki.server.clone(), docker_socket());
    // DOCKER_CERT_PATH holds ca.pem, cert.pem and key.pem, as `docker --tlsverify` expects.
    let certs = pki.dir.path().join("docker-certs");
    std::fs::create_dir_all(&certs)?;
    for (from, to) in [
        ("ca.pem", "ca.pem"),
        ("client.pem", "cert.pem"),
        ("client-key.pem", "key.pem"),
    ] {
        std::fs::copy(pki.dir.path().join(from), certs.join(to))?;
    }
    let host = format!("tcp://127.0.0.1:{port}");
    let cert_path = certs.display().to_string();
    let env = [
        ("DOCKER_HOST", host.as_str()),
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_CERT_PATH", cert_path.as_str()),
        ("BUILDKIT_HOST", ""),
    ];
    let (code, stdout, stderr) = common::run_dirk(&["engine"], &env);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains(&format!("docker daemon at tcp://127.0.0.1:{port} (TLS)")),
        "{stdout}"
    );
    let s = Session::start_with(&[], &env);
    let v = s.data(&format!(
        r#"{{ container {{ from(address: {}) {{ withExec(args: ["echo", "over TLS"]) {{ stdout }} }} }} }}"#,
        lit(BUSYBOX)
    ));
    assert_eq!(v["container"]["from"]["withExec"]["stdout"], "over TLS\n");
    // Without DOCKER_TLS_VERIFY the same port does not answer as Docker.
    let (code, _, stderr) = common::run_dirk(
        &["engine"],
        &[("DOCKER_HOST", &host), ("BUILDKIT_HOST", "")],
    );
    assert_eq!(code, Some(1), "{stderr}");
    Ok(())
}

/// An sshd of the test's own on 127.0.0.1 that lets in one key as root, and an `ssh` on PATH that
/// uses that key (what a user's ~/.ssh/config would say).
struct OwnSshd {
    dir: tempfile::TempDir,
    child: std::process::Child,
    port: u16,
}

impl OwnSshd {
    fn start() -> OwnSshd {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = |name: &str| dir.path().join(name).display().to_string();
        for key in ["host_key", "client_key"] {
            let ok = std::process::Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f", &path(key)])
                .status()
                .is_ok_and(|s| s.success());
            assert!(
                ok,
                "ssh-keygen failed (scripts/setup-engine.sh installs openssh-server)"
            );
        }
        std::fs::copy(path("client_key.pub"), path("authorized_keys"))
            .unwrap_or_else(|e| panic!("{e}"));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or_else(|e| panic!("{e}"));
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\nPermitRootLogin prohibit-password\nPasswordAuthentication no\nStrictModes no\nUsePAM no\nPidFile {}\n",
            path("host_key"),
            path("authorized_keys"),
            path("sshd.pid")
        );
        std::fs::write(path("sshd_config"), config).unwrap_or_else(|e| panic!("{e}"));
        let _ = std::fs::create_dir_all("/run/sshd");
        let child = std::process::Command::new("/usr/sbin/sshd")
            .args(["-D", "-f", &path("sshd_config"), "-E", &path("sshd.log")])
            .spawn()
            .unwrap_or_else(|e| {
                panic!("starting sshd (scripts/setup-engine.sh installs openssh-server): {e}")
            });
        let wrapper = format!(
            "#!/bin/sh\nexec /usr/bin/ssh -i '{}' -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR \"$@\"\n",
            path("client_key")
        );
        let bin = dir.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(bin.join("ssh"), wrapper).unwrap_or_else(|e| panic!("{e}"));
        std::fs::set_permissions(bin.join("ssh"), std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("{e}"));
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(10),
                "sshd did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        OwnSshd { dir, child, port }
    }

    fn path_env(&self) -> String {
        format!(
            "{}:{}",
            self.dir.path().join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }
}

impl Drop for OwnSshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn docker_host_over_ssh_reaches_the_remote_daemon() {
    common::require_daemon();
    let sshd = OwnSshd::start();
    let host = format!("ssh://root@127.0.0.1:{}", sshd.port);
    let path = sshd.path_env();
    let env = [
        ("DOCKER_HOST", host.as_str()),
        ("PATH", path.as_str()),
        ("BUILDKIT_HOST", ""),
    ];
    let (code, stdout, stderr) = common::run_dirk(&["engine"], &env);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.contains(&format!("docker daemon at {host}")),
        "{stdout}"
    );
    let s = Session::start_with(&[], &env);
    let v = s.data(&format!(
        r#"{{ container {{ from(address: {}) {{ withExec(args: ["echo", "over ssh"]) {{ stdout }} }} }} }}"#,
        lit(BUSYBOX)
    ));
    assert_eq!(v["container"]["from"]["withExec"]["stdout"], "over ssh\n");
    // A host that refuses: ssh's own words are in the error.
    let refused = format!("ssh://nobody-here@127.0.0.1:{}", sshd.port);
    let (code, _, stderr) = common::run_dirk(
        &["engine"],
        &[
            ("DOCKER_HOST", refused.as_str()),
            ("PATH", path.as_str()),
            ("BUILDKIT_HOST", ""),
        ],
    );
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("the dial helper said"), "{stderr}");
}
