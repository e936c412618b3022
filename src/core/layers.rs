//! Layer stacks. Every exec or file op writes a new filesystem layer on top of its input, and the
//! daemon's snapshotter mounts the whole stack as overlay lower directories, refusing stacks
//! deeper than its limit (125 layers in Docker's layer store, image layers included). Long
//! pipelines are therefore flattened, by copying the filesystem onto an empty one, before an op
//! would stack past [`MAX_STACK_DEPTH`].

use crate::llb::{Chown, FileAction, Platform, State};

/// Layers a pipeline may stack on its source before it is flattened; leaves room for the
/// image's own layers under the snapshotter's limit.
pub const MAX_STACK_DEPTH: u32 = 90;

/// `state` itself, or a flattened copy of it when one more layer would pass [`MAX_STACK_DEPTH`].
pub fn bounded(state: State, platform: &Platform) -> State {
    if state.stack_depth() < MAX_STACK_DEPTH {
        return state;
    }
    copy_onto_scratch(state, "/", None, platform, Some("flatten layers".into()))
}

/// The contents of `src` in `from`, copied to the root of an empty filesystem (one layer),
/// owned by `owner` when given and keeping their ownership otherwise.
pub fn copy_onto_scratch(
    from: State,
    src: &str,
    owner: Option<Chown>,
    platform: &Platform,
    description: Option<String>,
) -> State {
    let copy = FileAction::Copy {
        from,
        src: src.to_owned(),
        dest: "/".into(),
        contents_only: true,
        create_parents: true,
        owner,
        mode: None,
        include: vec![],
        exclude: vec![],
        timestamp: None,
    };
    State::scratch().file(vec![copy], Some(platform), description)
}

/// `src` in `from` (a directory's contents, or a file) copied to `dest` on an empty filesystem, every
/// file's modification time set to `unix_seconds` (for reproducible outputs).
pub fn retimed(
    from: State,
    src: &str,
    dest: &str,
    unix_seconds: i64,
    platform: &Platform,
) -> State {
    let copy = FileAction::Copy {
        from,
        src: src.to_owned(),
        dest: dest.to_owned(),
        // For a directory this copies its contents; a file is copied as itself either way.
        contents_only: true,
        create_parents: true,
        owner: None,
        mode: None,
        include: vec![],
        exclude: vec![],
        timestamp: Some(unix_seconds.saturating_mul(1_000_000_000)),
    };
    State::scratch().file(
        vec![copy],
        Some(platform),
        Some(format!("set timestamps to {unix_seconds}")),
    )
}

/// `actions` applied to `state`, flattening it first if the stack is too deep.
pub fn write_on(
    state: &State,
    actions: Vec<FileAction>,
    platform: &Platform,
    what: String,
) -> State {
    bounded(state.clone(), platform).file(actions, Some(platform), Some(what))
}

/// The LLB capability for stacking filesystems without copying them.
pub const MERGE_OP_CAP: &str = "mergeop";

/// What copying a whole tree to the root of `base` would give, made by the daemon's merge op
/// instead: the tree's layers stacked on `base`'s, nothing copied. Only where the two agree: the
/// daemon has the op (`can_merge`), the copy targets `base`'s root, and it takes the whole of a
/// filesystem (the source's directory is its root), unfiltered and with its own ownership (`plain`). Where an
/// entry exists on both sides the source's wins, with its metadata, as a copy does; a directory of
/// the source over a non-directory of `base`, which a copy refuses, replaces it. `None` where the
/// merge does not apply: copy.
pub fn merged_copy(
    can_merge: bool,
    base: &State,
    target: &str,
    (source, source_dir): (&State, &str),
    plain: bool,
    platform: &Platform,
    description: String,
) -> Option<State> {
    if !(can_merge && plain && target == "/" && source_dir == "/") {
        return None;
    }
    Some(bounded(
        State::merge(&[base.clone(), source.clone()], Some(description)),
        platform,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llb::ImageSource;

    #[test]
    fn deep_stacks_are_flattened_and_start_over() {
        let platform = Platform::linux("amd64");
        let mut state = ImageSource {
            reference: "docker.io/library/busybox:latest".into(),
            platform: None,
        }
        .build();
        for i in 0..500 {
            let action = FileAction::Mkdir {
                path: format!("/d{i}"),
                mode: 0o755,
                parents: true,
                owner: None,
            };
            state = write_on(&state, vec![action], &platform, format!("mkdir {i}"));
            assert!(state.stack_depth() <= MAX_STACK_DEPTH, "step {i}");
        }
        assert!(state.stack_depth() >= 2);
    }

    #[test]
    fn shallow_states_are_left_alone() {
        let platform = Platform::linux("amd64");
        let state = ImageSource {
            reference: "docker.io/library/busybox:latest".into(),
            platform: None,
        }
        .build();
        assert_eq!(bounded(state.clone(), &platform), state);
        assert_eq!(state.stack_depth(), 0);
    }
}
