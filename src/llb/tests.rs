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

/// An exec bound to service `svc` as `alias`, and a file op after it.
fn bound_client(alias: &str) -> State {
    let root = ImageSource {
        reference: "docker.io/library/busybox:latest".into(),
        platform: Some(Platform::linux("amd64")),
    }
    .build();
    let exec = Exec {
        args: vec!["wget".into(), format!("http://{alias}/")],
        cwd: "/".into(),
        rootfs: Some(root),
        hosts: vec![
            ExtraHost {
                name: alias.into(),
                addr: HostAddr::Service("svc0000000001".into()),
            },
            ExtraHost {
                name: "svc0000000001".into(),
                addr: HostAddr::Service("svc0000000001".into()),
            },
        ],
        ..Default::default()
    }
    .build();
    exec.root().file(
        vec![FileAction::Mkdir {
            path: "/after".into(),
            mode: 0o755,
            parents: true,
            owner: None,
        }],
        None,
        None,
    )
}

fn extra_hosts(def: &Definition) -> Vec<(String, String)> {
    def.pb
        .def
        .iter()
        .filter_map(|bytes| {
            use prost::Message;
            pb::Op::decode(bytes.as_slice()).ok()
        })
        .filter_map(|op| match op.op {
            Some(pb::op::Op::Exec(e)) => e.meta,
            _ => None,
        })
        .flat_map(|m| m.extra_hosts)
        .map(|h| (h.host, h.ip))
        .collect()
}

#[test]
fn service_addresses_are_given_to_a_copy_of_the_graph() {
    let state = bound_client("www");
    let needed = state.service_aliases();
    assert_eq!(needed.len(), 1);
    assert_eq!(
        needed
            .get("svc0000000001")
            .map(|a| a.iter().cloned().collect::<Vec<_>>()),
        Some(vec!["www".to_owned()])
    );
    let Some(unbound) = state.marshal() else {
        panic!("marshals")
    };
    assert!(
        extra_hosts(&unbound)
            .iter()
            .all(|(_, ip)| ip == "service:svc0000000001"),
        "an unbound graph names no address"
    );
    let addrs =
        std::collections::HashMap::from([("svc0000000001".to_owned(), "172.17.0.9".to_owned())]);
    let bound = state.with_service_addrs(&addrs);
    let Some(def) = bound.marshal() else {
        panic!("marshals")
    };
    assert_eq!(
        extra_hosts(&def),
        vec![
            ("www".to_owned(), "172.17.0.9".to_owned()),
            ("svc0000000001".to_owned(), "172.17.0.9".to_owned())
        ]
    );
    assert_ne!(
        def.head, unbound.head,
        "the step after the exec is copied too"
    );
    assert_eq!(def.pb.def.len(), unbound.pb.def.len());
    assert_eq!(state.stable_digest(), bound_client("www").stable_digest());
    assert_ne!(state.stable_digest(), bound.stable_digest());
    // A graph that names no service is left as it is.
    let plain = sample();
    assert_eq!(plain.with_service_addrs(&addrs).digest(), plain.digest());
}

#[test]
fn stable_digests_leave_the_scope_out() {
    let state = sample();
    let Some(stable) = state.stable_digest() else {
        panic!("not scratch")
    };
    assert_ne!(Some(stable.as_str()), state.digest());
    assert_eq!(state.stable_digest(), sample().stable_digest());
    assert_eq!(State::scratch().stable_digest(), None);
}

#[test]
fn the_image_below_a_chain_is_found_through_the_written_inputs() {
    // sample(): an image, an exec on it (with a scratch mount), a file op on the exec's root.
    let Some((reference, image)) = sample().image_below() else {
        panic!("the chain starts at an image")
    };
    assert_eq!(reference, "docker.io/library/busybox:latest");
    assert_eq!(
        image.digest(),
        ImageSource {
            reference: "docker.io/library/busybox:latest".into(),
            platform: Some(Platform::linux("amd64")),
        }
        .build()
        .digest()
    );
    assert!(State::scratch().image_below().is_none());
    let local = LocalSource {
        name: "ctx".into(),
        ..Default::default()
    }
    .build();
    assert!(local.image_below().is_none());
}

#[test]
fn a_download_pinned_by_checksum_has_one_stable_digest_wherever_it_comes_from() {
    let exec_on = |url: &str, checksum: Option<&str>| {
        let file = HttpSource {
            url: url.into(),
            filename: "shim".into(),
            checksum: checksum.map(str::to_owned),
            ..Default::default()
        }
        .build();
        Exec {
            args: vec!["/x/shim".into()],
            cwd: "/".into(),
            rootfs: Some(State::scratch()),
            mounts: vec![Mount::bind("/x", file, "").readonly()],
            ..Default::default()
        }
        .build()
        .root()
    };
    let pinned = Some("sha256:1234");
    let (a, b) = (
        exec_on("http://127.0.0.1:1111/f", pinned),
        exec_on("http://127.0.0.1:2222/f", pinned),
    );
    assert_ne!(a.digest(), b.digest(), "the daemon is sent the real URL");
    assert_eq!(a.stable_digest(), b.stable_digest());
    assert_ne!(
        exec_on("http://127.0.0.1:1111/f", None).stable_digest(),
        exec_on("http://127.0.0.1:2222/f", None).stable_digest(),
        "an unpinned download is named by its URL"
    );
}
