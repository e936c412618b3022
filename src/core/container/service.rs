//! Containers as services and as their clients: exposed ports, the hostname a service is reached
//! by, its endpoint, and binding services into a container's later commands.

use super::Container;
use super::exec::ExecOptions;
use crate::core::error::{CoreError, CoreResult};
use crate::core::runtime::Runtime;
use crate::core::service::{Port, Protocol, Service};

fn bad_port(port: i64) -> CoreError {
    CoreError::invalid("port", port.to_string(), "expected a port from 1 to 65535")
}

impl Container {
    /// The container, exposing `port` when it runs as a service (replacing an earlier exposure of
    /// the same port and protocol).
    pub fn with_exposed_port(
        &self,
        port: i64,
        protocol: Protocol,
        description: Option<String>,
    ) -> CoreResult<Container> {
        let port = u16::try_from(port)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| bad_port(port))?;
        let mut next = self.without_exposed_port(i64::from(port), protocol)?;
        let exposed = Port {
            port,
            protocol,
            description,
        };
        next.config
            .exposed_ports
            .get_or_insert_with(Default::default)
            .insert(exposed.config_key(), serde_json::json!({}));
        next.ports.push(exposed);
        Ok(next)
    }

    /// The container without the exposure of `port` over `protocol`.
    pub fn without_exposed_port(&self, port: i64, protocol: Protocol) -> CoreResult<Container> {
        let port = u16::try_from(port).map_err(|_| bad_port(port))?;
        let mut next = self.clone();
        next.ports
            .retain(|p| !(p.port == port && p.protocol == protocol));
        let key = format!("{port}/{}", protocol.config_name());
        if let Some(map) = next.config.exposed_ports.as_mut() {
            map.remove(&key);
            if map.is_empty() {
                next.config.exposed_ports = None;
            }
        }
        Ok(next)
    }

    /// This container as a service: the command it last ran (its entrypoint and default arguments
    /// when it ran none) and its exposed ports. Registered with the session under its hostname.
    pub fn as_service(&self, rt: &Runtime) -> CoreResult<std::sync::Arc<Service>> {
        let meta = match &self.meta {
            Some(m) => m.clone(),
            None => self
                .with_exec(rt, ExecOptions::default())
                .map_err(|e| {
                    CoreError::Unsupported(format!(
                        "this container cannot run as a service: it has no command: {e}; add withExec, or an entrypoint or default arguments"
                    ))
                })?
                .meta
                .ok_or_else(|| CoreError::Unsupported("the service's command has no output".into()))?,
        };
        let service = Service::from_exec_state(&meta, self.ports.clone())?;
        Ok(rt.services().definitions.register(service))
    }

    /// The hostname the container is reached by when it runs as a service.
    pub fn hostname(&self, rt: &Runtime) -> CoreResult<String> {
        Ok(self.as_service(rt)?.hostname.clone())
    }

    /// `host:port` (or `scheme://host:port`) of the service; port 0 means the first exposed port.
    pub fn endpoint(&self, rt: &Runtime, port: i64, scheme: &str) -> CoreResult<String> {
        let port = if port == 0 {
            self.ports.first().map(|p| p.port).ok_or_else(|| {
                CoreError::Unsupported(format!(
                    "container {}: no ports exposed, so it has no endpoint; call withExposedPort first, or ask for a port",
                    self.describe()
                ))
            })?
        } else {
            u16::try_from(port)
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| bad_port(port))?
        };
        let host = self.hostname(rt)?;
        Ok(if scheme.is_empty() {
            format!("{host}:{port}")
        } else {
            format!("{scheme}://{host}:{port}")
        })
    }

    /// The container, with `service` reachable from its later commands as `alias` and by the
    /// service's hostname. The service starts when such a command runs.
    pub fn with_service_binding(
        &self,
        rt: &Runtime,
        alias: &str,
        service: &Container,
    ) -> CoreResult<Container> {
        let valid = !alias.is_empty()
            && alias.len() <= 253
            && alias
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
            && !alias.starts_with(['-', '.']);
        if !valid {
            return Err(CoreError::invalid(
                "service alias",
                alias,
                "expected a host name: letters, digits, '-', '.' and '_'",
            ));
        }
        let hostname = service.as_service(rt)?.hostname.clone();
        let mut next = self.clone();
        next.bindings.retain(|(a, _)| a != alias);
        next.bindings.push((alias.to_owned(), hostname));
        Ok(next)
    }

    /// How the container is named in messages: its image and last command, where it has them.
    pub fn describe(&self) -> String {
        let image = self.image_ref.as_deref().unwrap_or("scratch");
        match self.meta.as_ref().and_then(crate::llb::State::exec_spec) {
            Some(exec) => format!(
                "{image} running {:?}",
                exec.args
                    .iter()
                    .skip(1)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            None => image.to_owned(),
        }
    }
}
