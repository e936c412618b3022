//! Hostile input, generated: every parser and decoder that reads what users or the daemon send gets
//! random and mutated input, and must answer (accept or refuse) without panicking, with its
//! invariants intact. CI runs a few thousand cases per target; a full run is
//!
//! ```text
//! DIRK_FUZZ_CASES=1000000 cargo test --release --test fuzz -- --nocapture
//! ```
//!
//! `DIRK_FUZZ_SEED` replays a run (each target prints the seed it used).

use std::path::Path;

use bollard_buildkit_proto::fsutil::types::packet::PacketType;
use bollard_buildkit_proto::fsutil::types::{Packet, Stat};
use dirk::buildkit::address::Runner;
use dirk::buildkit::attach::filesend::TreeReceiver;
use dirk::core::paths;
use dirk::core::patterns::{Pattern, split};
use dirk::llb::Platform;

/// A small, fast, seedable generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn new(target: &str) -> Rng {
        let seed = std::env::var("DIRK_FUZZ_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(1)
            })
            | 1;
        println!("fuzz {target}: seed {seed}, {} cases", cases());
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    /// A string of up to `max` pieces, mixing `vocabulary` with arbitrary characters.
    fn text(&mut self, vocabulary: &[&str], max: usize) -> String {
        let mut s = String::new();
        for _ in 0..self.below(max + 1) {
            match self.below(10) {
                0 => s.push(char::from_u32(self.next() as u32 % 0x11_0000).unwrap_or('\u{fffd}')),
                1 => s.push(char::from(self.below(128) as u8)),
                _ => s.push_str(self.pick(vocabulary)),
            }
        }
        s
    }
}

