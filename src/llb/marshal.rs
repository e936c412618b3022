//! Turning a state into the `Definition` BuildKit solves.

use std::collections::{BTreeMap, HashSet};

use super::node::{State, digest_of};
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
