//! Running services: one instance per hostname per session, started when a graph that names it is
//! about to be solved, shared by every concurrent user, and stopped a few seconds after the last
//! one is done.
//!
//! An instance is the service's exec, solved in the background with a readiness socket of its own
//! (so that it is never taken from the cache) and a hostname; stopping it cancels that solve, and
//! the daemon kills the process.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, try_join_all};
use tokio::sync::oneshot;

use super::ready::{ReadyChannel, Report};
use super::{Port, Protocol, Service, ServiceContext, ServiceDefinitions, display_name};
use crate::core::engine::{EngineError, SolvedRef};
use crate::core::error::{CoreError, CoreResult};
use crate::core::progress::ProgressSink;
use crate::llb::{Mount, MountKind, State};
use crate::shim;
use crate::sync::Locked;

/// How long a service may take to become ready, unless `DIRK_SERVICE_TIMEOUT` (seconds) says otherwise.
const DEFAULT_READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a service keeps running after its last user is done, in case another comes.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// Where one running instance listens: its address, its ports and its name in messages.
#[derive(Debug)]
struct Listening {
    addr: String,
    ports: Vec<Port>,
    name: String,
}

/// The running instances' addresses, by hostname.
type ListenTable = Arc<Mutex<HashMap<String, Listening>>>;

/// The session's services: their definitions and running instances.
#[derive(Debug)]
pub struct ServiceManager {
    /// Every service this session has been asked about.
    pub definitions: ServiceDefinitions,
    slots: Mutex<HashMap<String, Arc<tokio::sync::Mutex<Slot>>>>,
    /// Where each running instance listens, for telling clashes apart on host-network daemons.
    listening: ListenTable,
    ready_timeout: Duration,
    grace: Duration,
}

impl Default for ServiceManager {
    fn default() -> Self {
        let ready_timeout = std::env::var("DIRK_SERVICE_TIMEOUT")
            .ok()
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| *s > 0.0)
            .map_or(DEFAULT_READY_TIMEOUT, Duration::from_secs_f64);
        ServiceManager {
            definitions: ServiceDefinitions::default(),
            slots: Mutex::new(HashMap::new()),
            listening: Arc::new(Mutex::new(HashMap::new())),
            ready_timeout,
            grace: STOP_GRACE,
        }
    }
}

#[derive(Debug, Default)]
struct Slot {
    instance: Option<Instance>,
    users: usize,
    generation: u64,
}

#[derive(Debug)]
struct Instance {
    addr: String,
    name: String,
    task: tokio::task::JoinHandle<()>,
    ended: Arc<AtomicBool>,
    _channel: ReadyChannel,
    _deps: Vec<Lease>,
}

impl Instance {
    /// Stops the service, announcing it in `progress`.
    fn stop(self, progress: &ProgressSink) {
        let step = progress.start(format!("stop service {}", self.name));
        drop(self);
        let _ = step.finish::<(), String>(Ok(()));
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        // Dropping the solve cancels it on the daemon, which kills the service's process.
        self.task.abort();
    }
}

impl std::fmt::Debug for ReadyChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReadyChannel({})", self.socket.id)
    }
}

/// One user's hold on a running service. The service stops a little after the last lease is dropped.
#[derive(Debug)]
pub struct Lease {
    hostname: String,
    addr: String,
    slot: Arc<tokio::sync::Mutex<Slot>>,
    grace: Duration,
    progress: ProgressSink,
    listening: ListenTable,
}

impl Lease {
    /// The address the service is reachable at.
    pub fn addr(&self) -> &str {
        &self.addr
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let slot = self.slot.clone();
        let grace = self.grace;
        let progress = self.progress.clone();
        let listening = self.listening.clone();
        let hostname = self.hostname.clone();
        handle.spawn(async move {
            let generation = {
                let mut s = slot.lock().await;
                s.users = s.users.saturating_sub(1);
                if s.users > 0 {
                    return;
                }
                s.generation
            };
            tokio::time::sleep(grace).await;
            let mut s = slot.lock().await;
            if s.users > 0 || s.generation != generation {
                return;
            }
            if let Some(instance) = s.instance.take() {
                listening.locked().remove(&hostname);
                instance.stop(&progress);
            }
        });
    }
}

