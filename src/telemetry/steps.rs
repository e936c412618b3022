//! A span for every step of a pipeline (exec, copy, pull, export, push), built from the daemon's
//! progress stream, so that traces show each step even on daemons that export no spans of their
//! own (Docker 20.10's BuildKit). A step's span carries the name progress shows, the daemon's start
//! and end times, whether it came from the cache, and its error; it hangs under the solve that
//! sent its vertex (or, for steps the session runs itself, under the session).

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, KeyValue};

use crate::core::progress::StepStatus;
use crate::sync::Locked;

/// How many vertex digests are remembered for their solve's span before the oldest are dropped.
const MAX_PARENTS: usize = 100_000;

/// The span context of the solve that sent each vertex, by digest.
fn parents() -> &'static Mutex<HashMap<String, Context>> {
    static PARENTS: OnceLock<Mutex<HashMap<String, Context>>> = OnceLock::new();
    PARENTS.get_or_init(Mutex::default)
}

/// Notes that `digests` were sent by the solve whose span is `solve`: their steps' spans go
/// under it. The first solve to send a vertex keeps it.
pub fn note_solve(solve: &tracing::Span, digests: &[String]) {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let cx = solve.context();
    let mut map = parents().locked();
    if map.len() + digests.len() > MAX_PARENTS {
        map.clear();
    }
    for d in digests {
        map.entry(d.clone()).or_insert_with(|| cx.clone());
    }
}

/// Turns finished steps into spans, each once.
pub struct StepRecorder {
    /// Where steps whose solve is unknown go (the session's span context).
    fallback: Context,
    done: HashSet<(String, Option<SystemTime>)>,
}

impl StepRecorder {
    /// A recorder whose steps of unknown origin hang under `fallback`.
    pub fn new(fallback: &tracing::Span) -> Self {
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        StepRecorder {
            fallback: fallback.context(),
            done: HashSet::new(),
        }
    }

    /// Records `step` as a span once it has finished (later reports of it are ignored).
    pub fn record(&mut self, step: &StepStatus) {
        let Some(completed) = step.completed else {
            return;
        };
        if !self.done.insert((step.digest.clone(), step.started)) {
            return;
        }
        let parent = parents()
            .locked()
            .get(&step.digest)
            .cloned()
            .unwrap_or_else(|| self.fallback.clone());
        if !parent.span().span_context().is_valid() {
            return;
        }
        let tracer = opentelemetry::global::tracer("dirk");
        let mut span = tracer
            .span_builder(step.name.clone())
            .with_kind(SpanKind::Internal)
            .with_start_time(step.started.unwrap_or(completed))
            .with_attributes([
                KeyValue::new("buildkit.vertex", step.digest.clone()),
                KeyValue::new("buildkit.cached", step.cached),
            ])
            .start_with_context(&tracer, &parent);
        if !step.error.is_empty() {
            span.set_status(Status::error(step.error.clone()));
            span.set_attribute(KeyValue::new("error.message", step.error.clone()));
        }
        span.end_with_timestamp(completed);
    }
}