fn cases() -> usize {
    std::env::var("DIRK_FUZZ_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(3000)
}

#[test]
fn fuzz_runner_addresses() {
    let mut rng = Rng::new("runner addresses");
    let vocabulary = [
        "unix://",
        "tcp://",
        "docker-container://",
        "podman-container://",
        "kube-pod://",
        "ssh://",
        "npipe://",
        "/",
        ":",
        "?",
        "&",
        "=",
        "@",
        "[",
        "]",
        "::1",
        "127.0.0.1",
        "1234",
        "65536",
        "-1",
        "cacert",
        "cert",
        "key",
        "context",
        "namespace",
        "container",
        "tlsservername",
        "%",
        "%2F",
        "name",
        " ",
        "",
    ];
    let vars = [
        "_EXPERIMENTAL_DAGGER_RUNNER_HOST",
        "BUILDKIT_HOST",
        "DOCKER_HOST",
        "BUILDKIT_CERT",
    ];
    for _ in 0..cases() {
        let value = rng.text(&vocabulary, 12);
        let var = rng.pick(&vars);
        let got = Runner::from_env(|k| (k == var).then(|| value.clone()));
        if let Err(e) = got {
            // A refusal names what was wrong.
            assert!(!e.to_string().is_empty());
        }
        let _ = Runner::from_argument(&value, |_| None);
    }
}

#[test]
fn fuzz_paths() {
    let mut rng = Rng::new("paths");
    let vocabulary = [
        "/", "..", ".", "a", "b", "//", "../", "./", "\0", "~", " ", "é",
    ];
    for _ in 0..cases() {
        let (base, path) = (rng.text(&vocabulary, 8), rng.text(&vocabulary, 10));
        let _ = paths::check("path", &path);
        let resolved = paths::resolve(&format!("/{base}"), &path);
        assert!(
            resolved.starts_with('/'),
            "{base:?} + {path:?} -> {resolved:?}"
        );
        assert!(
            !resolved.split('/').any(|c| c == ".." || c == "."),
            "{base:?} + {path:?} -> {resolved:?}"
        );
        let clean = paths::clean(&path);
        assert_eq!(
            paths::clean(&clean),
            clean,
            "clean is idempotent for {path:?}"
        );
        let _ = paths::parent(&resolved);
        let _ = paths::base_name(&resolved);
    }
}

#[test]
fn fuzz_patterns() {
    let mut rng = Rng::new("patterns");
    let vocabulary = [
        "*", "**", "?", "[", "]", "!", "^", "-", "\\", "/", "a", "b", ".", "..", "{", "}",
    ];
    for _ in 0..cases() {
        let pattern = rng.text(&vocabulary, 10);
        let path = rng.text(&["a", "b", "/", ".", "*", "?"], 10);
        if let Ok(p) = Pattern::parse(&pattern) {
            let parts = split(&path);
            let _ = p.matches(&parts);
            let _ = p.may_match_below(&parts);
        }
    }
}

#[test]
fn fuzz_platforms() {
    let mut rng = Rng::new("platforms");
    let vocabulary = [
        "linux", "windows", "amd64", "arm64", "arm", "v7", "v8", "/", "//", "386", "x", " ", "-",
        "_",
    ];
    for _ in 0..cases() {
        let text = rng.text(&vocabulary, 6);
        if let Ok(p) = text.parse::<Platform>() {
            // What is accepted prints as something that parses back to the same platform.
            let again = p.to_string().parse::<Platform>();
            assert_eq!(again.as_ref().ok(), Some(&p), "{text:?} -> {p}");
        }
    }
}

#[test]
fn fuzz_ids() {
    let mut rng = Rng::new("IDs");
    let store = dirk::api::ids::IdStore::default();
    let vocabulary = [
        "ctr.", "dir.", "file.", "cache.", "secret.", "socket.", "A", "z", "-", "_", "=", ".",
    ];
    for _ in 0..cases() {
        let id = rng.text(&vocabulary, 50);
        assert!(
            store.container("id", &id).is_err(),
            "{id:?} was accepted by an empty store"
        );
        assert!(store.directory("id", &id).is_err());
        assert!(store.file("id", &id).is_err());
    }
}

#[test]
fn fuzz_graphql_documents() {
    // The session parses on worker threads with 64 MiB stacks (documents nest up to 1,000 levels).
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(graphql_documents)
        .unwrap_or_else(|e| panic!("{e}"))
        .join()
        .unwrap_or_else(|_| panic!("the document fuzzer panicked"));
}

fn graphql_documents() {
    let mut rng = Rng::new("GraphQL documents");
    let vocabulary = [
        "{",
        "}",
        "(",
        ")",
        "[",
        "]",
        ":",
        ",",
        "\"",
        "\\",
        "query",
        "container",
        "from",
        "address",
        "withExec",
        "args",
        "$v",
        "...",
        "on",
        "fragment",
        "#",
        "\n",
        " ",
        "1",
        "-1.5e3",
        "true",
        "\"\"\"",
        "@skip",
        "if",
        "null",
        "id",
    ];
    for _ in 0..cases() {
        let doc = rng.text(&vocabulary, 60);
        let _ = dirk::api::document::parse(&doc);
    }
    // Deep nesting is refused, not a stack overflow.
    let deep = format!("{}{}", "{ a ".repeat(100_000), "}".repeat(100_000));
    assert!(dirk::api::document::parse(&deep).is_err());
}

/// One random DiffCopy packet about a small set of paths, including ones that try to leave the
/// destination directly, through `..`, or through symlinks made earlier in the same transfer.
fn packet(rng: &mut Rng, outside: &Path) -> Packet {
    let outside = outside.display().to_string();
    let names = [
        "a",
        "b",
        "a/b",
        "a/b/c",
        "../x",
        "/etc/x",
        "",
        ".",
        "l",
        "l/x",
        "l/y/z",
        "d/../../x",
    ];
    // Go's file mode type bits: directory, symlink, regular (twice as likely), pipe, socket.
    let go_kinds: [u32; 6] = [1 << 31, 1 << 27, 0, 0, 1 << 25, 1 << 24];
    let k = rng.below(go_kinds.len());
    let stat = Stat {
        path: rng.pick(&names).to_owned(),
        mode: go_kinds[k] | 0o755,
        linkname: match rng.below(4) {
            0 => outside,
            1 => "..".into(),
            2 => rng.pick(&names).to_owned(),
            _ => String::new(),
        },
        mod_time: rng.next() as i64,
        ..Default::default()
    };
    let r#type = match rng.below(8) {
        0..=3 => PacketType::PacketStat,
        4 | 5 => PacketType::PacketData,
        6 => PacketType::PacketFin,
        _ => PacketType::PacketErr,
    };
    Packet {
        r#type: r#type as i32,
        stat: (rng.below(6) != 0).then_some(stat),
        id: rng.below(6) as u32,
        data: (0..rng.below(8)).map(|_| rng.next() as u8).collect(),
    }
}

