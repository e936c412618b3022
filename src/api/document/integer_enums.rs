//! Integer enum literals. The 0.6 Node SDK numbers enum members alphabetically and sends the number
//! (`sharing: 0`), which GraphQL validation rejects. Every enum argument of the served schema has a
//! name used by no other argument, so such literals are rewritten, before validation, into the enum
//! value the SDK meant. Spec-correct clients never send them and are unaffected.

use async_graphql::Name;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};
use async_graphql_value::Value;

/// By argument name: the enum's values in the order the Node SDK numbers them.
const BY_ARGUMENT: [(&str, &[&str]); 4] = [
    ("sharing", &["LOCKED", "PRIVATE", "SHARED"]),
    ("protocol", &["TCP", "UDP"]),
    (
        "forcedCompression",
        &["EStarGZ", "Gzip", "Uncompressed", "Zstd"],
    ),
    ("mediaTypes", &["DockerMediaTypes", "OCIMediaTypes"]),
];

fn rewrite(argument: &str, value: &mut Value) {
    let Some((_, names)) = BY_ARGUMENT.iter().find(|(a, _)| *a == argument) else {
        return;
    };
    if let Value::Number(n) = value
        && let Some(name) = n.as_u64().and_then(|i| names.get(i as usize))
    {
        *value = Value::Enum(Name::new(name));
    }
}

/// Rewrites integer literals of enum arguments throughout `doc` (iteratively: documents nest deep).
pub(super) fn rewrite_integer_enums(doc: &mut ExecutableDocument) {
    let mut pending: Vec<&mut SelectionSet> = Vec::new();
    match &mut doc.operations {
        DocumentOperations::Single(op) => pending.push(&mut op.node.selection_set.node),
        DocumentOperations::Multiple(ops) => {
            for op in ops.values_mut() {
                pending.push(&mut op.node.selection_set.node);
            }
        }
    }
    for fragment in doc.fragments.values_mut() {
        pending.push(&mut fragment.node.selection_set.node);
    }
    while let Some(set) = pending.pop() {
        for item in set.items.iter_mut() {
            match &mut item.node {
                Selection::Field(field) => {
                    for (name, value) in field.node.arguments.iter_mut() {
                        rewrite(name.node.as_str(), &mut value.node);
                    }
                    pending.push(&mut field.node.selection_set.node);
                }
                Selection::InlineFragment(fragment) => {
                    pending.push(&mut fragment.node.selection_set.node);
                }
                Selection::FragmentSpread(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewritten(query: &str) -> String {
        let mut doc = super::super::parse(query).unwrap_or_else(|e| panic!("{e}"));
        rewrite_integer_enums(&mut doc);
        format!("{doc:?}")
    }

    #[test]
    fn integers_become_the_enum_values_the_sdk_meant() {
        let out = rewritten(
            r#"{ a { withMountedCache(path: "/c", cache: "x", sharing: 0) { b(protocol: 1, mediaTypes: 1, forcedCompression: 3) } } }"#,
        );
        for expected in [
            "Enum(Name(\"LOCKED\"))",
            "Enum(Name(\"UDP\"))",
            "Enum(Name(\"OCIMediaTypes\"))",
            "Enum(Name(\"Zstd\"))",
        ] {
            assert!(out.contains(expected), "{expected} missing from {out}");
        }
    }

    #[test]
    fn other_arguments_and_out_of_range_values_are_left_alone() {
        let out = rewritten(r#"{ a(sharing: 7, other: 0, protocol: TCP) }"#);
        assert!(out.contains("Number(Number(7))"), "{out}");
        assert!(out.contains("Number(Number(0))"), "{out}");
        assert!(out.contains("Enum(Name(\"TCP\"))"), "{out}");
    }
}
