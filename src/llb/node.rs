//! The graph itself: reference-counted nodes, each one BuildKit op with its inputs.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, OnceLock};

use prost::Message;
use sha2::{Digest as _, Sha256};

use super::exec::Exec;
use super::pb;

/// What a node's op is, before its inputs are turned into digests.
#[derive(Clone)]
#[allow(clippy::large_enum_variant)] // one per node, never moved around in bulk
pub(crate) enum OpKind {
    Source(pb::SourceOp),
    /// An exec keeps the builder it came from, so that a variant of it can be made later.
    Exec(Box<Exec>, pb::ExecOp),
    File(pb::FileOp),
    /// An op taken as it is from a definition someone else built (a frontend's result); its
    /// inputs are relinked to this graph's nodes. Kept whole, so constraints and op kinds this
    /// builder does not make (merge, diff, build) survive.
    Raw(pb::Op),
}

/// One vertex of the graph. Immutable once built; its serialised form is computed once.
pub(crate) struct Node {
    pub(crate) kind: OpKind,
    pub(crate) inputs: Vec<State>,
    pub(crate) platform: Option<pb::Platform>,
    pub(crate) description: BTreeMap<String, String>,
    pub(crate) ignore_cache: bool,
    /// Hostnames of the services whose addresses this op itself names (sorted, distinct).
    pub(crate) services: Vec<String>,
    /// Filesystem layers this op stacks on top of a source (see [`State::stack_depth`]).
    depth: u32,
    encoded: OnceLock<Encoded>,
}

/// A node's wire bytes and their digest.
pub(crate) struct Encoded {
    pub(crate) digest: String,
    pub(crate) bytes: Vec<u8>,
}

/// One output of one node, or the empty filesystem (`scratch`).
///
/// States are immutable and cheap to clone: every builder method returns a new `State` that points
/// back at the ones it was made from. Nothing is evaluated until the graph is marshalled.
#[derive(Clone)]
pub struct State {
    pub(crate) node: Option<Arc<Node>>,
    pub(crate) output: u32,
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.digest() {
            Some(d) => write!(f, "State({d}#{})", self.output),
            None => write!(f, "State(scratch)"),
        }
    }
}

impl PartialEq for State {
    fn eq(&self, other: &Self) -> bool {
        self.output == other.output && self.digest() == other.digest()
    }
}

impl State {
    /// The empty filesystem.
    pub fn scratch() -> Self {
        State {
            node: None,
            output: 0,
        }
    }

    /// True for the empty filesystem.
    pub fn is_scratch(&self) -> bool {
        self.node.is_none()
    }

    /// The digest of the op that produces this state (`None` for scratch).
    pub fn digest(&self) -> Option<&str> {
        self.node.as_ref().map(|n| n.encoded().digest.as_str())
    }

    /// Which output of its op this state is.
    pub fn output_index(&self) -> u32 {
        self.output
    }

    /// A stable key for this state: its op digest and output index (`scratch` for the empty one).
    pub fn key(&self) -> String {
        match self.digest() {
            Some(d) => format!("{d}#{}", self.output),
            None => "scratch".to_owned(),
        }
    }

    /// How many filesystem layers this state's op stacks on a source, counted through the inputs
    /// an op writes on: every mount of an exec, the base of a file op (not its copy sources).
    /// Snapshotters mount each layer as one overlay lower directory and refuse stacks beyond a
    /// limit (125 in Docker's layer store), so deep pipelines must flatten before reaching it.
    pub fn stack_depth(&self) -> u32 {
        self.node.as_ref().map_or(0, |n| n.depth)
    }

    pub(crate) fn from_node(node: Node, output: u32) -> Self {
        State {
            node: Some(Arc::new(node)),
            output,
        }
    }

    /// Finds, anywhere upstream of this state, the exec whose op has `digest`.
    pub fn find_exec(&self, digest: &str) -> Option<Exec> {
        self.walk().into_iter().find_map(|n| match &n.kind {
            OpKind::Exec(spec, _) if n.encoded().digest == digest => Some((**spec).clone()),
            _ => None,
        })
    }

