//! Where the BuildKit daemon is: parsing runner addresses from the environment. Pure; no I/O.
//!
//! Variables are read in this order: `_EXPERIMENTAL_DAGGER_RUNNER_HOST`, `BUILDKIT_HOST`, then
//! `DOCKER_HOST` (Docker's embedded BuildKit), then the local Docker socket.

use std::fmt;
use std::path::PathBuf;

/// The variables that name a runner, in the order they are consulted.
pub const RUNNER_VARIABLES: [&str; 3] = [
    "_EXPERIMENTAL_DAGGER_RUNNER_HOST",
    "BUILDKIT_HOST",
    "DOCKER_HOST",
];

/// Where the local Docker daemon listens when `DOCKER_HOST` is not set.
pub const DEFAULT_DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// How to reach a Docker daemon's API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerEndpoint {
    /// `unix:///var/run/docker.sock`
    Unix(PathBuf),
    /// `tcp://host:port`: plain HTTP, or HTTPS when `DOCKER_TLS_VERIFY` is set (with `ca.pem`,
    /// `cert.pem` and `key.pem` from `DOCKER_CERT_PATH`, else `~/.docker`), as the docker CLI does.
    Tcp {
        host: String,
        port: u16,
        tls: Option<TlsFiles>,
    },
    /// `ssh://[user@]host[:port]`: the remote docker CLI's `docker system dial-stdio`, over ssh
    /// (keys, agent and `~/.ssh/config` as ssh itself finds them), as the docker CLI does.
    Ssh { target: String, port: Option<u16> },
}

/// TLS material for a `tcp://` runner, as buildctl users give it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsFiles {
    /// CA certificate that signed the daemon's certificate.
    pub ca: Option<PathBuf>,
    /// Client certificate (mutual TLS).
    pub cert: Option<PathBuf>,
    /// Client key (mutual TLS).
    pub key: Option<PathBuf>,
    /// Name to verify the daemon's certificate against, when not the host.
    pub server_name: Option<String>,
}

/// A parsed runner address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunnerAddress {
    /// A buildkitd listening on a unix socket.
    Unix(PathBuf),
    /// A buildkitd listening on TCP, optionally with TLS.
    Tcp {
        host: String,
        port: u16,
        tls: Option<TlsFiles>,
    },
    /// The BuildKit embedded in a Docker daemon, reached through its API's `/grpc` endpoint.
    Docker(DockerEndpoint),
    /// A buildkitd inside a Docker container, reached with `docker exec -i NAME buildctl dial-stdio`.
    DockerContainer {
        name: String,
        context: Option<String>,
    },
    /// A buildkitd inside a Podman container, reached with `podman exec -i NAME buildctl dial-stdio`.
    PodmanContainer { name: String },
    /// A buildkitd inside a Kubernetes pod, reached with `kubectl exec -i POD -- buildctl dial-stdio`.
    KubePod {
        pod: String,
        context: Option<String>,
        namespace: Option<String>,
        container: Option<String>,
    },
}

/// Which variable an address came from (or the built-in default) and its raw value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressOrigin {
    /// The variable name, or `default` for the local Docker socket.
    pub variable: String,
    /// The value as given.
    pub value: String,
}

/// A runner address with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runner {
    /// The parsed address.
    pub address: RunnerAddress,
    /// The variable and value it was parsed from.
    pub origin: AddressOrigin,
}

/// An address that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {variable}={value:?}: {reason}")]
pub struct AddressError {
    /// The variable that held the address.
    pub variable: String,
    /// Its value.
    pub value: String,
    /// What is wrong, and what would be right.
    pub reason: String,
}

const SCHEMES: &str = "unix://, tcp://, docker-container://, podman-container://, kube-pod://";