impl ServiceManager {
    /// Starts (or joins) every service `state` names and returns the graph with their addresses,
    /// with the leases that keep them running: hold them until the graph's solve is done.
    pub async fn bind(
        &self,
        cx: &ServiceContext,
        state: &State,
    ) -> CoreResult<(State, Vec<Lease>)> {
        let needed = state.service_aliases();
        if needed.is_empty() {
            return Ok((state.clone(), Vec::new()));
        }
        let leases = try_join_all(
            needed
                .iter()
                .map(|(hostname, aliases)| self.acquire(cx, hostname, aliases)),
        )
        .await?;
        let addrs: HashMap<String, String> = leases
            .iter()
            .map(|l| (l.hostname.clone(), l.addr.clone()))
            .collect();
        Ok((state.with_service_addrs(&addrs), leases))
    }

    /// Stops every running instance now (the session is ending), saying so in `progress`.
    pub async fn stop_all(&self, progress: &ProgressSink) {
        let slots: Vec<_> = self.slots.locked().values().cloned().collect();
        for slot in slots {
            let instance = slot.lock().await.instance.take();
            if let Some(instance) = instance {
                instance.stop(progress);
            }
        }
        self.listening.locked().clear();
    }

    fn slot(&self, hostname: &str) -> Arc<tokio::sync::Mutex<Slot>> {
        self.slots
            .locked()
            .entry(hostname.to_owned())
            .or_default()
            .clone()
    }

