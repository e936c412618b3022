//! Service addresses in graphs: which services a graph's steps name, giving a graph their
//! addresses before it is solved, and the digest that identifies a graph in every session.
//!
//! An exec bound to a service names it by hostname ([`HostAddr::Service`]); a source fetched from
//! a service names it in its URL. The address is known only once the service runs, so the graph
//! is built without it and copied with the addresses filled in just before it is solved. The
//! daemon leaves extra hosts' addresses out of an exec's cache key, so the copy is cached like the
//! original. Also here: the digest that identifies a graph in every session, and the image a
//! graph's filesystem was built on (both walks over the graph's structure, as the copy is).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use super::exec::{Exec, HostAddr};
use super::node::{Node, OpKind, State, digest_of};
use super::pb;

impl State {
    /// The hostnames of every service that a step of this graph names, each with the other names
    /// (aliases) the steps know it by.
    pub fn service_aliases(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for node in self.walk() {
            for h in &node.services {
                out.entry(h.clone()).or_default();
            }
            if let OpKind::Exec(spec, _) = &node.kind {
                for host in &spec.hosts {
                    if let HostAddr::Service(h) = &host.addr
                        && &host.name != h
                    {
                        out.entry(h.clone()).or_default().insert(host.name.clone());
                    }
                }
            }
        }
        out
    }

    /// This graph with the services in `addrs` (hostname → IP) given their addresses: every step
    /// that names one of them, and every step after such a step, is a copy; the rest is shared.
    pub fn with_service_addrs(&self, addrs: &HashMap<String, String>) -> State {
        let Some(root) = &self.node else {
            return self.clone();
        };
        let mut copies: HashMap<usize, Arc<Node>> = HashMap::new();
        let key = |n: &Arc<Node>| Arc::as_ptr(n) as usize;
        for node in self.walk() {
            let swap = |s: &State, copies: &HashMap<usize, Arc<Node>>| -> Option<State> {
                let n = s.node.as_ref()?;
                copies.get(&key(n)).map(|c| State {
                    node: Some(c.clone()),
                    output: s.output,
                })
            };
            let inputs_changed = node.inputs.iter().any(|s| swap(s, &copies).is_some());
            let names_one = node.services.iter().any(|h| addrs.contains_key(h));
            if !inputs_changed && !names_one {
                continue;
            }
            let copy = match &node.kind {
                OpKind::Exec(spec, _) => {
                    let mut spec: Exec = (**spec).clone();
                    for s in spec.states_mut() {
                        if let Some(c) = swap(s, &copies) {
                            *s = c;
                        }
                    }
                    for h in &mut spec.hosts {
                        if let HostAddr::Service(name) = &h.addr
                            && let Some(ip) = addrs.get(name)
                        {
                            h.addr = HostAddr::Ip(ip.clone());
                        }
                    }
                    match spec.build().root().node {
                        Some(n) => n,
                        None => continue,
                    }
                }
                other => {
                    let mut kind = other.clone();
                    if let OpKind::Source(op) = &mut kind {
                        for name in &node.services {
                            if let Some(ip) = addrs.get(name) {
                                op.identifier = op.identifier.replace(name.as_str(), ip);
                                for v in op.attrs.values_mut() {
                                    *v = v.replace(name.as_str(), ip);
                                }
                            }
                        }
                    }
                    let inputs = node
                        .inputs
                        .iter()
                        .map(|s| swap(s, &copies).unwrap_or_else(|| s.clone()))
                        .collect();
                    let mut copy = Node::new(kind, inputs, node.platform.clone());
                    copy.description = node.description.clone();
                    copy.ignore_cache = node.ignore_cache;
                    copy.services = node
                        .services
                        .iter()
                        .filter(|h| !addrs.contains_key(*h))
                        .cloned()
                        .collect();
                    Arc::new(copy)
                }
            };
            copies.insert(key(&node), copy);
        }
        match copies.get(&key(root)) {
            Some(c) => State {
                node: Some(c.clone()),
                output: self.output,
            },
            None => self.clone(),
        }
    }

    /// A digest of this graph that leaves out the process's scope (see [`super::scope`]): the same
    /// graph has the same stable digest in every session. `None` for scratch.
    pub fn stable_digest(&self) -> Option<String> {
        let root = self.node.as_ref()?;
        let mut digests: HashMap<usize, String> = HashMap::new();
        for node in self.walk() {
            let encoded = node.encode_with(false, |s| {
                s.node
                    .as_ref()
                    .and_then(|n| digests.get(&(Arc::as_ptr(n) as usize)).cloned())
                    .unwrap_or_default()
            });
            digests.insert(Arc::as_ptr(&node) as usize, encoded.digest);
        }
        let digest = digests.get(&(Arc::as_ptr(root) as usize))?;
        Some(digest_of(format!("{digest}#{}", self.output).as_bytes()))
    }

    /// The description of the exec that produces this state, when an exec does.
    pub fn exec_spec(&self) -> Option<Exec> {
        match &self.node.as_ref()?.kind {
            OpKind::Exec(spec, _) => Some((**spec).clone()),
            _ => None,
        }
    }
}

impl State {
    /// The image this filesystem was built on, found by following, from this state down, the
    /// input each step writes on (an exec's root filesystem, a file op's base) to an image source:
    /// its reference and its state. `None` when the chain ends elsewhere (scratch, a local source,
    /// a merge).
    pub fn image_below(&self) -> Option<(String, State)> {
        self.chain_to_image()
            .map(|(reference, image, _)| (reference, image))
    }

    /// The names of the steps between [`State::image_below`] and this state, the earliest first:
    /// what each layer an image exporter writes after the image's own holds. `None` where the chain
    /// does not end at an image.
    pub fn steps_since_image(&self) -> Option<Vec<String>> {
        self.chain_to_image().map(|(_, _, mut steps)| {
            steps.reverse();
            steps
        })
    }

    /// Follows the written input down to an image source: its reference, its state, and the names
    /// of the steps passed on the way (the latest first).
    fn chain_to_image(&self) -> Option<(String, State, Vec<String>)> {
        let mut steps = Vec::new();
        let mut state = self.clone();
        loop {
            let node = state.node.clone()?;
            let op = match &node.kind {
                OpKind::Source(s) => {
                    return s
                        .identifier
                        .strip_prefix("docker-image://")
                        .map(|r| (r.to_owned(), state.clone(), steps));
                }
                OpKind::Exec(_, e) => pb::op::Op::Exec(e.clone()),
                OpKind::File(f) => pb::op::Op::File(f.clone()),
                OpKind::Raw(raw) => raw.op.clone()?,
            };
            let input = match &op {
                pb::op::Op::Source(s) => {
                    return s
                        .identifier
                        .strip_prefix("docker-image://")
                        .map(|r| (r.to_owned(), state.clone(), steps));
                }
                pb::op::Op::Exec(e) => e.mounts.iter().find(|m| m.dest == "/")?.input,
                pb::op::Op::File(f) => f.actions.first()?.input,
                _ => return None,
            };
            steps.push(
                node.description
                    .get("llb.customname")
                    .cloned()
                    .unwrap_or_else(|| "a step".to_owned()),
            );
            state = node.inputs.get(usize::try_from(input).ok()?)?.clone();
        }
    }
}
