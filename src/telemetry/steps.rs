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

/// Where a step's span goes: the span context of the solve that sent its op, and that op's digest.
#[derive(Clone)]
struct Origin {
    solve: Context,
    op: String,
}

/// The solves that sent each op, by the op's digest (the first solve to send an op keeps it: later
/// ones share its vertex) and by its step name, for daemons that rewrite ops before solving them
/// (Docker 28's BuildKit reports other digests than the ones it was sent; there the latest solve
/// to send a step of that name takes it).
#[derive(Default)]
struct Origins {
    by_digest: HashMap<String, Origin>,
    by_name: HashMap<String, Origin>,
}

impl Origins {
    fn of(&self, step: &StepStatus) -> Option<Origin> {
        self.by_digest
            .get(&step.digest)
            .or_else(|| self.by_name.get(&step.name))
            .cloned()
    }
}

fn origins() -> &'static Mutex<Origins> {
    static ORIGINS: OnceLock<Mutex<Origins>> = OnceLock::new();
    ORIGINS.get_or_init(Mutex::default)
}

/// Notes that the ops `sent` (each digest with its step name, if it has one) were sent by the
/// solve whose span is `solve`: their steps' spans go under it.
pub fn note_solve(solve: &tracing::Span, sent: &[(String, Option<String>)]) {
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let cx = solve.context();
    let mut origins = origins().locked();
    if origins.by_digest.len() + sent.len() > MAX_PARENTS {
        *origins = Origins::default();
    }
    for (digest, name) in sent {
        let origin = Origin {
            solve: cx.clone(),
            op: digest.clone(),
        };
        if let Some(name) = name {
            origins.by_name.insert(name.clone(), origin.clone());
        }
        origins.by_digest.entry(digest.clone()).or_insert(origin);
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
        let origin = origins().locked().of(step);
        let (parent, op) = match origin {
            Some(o) => (o.solve, o.op),
            None => (self.fallback.clone(), step.digest.clone()),
        };
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
                KeyValue::new("dirk.op", op),
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
