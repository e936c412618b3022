//! Marshalling properties and golden digests.

use super::*;

fn sample() -> State {
    let root = ImageSource {
        reference: "docker.io/library/busybox:latest".into(),
        platform: Some(Platform::linux("amd64")),
    }
    .build();
    let out = Exec {
        args: vec!["echo".into(), "hi".into()],
        env: vec!["PATH=/bin".into()],
        cwd: "/".into(),
        rootfs: Some(root),
        mounts: vec![Mount::bind("/m", State::scratch(), "")],
        platform: Some(Platform::linux("amd64")),
        ..Default::default()
    }
    .build();
    out.root().file(
        vec![FileAction::Mkfile {
            path: "/x".into(),
            mode: 0o644,
            data: b"x".to_vec(),
            owner: None,
        }],
        None,
        None,
    )
}

#[test]
fn golden_digests_are_stable() {
    let Some(def) = sample().marshal() else {
        panic!("sample marshals")
    };
    assert_eq!(def.pb.def.len(), 4, "image, exec, file, terminal");
    assert_eq!(
        def.head, GOLDEN_HEAD,
        "the wire form of LLB changed: digests (and caches) would change with it"
    );
}

const GOLDEN_HEAD: &str = "sha256:8bc208261afc1e6cef222d66ea84d7dc162ea4cff5ba1210c1eb46341ac9a33b";

#[test]
fn marshalling_is_deterministic_and_content_addressed() {
    let a = sample().marshal().map(|d| d.head);
    let b = sample().marshal().map(|d| d.head);
    assert_eq!(a, b);
    let Some(def) = sample().marshal() else {
        panic!("sample marshals")
    };
    // Every op but the terminal has metadata under its digest, and the terminal names the output.
    let digests: Vec<String> = def.pb.def.iter().map(|b| node::digest_of(b)).collect();
    assert_eq!(digests.last(), Some(&def.head));
    for d in &digests[..digests.len() - 1] {
        assert!(def.pb.metadata.contains_key(d), "metadata for {d}");
    }
    let terminal: pb::Op = prost::Message::decode(def.pb.def[3].as_slice()).unwrap_or_default();
    assert_eq!(terminal.inputs.len(), 1);
    assert_eq!(terminal.inputs[0].digest, digests[2]);
    assert!(terminal.op.is_none());
}

#[test]
fn source_attributes_encode_in_one_order() {
    let one = LocalSource {
        name: "n".into(),
        include: vec!["a".into()],
        exclude: vec!["b".into()],
        shared_key_hint: Some("k".into()),
        ..Default::default()
    }
    .build();
    let two = LocalSource {
        name: "n".into(),
        shared_key_hint: Some("k".into()),
        exclude: vec!["b".into()],
        include: vec!["a".into()],
        ..Default::default()
    }
    .build();
    assert_eq!(one.marshal().map(|d| d.head), two.marshal().map(|d| d.head));
}

#[test]
fn shared_inputs_appear_once() {
    let base = ImageSource {
        reference: "docker.io/library/busybox:latest".into(),
        platform: None,
    }
    .build();
    let left = base.file(
        vec![FileAction::Mkdir {
            path: "/l".into(),
            mode: 0o755,
            parents: true,
            owner: None,
        }],
        None,
        None,
    );
    let both = left.file(
        vec![FileAction::Copy {
            from: base.clone(),
            src: "/bin".into(),
            dest: "/b".into(),
            contents_only: true,
            create_parents: true,
            owner: None,
            mode: None,
            include: vec![],
            exclude: vec![],
            timestamp: None,
        }],
        None,
        None,
    );
    let Some(def) = both.marshal() else {
        panic!("marshals")
    };
    assert_eq!(def.pb.def.len(), 4, "image once, two file ops, terminal");
    assert!(State::scratch().marshal().is_none());
}

#[test]
fn long_chains_marshal_and_drop_without_recursion() {
    let mut state = State::scratch();
    for i in 0..20_000 {
        state = state.file(
            vec![FileAction::Mkfile {
                path: format!("/{i}"),
                mode: 0o644,
                data: Vec::new(),
                owner: None,
            }],
            None,
            None,
        );
    }
    let def = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(move || {
            let def = state.marshal().map(|d| d.pb.def.len());
            drop(state);
            def
        });
    let len = def.map(|h| h.join().ok().flatten());
    assert_eq!(len.ok().flatten(), Some(20_001));
}

#[test]
fn exec_outputs_follow_writable_mounts() {
    let out = Exec {
        args: vec!["true".into()],
        rootfs: Some(State::scratch()),
        mounts: vec![
            Mount::bind("/ro", State::scratch(), "").readonly(),
            Mount::bind("/rw", State::scratch(), ""),
            Mount {
                dest: "/cache".into(),
                kind: MountKind::Cache {
                    id: "c".into(),
                    sharing: CacheSharing::Locked,
                    source: None,
                },
                selector: String::new(),
                readonly: false,
            },
        ],
        ..Default::default()
    }
    .build();
    assert_eq!(out.root().output_index(), 0);
    assert_eq!(out.mount("/rw").map(|s| s.output_index()), Some(1));
    assert!(out.mount("/ro").is_none());
    assert!(out.mount("/cache").is_none());
}

#[test]
fn a_definition_read_back_marshals_to_the_same_graph() {
    let Some(def) = sample().marshal() else {
        panic!("sample marshals")
    };
    let state = State::from_definition(&def.pb).unwrap_or_else(|e| panic!("{e}"));
    let Some(again) = state.marshal() else {
        panic!("the read-back state marshals")
    };
    assert_eq!(again.head, def.head);
    assert_eq!(again.pb.def, def.pb.def);
    // Built upon, it is an ordinary input.
    let next = state.file(
        vec![FileAction::Mkdir {
            path: "/d".into(),
            mode: 0o755,
            parents: true,
            owner: None,
        }],
        None,
        None,
    );
    assert_eq!(next.marshal().map(|d| d.pb.def.len()), Some(5));
    // Ops out of order, or no terminal, are refused.
    let mut reversed = def.pb.clone();
    reversed.def.reverse();
    assert!(State::from_definition(&reversed).is_err());
    let mut headless = def.pb.clone();
    headless.def.pop();
    assert!(State::from_definition(&headless).is_err());
}

#[test]
fn only_ops_without_inputs_carry_the_graph_scope() {
    use prost::Message;
    let Some(def) = sample().marshal() else {
        panic!("sample marshals")
    };
    let scoped: Vec<bool> = def.pb.def[..def.pb.def.len() - 1]
        .iter()
        .map(|bytes| {
            let op = pb::Op::decode(bytes.as_slice()).unwrap_or_default();
            op.constraints
                .is_some_and(|c| c.filter.iter().any(|f| f.starts_with("dirk.scope=")))
        })
        .collect();
    assert_eq!(scoped, vec![true, false, false], "image, exec, file");
}