impl Runner {
    /// Picks the runner from environment values, looked up through `get`.
    /// A runner given on the command line (`dirk dial-stdio ADDRESS`): any runner scheme, or a
    /// Docker host (`unix://` and `tcp://` then mean BuildKit itself, as in `BUILDKIT_HOST`).
    pub fn from_argument(
        value: &str,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Runner, AddressError> {
        let address = parse_runner("ADDRESS", value, &get)?;
        Ok(Runner {
            address,
            origin: AddressOrigin {
                variable: "ADDRESS".into(),
                value: value.to_owned(),
            },
        })
    }

    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Runner, AddressError> {
        for variable in &RUNNER_VARIABLES[..2] {
            if let Some(value) = get(variable).filter(|v| !v.trim().is_empty()) {
                let address = parse_runner(variable, &value, &get)?;
                return Ok(Runner {
                    address,
                    origin: AddressOrigin {
                        variable: (*variable).into(),
                        value,
                    },
                });
            }
        }
        if let Some(value) = get("DOCKER_HOST").filter(|v| !v.trim().is_empty()) {
            let endpoint = parse_docker_host("DOCKER_HOST", &value, &get)?;
            return Ok(Runner {
                address: RunnerAddress::Docker(endpoint),
                origin: AddressOrigin {
                    variable: "DOCKER_HOST".into(),
                    value,
                },
            });
        }
        Ok(Runner {
            address: RunnerAddress::Docker(DockerEndpoint::Unix(DEFAULT_DOCKER_SOCKET.into())),
            origin: AddressOrigin {
                variable: "default".into(),
                value: format!("unix://{DEFAULT_DOCKER_SOCKET}"),
            },
        })
    }
}

impl fmt::Display for RunnerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunnerAddress::Unix(p) => write!(f, "unix://{}", p.display()),
            RunnerAddress::Tcp { host, port, tls } => {
                write!(f, "tcp://{host}:{port}")?;
                if tls.is_some() {
                    write!(f, " (TLS)")?;
                }
                Ok(())
            }
            RunnerAddress::Docker(DockerEndpoint::Unix(p)) => {
                write!(f, "docker daemon at unix://{}", p.display())
            }
            RunnerAddress::Docker(DockerEndpoint::Ssh { target, port }) => {
                write!(f, "docker daemon at ssh://{target}")?;
                if let Some(p) = port {
                    write!(f, ":{p}")?;
                }
                Ok(())
            }
            RunnerAddress::Docker(DockerEndpoint::Tcp { host, port, tls }) => {
                write!(f, "docker daemon at tcp://{host}:{port}")?;
                if tls.is_some() {
                    write!(f, " (TLS)")?;
                }
                Ok(())
            }
            RunnerAddress::DockerContainer { name, .. } => write!(f, "docker-container://{name}"),
            RunnerAddress::PodmanContainer { name } => write!(f, "podman-container://{name}"),
            RunnerAddress::KubePod { pod, .. } => write!(f, "kube-pod://{pod}"),
        }
    }
}

/// Splits `scheme://rest`.
fn split_scheme(value: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = value.split_once("://")?;
    Some((scheme, rest))
}

/// Splits `path?k=v&k2=v2` into the path and its query pairs.
fn split_query(rest: &str) -> (&str, Vec<(String, String)>) {
    match rest.split_once('?') {
        None => (rest, Vec::new()),
        Some((path, query)) => {
            let pairs = query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| match p.split_once('=') {
                    Some((k, v)) => (k.to_owned(), v.to_owned()),
                    None => (p.to_owned(), String::new()),
                })
                .collect();
            (path, pairs)
        }
    }
}

fn parse_host_port(
    variable: &str,
    value: &str,
    hostport: &str,
) -> Result<(String, u16), AddressError> {
    let err = |reason: String| AddressError {
        variable: variable.into(),
        value: value.into(),
        reason,
    };
    let hostport = hostport.trim_end_matches('/');
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (h, p) = rest
            .split_once("]:")
            .ok_or_else(|| err("expected [ipv6]:port".into()))?;
        (h.to_owned(), p)
    } else {
        let (h, p) = hostport.rsplit_once(':').ok_or_else(|| {
            err("a tcp:// address needs a port, e.g. tcp://127.0.0.1:1234".into())
        })?;
        (h.to_owned(), p)
    };
    if host.is_empty() {
        return Err(err("the host is empty".into()));
    }
    if host.contains('/') {
        return Err(err("a tcp:// address is host:port with no path".into()));
    }
    let port: u16 = port
        .parse()
        .map_err(|_| err(format!("port {port:?} is not a number from 1 to 65535")))?;
    if port == 0 {
        return Err(err("port 0 is not a valid port".into()));
    }
    Ok((host, port))
}

