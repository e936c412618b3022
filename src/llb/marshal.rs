//! Turning a state into the `Definition` BuildKit solves.

use std::collections::{BTreeMap, HashMap, HashSet};

use prost::Message;

use super::node::{Node, OpKind, State, digest_of};
use super::pb;

/// A marshalled graph: every op once, dependencies first, then a terminal op naming the output.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    /// The wire form.
    pub pb: pb::Definition,
    /// Digest of the terminal op: identical graphs with the same output have the same head.
    pub head: String,
}

impl State {
    /// Serialises the graph that produces this state. Returns `None` for scratch, which needs no solve.
    pub fn marshal(&self) -> Option<Definition> {
        let root = self.node.as_ref()?;
        let nodes = self.walk();
        let mut seen = HashSet::with_capacity(nodes.len());
        let mut def = Vec::with_capacity(nodes.len() + 1);
        let mut metadata = BTreeMap::new();
        for node in &nodes {
            let enc = node.encoded();
            if seen.insert(enc.digest.clone()) {
                def.push(enc.bytes.clone());
                metadata.insert(enc.digest.clone(), node.metadata());
            }
        }
        let terminal = pb::Op {
            inputs: vec![pb::Input {
                digest: root.encoded().digest.clone(),
                index: i64::from(self.output),
            }],
            ..Default::default()
        };
        let bytes = prost::Message::encode_to_vec(&terminal);
        let head = digest_of(&bytes);
        def.push(bytes);
        Some(Definition {
            pb: pb::Definition {
                def,
                metadata,
                source: None,
            },
            head,
        })
    }
}

/// Why a definition received from elsewhere cannot be taken into a graph.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unusable LLB definition: {0}")]
pub struct DefinitionError(String);

impl State {
    /// The state a definition produces (its terminal op's input), rebuilt as nodes of this graph so
    /// that it can be built upon. Ops must come dependencies first, as BuildKit writes them.
    pub fn from_definition(def: &pb::Definition) -> Result<State, DefinitionError> {
        let mut by_digest: HashMap<String, State> = HashMap::with_capacity(def.def.len());
        let mut terminal = None;
        for bytes in &def.def {
            let digest = digest_of(bytes);
            let op = pb::Op::decode(bytes.as_slice())
                .map_err(|e| DefinitionError(format!("op {digest}: {e}")))?;
            let inputs = op
                .inputs
                .iter()
                .map(|input| {
                    let node = by_digest.get(&input.digest).ok_or_else(|| {
                        DefinitionError(format!(
                            "op {digest} uses {} before it is defined",
                            input.digest
                        ))
                    })?;
                    let output = u32::try_from(input.index).map_err(|_| {
                        DefinitionError(format!("op {digest}: bad output index {}", input.index))
                    })?;
                    Ok(State {
                        node: node.node.clone(),
                        output,
                    })
                })
                .collect::<Result<Vec<State>, DefinitionError>>()?;
            if op.op.is_none() {
                terminal = inputs.into_iter().next();
                continue;
            }
            let platform = op.platform.clone();
            let mut node = Node::new(OpKind::Raw(op), inputs, platform);
            if let Some(meta) = def.metadata.get(&digest) {
                node.description = meta.description.clone();
                node.ignore_cache = meta.ignore_cache;
            }
            by_digest.insert(digest, State::from_node(node, 0));
        }
        terminal.ok_or_else(|| DefinitionError("it has no terminal op".into()))
    }
}
