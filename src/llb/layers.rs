//! Filesystem layer arithmetic: BuildKit's merge op (stacking whole filesystems without copying)
//! and diff op (what one filesystem changes relative to another). Daemons announce them as the
//! `mergeop` and `diffop` capabilities; callers check those before building such states.

use super::node::{Node, OpKind};
use super::{Platform, State, pb};

impl State {
    /// `layers` stacked in order, each later one winning where they overlap; deletions a layer
    /// carries (a diff's) apply to the ones below it. Scratch layers add nothing and are left out.
    pub fn merge(layers: &[State], description: Option<String>) -> State {
        let layers: Vec<State> = layers.iter().filter(|s| !s.is_scratch()).cloned().collect();
        if layers.len() < 2 {
            return layers.into_iter().next().unwrap_or_else(State::scratch);
        }
        let op = pb::MergeOp {
            inputs: (0..layers.len() as i64)
                .map(|input| pb::MergeInput { input })
                .collect(),
        };
        raw_node(pb::op::Op::Merge(op), layers, None, description)
    }

    /// What `upper` adds, changes and deletes relative to `lower`. Read directly, it holds the
    /// added and changed entries (with their parent directories); merged onto another state or
    /// exported as a layer, its deletions apply as well.
    pub fn diff(
        lower: &State,
        upper: &State,
        platform: Option<&Platform>,
        description: Option<String>,
    ) -> State {
        let mut inputs = Vec::new();
        let mut index = |s: &State| {
            if s.is_scratch() {
                return -1;
            }
            inputs.push(s.clone());
            inputs.len() as i64 - 1
        };
        let op = pb::DiffOp {
            lower: Some(pb::LowerDiffInput {
                input: index(lower),
            }),
            upper: Some(pb::UpperDiffInput {
                input: index(upper),
            }),
        };
        raw_node(pb::op::Op::Diff(op), inputs, platform, description)
    }
}

fn raw_node(
    op: pb::op::Op,
    inputs: Vec<State>,
    platform: Option<&Platform>,
    description: Option<String>,
) -> State {
    let raw = pb::Op {
        op: Some(op),
        ..Default::default()
    };
    let mut node = Node::new(OpKind::Raw(raw), inputs, platform.map(Platform::to_pb));
    if let Some(d) = description {
        node.description.insert("llb.customname".into(), d);
    }
    State::from_node(node, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llb::LocalSource;

    fn local(name: &str) -> State {
        LocalSource {
            name: name.into(),
            ..Default::default()
        }
        .build()
    }

    /// The merge or diff op of `state`'s graph.
    fn op_of(state: &State) -> pb::Op {
        use prost::Message;
        let def = state.marshal().unwrap_or_else(|| panic!("no definition"));
        def.pb
            .def
            .iter()
            .filter_map(|b| pb::Op::decode(b.as_slice()).ok())
            .find(|op| matches!(op.op, Some(pb::op::Op::Merge(_) | pb::op::Op::Diff(_))))
            .unwrap_or_else(|| panic!("no merge or diff op"))
    }

    #[test]
    fn merge_leaves_out_scratch_and_collapses_a_single_layer() {
        let (a, b) = (local("a"), local("b"));
        assert!(State::merge(&[], None).is_scratch());
        assert_eq!(State::merge(&[State::scratch(), a.clone()], None), a);
        let merged = State::merge(&[a.clone(), State::scratch(), b.clone()], Some("m".into()));
        let op = op_of(&merged);
        let Some(pb::op::Op::Merge(m)) = op.op else {
            panic!("not a merge: {op:?}")
        };
        assert_eq!(m.inputs.len(), 2);
        assert_eq!(op.inputs.len(), 2);
        assert_eq!(op.inputs[0].digest, a.digest().unwrap_or_default());
        assert_eq!(op.inputs[1].digest, b.digest().unwrap_or_default());
    }

    #[test]
    fn diff_names_scratch_as_no_input() {
        let a = local("a");
        let op = op_of(&State::diff(&State::scratch(), &a, None, None));
        let Some(pb::op::Op::Diff(d)) = op.op else {
            panic!("not a diff: {op:?}")
        };
        assert_eq!(d.lower.map(|l| l.input), Some(-1));
        assert_eq!(d.upper.map(|u| u.input), Some(0));
        assert_eq!(op.inputs.len(), 1);
        let both = op_of(&State::diff(&a, &local("b"), None, None));
        let Some(pb::op::Op::Diff(d)) = both.op else {
            panic!("not a diff: {both:?}")
        };
        assert_eq!(
            (d.lower.map(|l| l.input), d.upper.map(|u| u.input)),
            (Some(0), Some(1))
        );
    }
}
