//! The session's parser must read every document the way async-graphql's own parser does (same
//! tree, same positions), and go deeper.

use async_graphql::parser::parse_query;

use super::*;

/// Both parse results as JSON (maps compare regardless of order).
fn both(source: &str) -> (serde_json::Value, serde_json::Value) {
    let ours = parse(source).map_err(|e| e.to_string());
    let theirs = parse_query(source).map_err(|e| e.to_string());
    match (ours, theirs) {
        (Ok(a), Ok(b)) => (
            serde_json::to_value(a).unwrap_or_default(),
            serde_json::to_value(b).unwrap_or_default(),
        ),
        (a, b) => panic!(
            "{source:?}: ours {:?}, async-graphql {:?}",
            a.err(),
            b.err()
        ),
    }
}

const DOCUMENTS: &[&str] = &[
    "{ a }",
    "query { container { from(address: \"alpine\") { withExec(args: [\"echo\", \"hi\"]) { stdout } } } }",
    "query Named($id: ContainerID!, $n: [Int!] = [1, 2], $o: In = {a: {b: null}}) @dir(x: 1) {\n  container(id: $id) { id }\n}",
    "{ x: container { y: withEnvVariable(name: \"A\", value: \"\\\"q\\\"\\n\") { envVariable(name: \"A\") } } }",
    "query A { a } query B { ...F ... on Query { b } ... @skip(if: true) { c } }\nfragment F on Query { d(e: ENUM_VALUE, f: -1.5e-3, g: 0, h: false) }",
    "# leading comment\n{\r\n  a(s: \"\"\"\n    block\n      string\n  \"\"\") # trailing\n  , b\n}",
    "mutation M { a } subscription S { b }",
    "{ a(list: [[1], [], [{k: [true]}]], obj: {}) @include(if: $v) }",
];

#[test]
fn same_tree_and_positions_as_async_graphql() {
    for source in DOCUMENTS {
        let (ours, theirs) = both(source);
        assert_eq!(ours, theirs, "{source}");
    }
}

#[test]
fn rejects_what_async_graphql_rejects() {
    let bad = [
        "",
        "{",
        "{ }",
        "{ a(x: ) }",
        "{ a() }",
        "{ a(x: 1 }",
        "query ($x) { a }",
        "query ($x: Int = $y) { a }",
        "{ a } { b }",
        "query A { a } { b }",
        "query A { a } query A { b }",
        "fragment F on X { a } fragment F on X { b } { c }",
        "{ a(x: 01) }",
        "{ a(x: \"unterminated) }",
        "fragment F on X { a }",
        "{ a } }",
        "{ ... F }x",
    ];
    for source in bad {
        assert!(parse(source).is_err(), "{source:?} should not parse");
        assert!(
            parse_query(source).is_err(),
            "{source:?}: async-graphql accepts it"
        );
    }
}

#[test]
fn stricter_than_async_graphql_where_the_spec_is() {
    assert!(parse("fragment on on X { a } { ...on }").is_err());
    assert!(parse("{ a(o: {k: 1, k: 2}) }").is_err());
}

fn chain(depth: usize) -> String {
    let mut q = String::from("{ container { from(address: \"busybox\") ");
    for i in 0..depth {
        q.push_str(&format!("{{ withExec(args: [\"echo\", \"{i}\"]) "));
    }
    q.push_str("{ stdout }");
    q.push_str(&"}".repeat(depth));
    q.push_str(" } }");
    q
}

/// Runs `f` on a thread with the stack the session's workers have.
fn on_session_stack(f: impl FnOnce() + Send + 'static) {
    let joined = std::thread::Builder::new()
        .stack_size(crate::session::WORKER_STACK_BYTES)
        .spawn(f)
        .map(|t| t.join());
    assert!(matches!(joined, Ok(Ok(()))), "parser thread failed");
}

#[test]
fn deep_pipelines_parse() {
    on_session_stack(|| {
        let doc = parse(&chain(MAX_NESTING - 3));
        assert!(doc.is_ok(), "{:?}", doc.err());
    });
    assert!(
        parse_query(chain(200)).is_err(),
        "async-graphql stops at 64"
    );
}

#[test]
fn nesting_beyond_the_budget_is_an_error_not_a_crash() {
    on_session_stack(nesting_beyond_the_budget);
}

fn nesting_beyond_the_budget() {
    let e = parse(&chain(5_000))
        .err()
        .map(|e| e.message)
        .unwrap_or_default();
    assert!(e.contains("deeper than 1000 levels"), "{e}");
    let deep_list = format!(
        "{{ a(x: {}1{}) }}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(parse(&deep_list).is_err());
    let deep_type = format!(
        "query ($x: {}Int{}) {{ a }}",
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    assert!(parse(&deep_type).is_err());
}

#[test]
fn errors_name_line_and_column() {
    let e = parse("{\n  a(x: ?)\n}").err();
    assert_eq!(
        e.map(|e| e.to_string()),
        Some("syntax error at line 2, column 8: unexpected character '?'".to_owned())
    );
    let e = parse("{ a(x: 1 }")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(
        e,
        "syntax error at line 1, column 10: expected a name, found \"}\""
    );
}