    /// Every exec upstream of (and including) this state, dependencies first.
    pub fn execs(&self) -> Vec<Exec> {
        self.walk()
            .into_iter()
            .filter_map(|n| match &n.kind {
                OpKind::Exec(spec, _) => Some((**spec).clone()),
                _ => None,
            })
            .collect()
    }

    /// Every distinct node upstream of (and including) this state, dependencies first.
    pub(crate) fn walk(&self) -> Vec<Arc<Node>> {
        let mut order = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let Some(root) = &self.node else { return order };
        // Iterative post-order: deep chains must not overflow the stack.
        let mut stack: Vec<(Arc<Node>, bool)> = vec![(root.clone(), false)];
        while let Some((node, expanded)) = stack.pop() {
            let key = Arc::as_ptr(&node) as usize;
            if expanded {
                order.push(node);
                continue;
            }
            if !seen.insert(key) {
                continue;
            }
            stack.push((node.clone(), true));
            for input in node.inputs.iter().rev() {
                if let Some(n) = &input.node
                    && !seen.contains(&(Arc::as_ptr(n) as usize))
                {
                    stack.push((n.clone(), false));
                }
            }
        }
        order
    }
}

impl Node {
    pub(crate) fn new(kind: OpKind, inputs: Vec<State>, platform: Option<pb::Platform>) -> Self {
        let depth = stacked_depth(&kind, &inputs);
        Node {
            kind,
            inputs,
            platform,
            description: BTreeMap::new(),
            ignore_cache: false,
            services: Vec::new(),
            depth,
            encoded: OnceLock::new(),
        }
    }

    /// This node's wire form, computed on first use. Inputs are encoded first, without recursion.
    pub(crate) fn encoded(&self) -> &Encoded {
        if let Some(e) = self.encoded.get() {
            return e;
        }
        // Encode every not-yet-encoded ancestor bottom-up so the call below never recurses deeply.
        let mut pending: Vec<&Node> = vec![self];
        while let Some(&top) = pending.last() {
            let missing: Vec<&Node> = top
                .inputs
                .iter()
                .filter_map(|s| s.node.as_deref())
                .filter(|n| n.encoded.get().is_none())
                .collect();
            if missing.is_empty() {
                pending.pop();
                top.encoded.get_or_init(|| top.encode_shallow());
            } else {
                pending.extend(missing);
            }
        }
        self.encoded.get_or_init(|| self.encode_shallow())
    }

    /// Encodes this node assuming its inputs are already encoded.
    fn encode_shallow(&self) -> Encoded {
        self.encode_with(true, |s| {
            s.node
                .as_ref()
                .map(|n| n.encoded().digest.clone())
                .unwrap_or_default()
        })
    }

    /// The op's encoding, with its inputs' digests from `input_digest`. `scoped`: as sent (roots
    /// carry the process's scope, see [`super::scope`]); else as the same graph is in every session
    /// (no scope, and a download pinned by its checksum is named by the checksum, not by where this
    /// session gets it).
    pub(crate) fn encode_with(
        &self,
        scoped: bool,
        input_digest: impl Fn(&State) -> String,
    ) -> Encoded {
        let inputs = self
            .inputs
            .iter()
            .map(|s| pb::Input {
                digest: input_digest(s),
                index: i64::from(s.output),
            })
            .collect();
        let (op, constraints) = match &self.kind {
            OpKind::Source(s) if !scoped => (Some(pb::op::Op::Source(without_location(s))), None),
            OpKind::Source(s) => (Some(pb::op::Op::Source(s.clone())), None),
            OpKind::Exec(_, e) => (Some(pb::op::Op::Exec(e.clone())), None),
            OpKind::File(f) => (Some(pb::op::Op::File(f.clone())), None),
            OpKind::Raw(raw) => (raw.op.clone(), raw.constraints.clone()),
        };
        let constraints = if self.inputs.is_empty() && scoped {
            Some(super::scope::root_constraints(constraints))
        } else {
            constraints
        };
        let pb_op = pb::Op {
            inputs,
            platform: self.platform.clone(),
            constraints,
            op,
        };
        let bytes = pb_op.encode_to_vec();
        Encoded {
            digest: digest_of(&bytes),
            bytes,
        }
    }