    /// A lease on the running instance of `hostname`, starting it when none runs.
    fn acquire<'a>(
        &'a self,
        cx: &'a ServiceContext,
        hostname: &'a str,
        aliases: &'a BTreeSet<String>,
    ) -> BoxFuture<'a, CoreResult<Lease>> {
        async move {
            let slot = self.slot(hostname);
            let mut s = slot.lock().await;
            let alive = s
                .instance
                .as_ref()
                .is_some_and(|i| !i.ended.load(Ordering::SeqCst));
            if !alive {
                s.instance = None;
                let def = self.definitions.get(hostname).ok_or_else(|| CoreError::Service {
                    service: display_name(hostname, aliases),
                    message: "this session has no such service; pass the service container itself (withServiceBinding, experimentalServiceHost) in the same session".into(),
                })?;
                s.instance = Some(self.launch(cx, &def, aliases).await?);
            }
            s.users += 1;
            s.generation += 1;
            let addr = s
                .instance
                .as_ref()
                .map(|i| i.addr.clone())
                .unwrap_or_default();
            Ok(Lease {
                hostname: hostname.to_owned(),
                addr,
                slot: slot.clone(),
                grace: self.grace,
                progress: cx.progress.clone(),
                listening: self.listening.clone(),
            })
        }
        .boxed()
    }

    /// Starts one instance of `def` and waits until it is ready.
    async fn launch(
        &self,
        cx: &ServiceContext,
        def: &Service,
        aliases: &BTreeSet<String>,
    ) -> CoreResult<Instance> {
        let name = display_name(&def.hostname, aliases);
        let step = cx
            .progress
            .start(format!("start service {name}: {}", def.command()));
        let result = self.launch_inner(cx, def, &name).await;
        let _ = step.finish(result.as_ref().map(|_| ()).map_err(ToString::to_string));
        result
    }

    async fn launch_inner(
        &self,
        cx: &ServiceContext,
        def: &Service,
        name: &str,
    ) -> CoreResult<Instance> {
        let failed = |message: String| CoreError::Service {
            service: name.to_owned(),
            message,
        };
        let channel = ReadyChannel::open(cx.sockets.clone())
            .map_err(|e| failed(format!("cannot open its readiness socket: {e}")))?;
        let mut spec = def.exec.clone();
        spec.hostname = Some(def.hostname.clone());
        let ports: Vec<String> = def.ports.iter().map(Port::config_key).collect();
        spec.env
            .push(format!("{}={}", shim::ENV_SERVICE_PORTS, ports.join(" ")));
        spec.mounts.push(Mount {
            dest: shim::SERVICE_READY_SOCKET.into(),
            kind: MountKind::Ssh {
                id: channel.socket.id.clone(),
                uid: 0,
                gid: 0,
                mode: 0o600,
            },
            selector: String::new(),
            readonly: true,
        });
        spec.ignore_cache = true;
        spec.description = Some(format!(
            "{} (service {name})",
            spec.description.clone().unwrap_or_else(|| def.command())
        ));
        let meta = spec
            .build()
            .mount(shim::META_DIR)
            .ok_or_else(|| failed("its exec has no output to run".into()))?;
        // Services this one is bound to start first, and run as long as it does.
        let (meta, deps) = Box::pin(self.bind(cx, &meta)).await?;
        let graph = meta
            .marshal()
            .ok_or_else(|| failed("its exec has no output to run".into()))?;
        let engine = cx.engine.clone();
        tracing::debug!(service = %name, socket = %channel.socket.id, "starting service");
        let ended = Arc::new(AtomicBool::new(false));
        let (done_tx, done_rx) = oneshot::channel();
        let task = {
            let ended = ended.clone();
            tokio::spawn(async move {
                let result = engine.run(&graph).await;
                ended.store(true, Ordering::SeqCst);
                let _ = done_tx.send(result);
            })
        };
        match self.await_ready(&channel, def, name, done_rx).await {
            Ok(addr) => {
                self.listening.locked().insert(
                    def.hostname.clone(),
                    Listening {
                        addr: addr.clone(),
                        ports: def.ports.clone(),
                        name: name.to_owned(),
                    },
                );
                Ok(Instance {
                    addr,
                    name: name.to_owned(),
                    task,
                    ended,
                    _channel: channel,
                    _deps: deps,
                })
            }
            Err(e) => {
                task.abort();
                Err(e)
            }
        }
    }

    /// Waits for the service's shim to report it ready; fails when the command ends first, when
    /// the solve fails, when it clashes with another service, or after the readiness timeout.
    async fn await_ready(
        &self,
        channel: &ReadyChannel,
        def: &Service,
        name: &str,
        mut done: oneshot::Receiver<Result<SolvedRef, EngineError>>,
    ) -> CoreResult<String> {
        let failed = |message: String| CoreError::Service {
            service: name.to_owned(),
            message,
        };
        let deadline = tokio::time::Instant::now() + self.ready_timeout;
        let timeout = |addr: Option<&str>| {
            let tcp: Vec<String> = def
                .ports
                .iter()
                .filter(|p| p.protocol == Protocol::Tcp)
                .map(|p| p.port.to_string())
                .collect();
            let what = match addr {
                Some(a) => format!(
                    "TCP port(s) {} at {a} accepted no connections (a service must listen on all interfaces, 0.0.0.0, not only on localhost)",
                    tcp.join(", ")
                ),
                None => "its command did not start (pulling its image or an earlier step may still be running)".into(),
            };
            failed(format!(
                "not ready within {:.0} s: {what}; DIRK_SERVICE_TIMEOUT sets the limit in seconds",
                self.ready_timeout.as_secs_f64()
            ))
        };
        let ended_early = |result: Result<
            Result<SolvedRef, EngineError>,
            oneshot::error::RecvError,
        >| match result {
            Ok(Err(e)) => failed(format!("could not start: {e}")),
            _ => failed("its command ended before it was ready".into()),
        };
        let mut reader = tokio::select! {
            biased;
            conn = channel.accept() => conn.map_err(|e| failed(format!("its readiness socket failed: {e}")))?,
            result = &mut done => return Err(ended_early(result)),
            _ = tokio::time::sleep_until(deadline) => return Err(timeout(None)),
        };
        let mut addr: Option<String> = None;
        let mut solve_ended = None;
        loop {
            let report = if solve_ended.is_some() {
                // The solve is over: the shim's last words are either here already or never coming.
                match tokio::time::timeout(Duration::from_secs(2), reader.next()).await {
                    Ok(r) => r,
                    Err(_) => Report::Closed,
                }
            } else {
                tokio::select! {
                    r = reader.next() => r,
                    result = &mut done => { solve_ended = Some(result); continue; }
                    _ = tokio::time::sleep_until(deadline) => return Err(timeout(addr.as_deref())),
                }
            };
            tracing::debug!(service = %name, ?report, "service report");
            match report {
                Report::Addr(a) => {
                    self.check_clash(def, name, &a)?;
                    addr = Some(a);
                }
                Report::Ready => {
                    return addr.ok_or_else(|| failed("its exec reported no address".into()));
                }
                Report::Exited { code, output } => {
                    let tail: Vec<&str> = output.lines().rev().take(20).collect();
                    let tail: Vec<&str> = tail.into_iter().rev().collect();
                    return Err(failed(format!(
                        "exited with code {code} before it was ready; its last output:\n{}",
                        tail.join("\n")
                    )));
                }
                Report::Closed => {
                    let result = match solve_ended.take() {
                        Some(r) => r,
                        None => match tokio::time::timeout(Duration::from_secs(5), &mut done).await
                        {
                            Ok(r) => r,
                            Err(_) => {
                                return Err(failed("its exec hung up before it was ready".into()));
                            }
                        },
                    };
                    return Err(ended_early(result));
                }
            }
        }
    }

    /// On a daemon that runs every exec in the host's network, two services share one address;
    /// the same port on both is a clash that must fail clearly rather than reach the wrong one.
    fn check_clash(&self, def: &Service, name: &str, addr: &str) -> CoreResult<()> {
        let listening = self.listening.locked();
        for (other, l) in listening.iter() {
            if other == &def.hostname || l.addr != addr {
                continue;
            }
            let other_name = &l.name;
            if let Some(p) = def.ports.iter().find(|p| {
                l.ports
                    .iter()
                    .any(|q| q.port == p.port && q.protocol == p.protocol)
            }) {
                return Err(CoreError::Service {
                    service: name.to_owned(),
                    message: format!(
                        "port {} clashes with service {other_name}, which already listens on it at {addr}: this daemon runs every command in the host's network (a buildkitd without a CNI network), so services share the host's ports; expose the services on different ports, or run buildkitd with a CNI network (--oci-worker-net=cni)",
                        p.config_key()
                    ),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(hostname: &str, port: u16) -> Service {
        Service {
            hostname: hostname.into(),
            exec: crate::llb::Exec::default(),
            ports: vec![Port {
                port,
                protocol: Protocol::Tcp,
                description: None,
            }],
        }
    }

    #[test]
    fn a_port_taken_at_the_same_address_is_a_clash_naming_both() {
        let manager = ServiceManager::default();
        manager.listening.locked().insert(
            "first00000000".into(),
            Listening {
                addr: "10.0.0.5".into(),
                ports: service("first00000000", 8080).ports,
                name: "db (first00000000)".into(),
            },
        );
        let second = service("second0000000", 8080);
        let Err(err) = manager.check_clash(&second, "web (second0000000)", "10.0.0.5") else {
            panic!("the same port at the same address clashes")
        };
        let text = err.to_string();
        assert!(text.contains("web (second0000000)") && text.contains("db (first00000000)"));
        assert!(text.contains("8080/tcp") && text.contains("different ports"));
        // Own addresses (Docker's bridge) and other ports do not clash.
        assert!(manager.check_clash(&second, "web", "10.0.0.6").is_ok());
        assert!(
            manager
                .check_clash(&service("third00000000", 9090), "other", "10.0.0.5")
                .is_ok()
        );
    }
}
