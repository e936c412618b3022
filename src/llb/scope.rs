//! The graph scope: which process a graph's vertices belong to on the daemon.
//!
//! BuildKit keeps one live vertex per op digest and lends it to every build that loads the same
//! op. A vertex that one build executed and still holds (dirk's session build holds everything it
//! solved until the session ends) hands the builds that load it later no cache keys: its keys sit
//! on its result only. Their dependent steps then miss the cache and run again, for as long as the
//! holding session lives. BuildKit v0.8 and v0.13 both behave so.
//!
//! So every op without inputs carries this process's scope in its worker constraints. The daemon
//! ignores worker constraints when it computes cache keys, and every other op's digest follows from
//! its inputs' digests: two sessions' graphs never share a vertex, yet they share every cache
//! record. One dirk process serves one session, so the scope is the process's.

use std::sync::OnceLock;

use super::pb;

/// The prefix of the worker-constraint filter that carries the scope.
const FILTER_PREFIX: &str = "dirk.scope=";

/// This process's scope: random, fixed for the process's life (a constant in unit tests, so that
/// golden digests stay comparable).
fn graph_scope() -> &'static str {
    static SCOPE: OnceLock<String> = OnceLock::new();
    SCOPE.get_or_init(|| {
        if cfg!(test) {
            return "unit-test".to_owned();
        }
        use rand::Rng;
        let mut rng = rand::rng();
        (0..16)
            .map(|_| char::from(b"0123456789abcdef"[rng.random_range(0..16)]))
            .collect()
    })
}

/// The constraints a root op (one without inputs) is sent with: `existing` when it has some (an
/// op taken whole from a frontend's definition), else this process's scope.
pub(crate) fn root_constraints(existing: Option<pb::WorkerConstraints>) -> pb::WorkerConstraints {
    existing.unwrap_or_else(|| pb::WorkerConstraints {
        filter: vec![format!("{FILTER_PREFIX}{}", graph_scope())],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_carry_the_scope_unless_they_have_constraints_of_their_own() {
        assert_eq!(root_constraints(None).filter, vec!["dirk.scope=unit-test"]);
        let own = pb::WorkerConstraints {
            filter: vec!["x".into()],
        };
        assert_eq!(root_constraints(Some(own.clone())), own);
    }
}