fn parse_runner(
    variable: &str,
    value: &str,
    get: &impl Fn(&str) -> Option<String>,
) -> Result<RunnerAddress, AddressError> {
    let err = |reason: String| AddressError {
        variable: variable.into(),
        value: value.into(),
        reason,
    };
    let trimmed = value.trim();
    let Some((scheme, rest)) = split_scheme(trimmed) else {
        return Err(err(format!("expected scheme://address, one of {SCHEMES}")));
    };
    let (path, query) = split_query(rest);
    let param = |k: &str| {
        query
            .iter()
            .find(|(qk, _)| qk == k)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    let name = |what: &str| -> Result<String, AddressError> {
        let n = path.trim_matches('/');
        if n.is_empty() {
            return Err(err(format!(
                "{scheme}:// needs a {what} name, e.g. {scheme}://buildkitd"
            )));
        }
        if n.contains('/') {
            return Err(err(format!("a {what} name cannot contain '/'")));
        }
        Ok(n.to_owned())
    };
    match scheme {
        "unix" => {
            if path.is_empty() || !path.starts_with('/') {
                return Err(err("unix:// needs an absolute socket path, e.g. unix:///run/buildkit/buildkitd.sock".into()));
            }
            Ok(RunnerAddress::Unix(PathBuf::from(path)))
        }
        "tcp" => {
            let (host, port) = parse_host_port(variable, value, path)?;
            let from_env = |k: &str| get(k).filter(|v| !v.is_empty()).map(PathBuf::from);
            let tls = TlsFiles {
                ca: param("cacert").map(PathBuf::from).or_else(|| from_env("BUILDKIT_CACERT")),
                cert: param("cert").map(PathBuf::from).or_else(|| from_env("BUILDKIT_CERT")),
                key: param("key").map(PathBuf::from).or_else(|| from_env("BUILDKIT_KEY")),
                server_name: param("tlsservername").or_else(|| get("BUILDKIT_TLS_SERVER_NAME").filter(|v| !v.is_empty())),
            };
            if tls.cert.is_some() != tls.key.is_some() {
                return Err(err("a client certificate and key must be given together (cert= and key=)".into()));
            }
            let tls = (tls != TlsFiles::default()).then_some(tls);
            Ok(RunnerAddress::Tcp { host, port, tls })
        }
        "docker-container" => Ok(RunnerAddress::DockerContainer { name: name("container")?, context: param("context") }),
        "podman-container" => Ok(RunnerAddress::PodmanContainer { name: name("container")? }),
        "kube-pod" => Ok(RunnerAddress::KubePod {
            pod: name("pod")?,
            context: param("context"),
            namespace: param("namespace"),
            container: param("container"),
        }),
        "docker-image" => Err(err(
            "dirk does not start engine images: run a buildkitd and point BUILDKIT_HOST at it, or unset the variable to use Docker's embedded BuildKit".into(),
        )),
        other => Err(err(format!("unsupported scheme {other:?}; supported: {SCHEMES}"))),
    }
}

fn parse_docker_host(
    variable: &str,
    value: &str,
    get: &impl Fn(&str) -> Option<String>,
) -> Result<DockerEndpoint, AddressError> {
    let err = |reason: String| AddressError {
        variable: variable.into(),
        value: value.into(),
        reason,
    };
    let trimmed = value.trim();
    match split_scheme(trimmed) {
        Some(("unix", path)) if path.starts_with('/') => {
            Ok(DockerEndpoint::Unix(PathBuf::from(path)))
        }
        Some(("unix", _)) => Err(err(
            "unix:// needs an absolute socket path, e.g. unix:///var/run/docker.sock".into(),
        )),
        Some(("tcp", rest)) => {
            let (host, port) = parse_host_port(variable, value, rest)?;
            let verify = get("DOCKER_TLS_VERIFY").is_some_and(|v| !v.is_empty() && v != "0");
            let tls = verify.then(|| {
                let dir = get("DOCKER_CERT_PATH")
                    .filter(|d| !d.is_empty())
                    .map(PathBuf::from)
                    .or_else(|| get("HOME").map(|h| PathBuf::from(h).join(".docker")))
                    .unwrap_or_else(|| PathBuf::from(".docker"));
                TlsFiles {
                    ca: Some(dir.join("ca.pem")),
                    cert: Some(dir.join("cert.pem")),
                    key: Some(dir.join("key.pem")),
                    server_name: None,
                }
            });
            Ok(DockerEndpoint::Tcp { host, port, tls })
        }
        Some(("ssh", rest)) => {
            let rest = rest.trim_end_matches('/');
            if rest.is_empty() || rest.contains('/') || rest.contains('?') {
                return Err(err("expected ssh://[user@]host[:port]".into()));
            }
            let (user_host, port) = match rest.rsplit_once(':') {
                Some((h, p)) if !h.ends_with(']') || rest.starts_with('[') => {
                    let port = p
                        .parse::<u16>()
                        .map_err(|_| err(format!("invalid ssh port {p:?}")))?;
                    (h, Some(port))
                }
                _ => (rest, None),
            };
            if user_host.is_empty() || user_host.ends_with('@') || user_host.starts_with('-') {
                return Err(err("expected ssh://[user@]host[:port]".into()));
            }
            Ok(DockerEndpoint::Ssh {
                target: user_host.to_owned(),
                port,
            })
        }
        Some((other, _)) => Err(err(format!(
            "Docker's embedded BuildKit is reached over unix://, tcp:// or ssh://, not {other}://"
        ))),
        None => Err(err(
            "expected unix:///path/to/docker.sock or tcp://host:port".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn runner(vars: &[(&str, &str)]) -> Result<Runner, AddressError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        Runner::from_env(|k| map.get(k).cloned())
    }

    #[test]
    fn default_is_local_docker_socket() {
        let r = runner(&[]).map(|r| r.address);
        assert_eq!(
            r,
            Ok(RunnerAddress::Docker(DockerEndpoint::Unix(
                "/var/run/docker.sock".into()
            )))
        );
    }

    #[test]
    fn precedence_follows_variable_order() {
        let r = runner(&[
            ("BUILDKIT_HOST", "unix:///b.sock"),
            ("_EXPERIMENTAL_DAGGER_RUNNER_HOST", "unix:///a.sock"),
            ("DOCKER_HOST", "unix:///d.sock"),
        ]);
        assert_eq!(
            r.map(|r| (r.address, r.origin.variable)),
            Ok((
                RunnerAddress::Unix("/a.sock".into()),
                "_EXPERIMENTAL_DAGGER_RUNNER_HOST".into()
            ))
        );
        let r = runner(&[
            ("BUILDKIT_HOST", "unix:///b.sock"),
            ("DOCKER_HOST", "unix:///d.sock"),
        ]);
        assert_eq!(
            r.map(|r| r.address),
            Ok(RunnerAddress::Unix("/b.sock".into()))
        );
        let r = runner(&[("DOCKER_HOST", "unix:///d.sock")]);
        assert_eq!(
            r.map(|r| r.address),
            Ok(RunnerAddress::Docker(DockerEndpoint::Unix(
                "/d.sock".into()
            )))
        );
    }

    #[test]
    fn parses_every_scheme() {
        let cases: Vec<(&str, RunnerAddress)> = vec![
            (
                "unix:///run/buildkit/buildkitd.sock",
                RunnerAddress::Unix("/run/buildkit/buildkitd.sock".into()),
            ),
            (
                "tcp://127.0.0.1:1234",
                RunnerAddress::Tcp {
                    host: "127.0.0.1".into(),
                    port: 1234,
                    tls: None,
                },
            ),
            (
                "tcp://[::1]:1234",
                RunnerAddress::Tcp {
                    host: "::1".into(),
                    port: 1234,
                    tls: None,
                },
            ),
            (
                "tcp://bk:1234?cacert=/c/ca.pem&cert=/c/cert.pem&key=/c/key.pem",
                RunnerAddress::Tcp {
                    host: "bk".into(),
                    port: 1234,
                    tls: Some(TlsFiles {
                        ca: Some("/c/ca.pem".into()),
                        cert: Some("/c/cert.pem".into()),
                        key: Some("/c/key.pem".into()),
                        server_name: None,
                    }),
                },
            ),
            (
                "docker-container://buildkitd",
                RunnerAddress::DockerContainer {
                    name: "buildkitd".into(),
                    context: None,
                },
            ),
            (
                "docker-container://bk?context=remote",
                RunnerAddress::DockerContainer {
                    name: "bk".into(),
                    context: Some("remote".into()),
                },
            ),
            (
                "podman-container://bk",
                RunnerAddress::PodmanContainer { name: "bk".into() },
            ),
            (
                "kube-pod://buildkitd-0?context=c&namespace=ns&container=bk",
                RunnerAddress::KubePod {
                    pod: "buildkitd-0".into(),
                    context: Some("c".into()),
                    namespace: Some("ns".into()),
                    container: Some("bk".into()),
                },
            ),
            (
                "kube-pod://buildkitd-0",
                RunnerAddress::KubePod {
                    pod: "buildkitd-0".into(),
                    context: None,
                    namespace: None,
                    container: None,
                },
            ),
        ];
        for (value, want) in cases {
            assert_eq!(
                runner(&[("BUILDKIT_HOST", value)]).map(|r| r.address),
                Ok(want),
                "{value}"
            );
        }
    }

    #[test]
    fn tls_files_come_from_the_environment_too() {
        let r = runner(&[
            ("BUILDKIT_HOST", "tcp://bk:1234"),
            ("BUILDKIT_CACERT", "/ca.pem"),
        ])
        .map(|r| r.address);
        assert_eq!(
            r,
            Ok(RunnerAddress::Tcp {
                host: "bk".into(),
                port: 1234,
                tls: Some(TlsFiles {
                    ca: Some("/ca.pem".into()),
                    ..Default::default()
                })
            })
        );
    }

    #[test]
    fn malformed_addresses_name_variable_and_value() {
        for bad in [
            "buildkitd",
            "unix://",
            "unix://relative.sock",
            "tcp://host",
            "tcp://host:notaport",
            "tcp://host:0",
            "tcp://:1234",
            "tcp://host:99999",
            "tcp://host:1234?cert=/c.pem",
            "docker-container://",
            "docker-container://a/b",
            "kube-pod://",
            "ftp://x",
            "docker-image://registry.dagger.io/engine:v0.6.4",
        ] {
            let e = runner(&[("BUILDKIT_HOST", bad)]).expect_err(bad);
            assert_eq!(e.variable, "BUILDKIT_HOST");
            assert_eq!(e.value, bad);
            let text = e.to_string();
            assert!(
                text.starts_with(&format!("invalid BUILDKIT_HOST={bad:?}: ")),
                "{text}"
            );
            assert!(!text.contains('\n'), "one line: {text}");
        }
    }

    #[test]
    fn docker_host_forms() {
        assert_eq!(
            runner(&[("DOCKER_HOST", "tcp://10.0.0.1:2375")]).map(|r| r.address),
            Ok(RunnerAddress::Docker(DockerEndpoint::Tcp {
                host: "10.0.0.1".into(),
                port: 2375,
                tls: None,
            }))
        );
        assert_eq!(
            runner(&[
                ("DOCKER_HOST", "tcp://docker.example:2376"),
                ("DOCKER_TLS_VERIFY", "1"),
                ("DOCKER_CERT_PATH", "/certs"),
            ])
            .map(|r| r.address),
            Ok(RunnerAddress::Docker(DockerEndpoint::Tcp {
                host: "docker.example".into(),
                port: 2376,
                tls: Some(TlsFiles {
                    ca: Some("/certs/ca.pem".into()),
                    cert: Some("/certs/cert.pem".into()),
                    key: Some("/certs/key.pem".into()),
                    server_name: None,
                }),
            }))
        );
        assert_eq!(
            runner(&[("DOCKER_HOST", "ssh://ci@build.example:2222")]).map(|r| r.address),
            Ok(RunnerAddress::Docker(DockerEndpoint::Ssh {
                target: "ci@build.example".into(),
                port: Some(2222),
            }))
        );
        assert_eq!(
            runner(&[("DOCKER_HOST", "ssh://build.example")]).map(|r| r.address),
            Ok(RunnerAddress::Docker(DockerEndpoint::Ssh {
                target: "build.example".into(),
                port: None,
            }))
        );
        for bad in [
            "ssh://",
            "ssh://ci@",
            "ssh://-oProxyCommand=x",
            "ssh://h:99999",
            "ssh://h/path",
        ] {
            assert!(runner(&[("DOCKER_HOST", bad)]).is_err(), "{bad}");
        }
        assert!(runner(&[("DOCKER_HOST", "npipe:////./pipe/docker_engine")]).is_err());
        assert!(runner(&[("DOCKER_HOST", "/var/run/docker.sock")]).is_err());
    }
}