    pub(crate) fn metadata(&self) -> pb::OpMetadata {
        pb::OpMetadata {
            ignore_cache: self.ignore_cache,
            description: self.description.clone(),
            ..Default::default()
        }
    }
}

/// The layer depth of a new op over `inputs` (see [`State::stack_depth`]).
fn stacked_depth(kind: &OpKind, inputs: &[State]) -> u32 {
    let under = match kind {
        OpKind::Source(_) => return 0,
        // A merge stacks every layer of every input.
        OpKind::Raw(pb::Op {
            op: Some(pb::op::Op::Merge(_)),
            ..
        }) => return inputs.iter().map(State::stack_depth).sum(),
        OpKind::Exec(..) | OpKind::Raw(_) => {
            inputs.iter().map(State::stack_depth).max().unwrap_or(0)
        }
        // The first action writes on the op's base; later ones chain on earlier actions' outputs.
        OpKind::File(f) => f
            .actions
            .first()
            .and_then(|a| usize::try_from(a.input).ok())
            .and_then(|i| inputs.get(i))
            .map_or(0, State::stack_depth),
    };
    under.saturating_add(1)
}

impl Drop for Node {
    // A long chain of nodes would otherwise be dropped recursively, one stack frame per node.
    fn drop(&mut self) {
        let mut stack: Vec<Arc<Node>> = self.inputs.drain(..).filter_map(|s| s.node).collect();
        if let OpKind::Exec(spec, _) = &mut self.kind {
            stack.extend(spec.take_states().into_iter().filter_map(|s| s.node));
        }
        while let Some(node) = stack.pop() {
            if let Ok(mut inner) = Arc::try_unwrap(node) {
                stack.extend(inner.inputs.drain(..).filter_map(|s| s.node));
                if let OpKind::Exec(spec, _) = &mut inner.kind {
                    stack.extend(spec.take_states().into_iter().filter_map(|s| s.node));
                }
            }
        }
    }
}

/// BuildKit's digest of a byte string: `sha256:<hex>`.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Collects the distinct inputs of an op being built and hands out their indexes.
#[derive(Default)]
pub(crate) struct Inputs {
    states: Vec<State>,
}

impl Inputs {
    /// The index of `state` among the op's inputs, adding it if new; `-1` for scratch.
    pub(crate) fn index(&mut self, state: &State) -> i64 {
        if state.is_scratch() {
            return -1;
        }
        if let Some(i) = self.states.iter().position(|s| {
            s.output == state.output
                && match (&s.node, &state.node) {
                    (Some(a), Some(b)) => {
                        Arc::ptr_eq(a, b) || a.encoded().digest == b.encoded().digest
                    }
                    _ => false,
                }
        }) {
            return i as i64;
        }
        self.states.push(state.clone());
        (self.states.len() - 1) as i64
    }

    pub(crate) fn len(&self) -> i64 {
        self.states.len() as i64
    }

    pub(crate) fn into_states(self) -> Vec<State> {
        self.states
    }
}

/// `source` as the same file is in every session: an HTTP download pinned by its checksum is that
/// file wherever it is fetched from (the daemon keys it by the checksum alone), so its URL (which
/// may name this session's own server) is left out.
fn without_location(source: &pb::SourceOp) -> pb::SourceOp {
    match source.attrs.get("http.checksum") {
        Some(checksum) => pb::SourceOp {
            identifier: format!("checksum:{checksum}"),
            attrs: source.attrs.clone(),
        },
        None => source.clone(),
    }
}