#[test]
fn fuzz_diffcopy_receiver() {
    let mut rng = Rng::new("DiffCopy receiver");
    let sandbox = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let outside = sandbox.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap_or_else(|e| panic!("{e}"));
    // Each transfer costs a few file operations: a tenth of the cases, at least 300.
    let transfers = (cases() / 10).max(300);
    for n in 0..transfers {
        let root = sandbox.path().join(format!("root-{n}"));
        std::fs::create_dir_all(&root).unwrap_or_else(|e| panic!("{e}"));
        let mut receiver = TreeReceiver::new(&root);
        let mut failed = false;
        for _ in 0..rng.below(24) {
            if receiver.handle(packet(&mut rng, &outside)).is_err() {
                failed = true;
                break;
            }
            if receiver.ended() {
                break;
            }
        }
        if !failed {
            let _ = receiver.finish();
        }
        let escaped: Vec<_> = std::fs::read_dir(&outside)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(
            escaped.is_empty(),
            "transfer {n} wrote outside its destination: {escaped:?}"
        );
        let _ = std::fs::remove_dir_all(&root);
    }
}

/// A JSON value built from the fields a GraphQL request has, with each field missing, null, empty
/// or of the wrong type, nested in objects and batches.
fn request_value(rng: &mut Rng, depth: usize) -> serde_json::Value {
    use serde_json::{Value, json};
    let scalar = |rng: &mut Rng| match rng.below(8) {
        0 => Value::Null,
        1 => json!(""),
        2 => json!(rng.next() as i64),
        3 => json!(rng.below(2) == 0),
        4 => json!("{ defaultPlatform }"),
        5 => json!("query A { a } query B { b }"),
        6 => json!(1.5),
        _ => json!(rng.text(&["A", "B", "{", "}", "\"", "query"], 8)),
    };
    match rng.below(if depth == 0 { 6 } else { 4 }) {
        0..=2 => {
            let mut object = serde_json::Map::new();
            for field in ["query", "operationName", "variables", "extensions", "other"] {
                match rng.below(4) {
                    0 => {}
                    1 if depth < 3 => {
                        object.insert(field.into(), request_value(rng, depth + 1));
                    }
                    _ => {
                        object.insert(field.into(), scalar(rng));
                    }
                }
            }
            Value::Object(object)
        }
        3 if depth < 3 => Value::Array(
            (0..rng.below(4))
                .map(|_| request_value(rng, depth + 1))
                .collect(),
        ),
        _ => scalar(rng),
    }
}

#[test]
fn fuzz_request_bodies() {
    use dirk::session::request::{self, GraphqlRequest};
    let mut rng = Rng::new("request bodies");
    let content_types = [
        "application/json",
        "application/json; charset=utf-8",
        "application/graphql",
        "application/x-www-form-urlencoded",
        "text/plain",
    ];
    for _ in 0..cases() {
        let mut body = request_value(&mut rng, 0).to_string().into_bytes();
        // Sometimes damage it: truncate, or flip a byte.
        match rng.below(6) {
            0 if !body.is_empty() => body.truncate(rng.below(body.len())),
            1 if !body.is_empty() => {
                let i = rng.below(body.len());
                body[i] = rng.next() as u8;
            }
            _ => {}
        }
        let content_type = rng.pick(&content_types);
        match request::from_post(Some(content_type), &body) {
            Ok(GraphqlRequest::Single(r)) => {
                assert!(r.operation_name.as_deref() != Some(""), "{body:?}");
            }
            Ok(GraphqlRequest::Batch(items)) => assert!(!items.is_empty(), "{body:?}"),
            Err(e) => assert!(!e.to_string().is_empty()),
        }
    }
}
