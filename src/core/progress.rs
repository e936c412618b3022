//! Progress, in one vocabulary for everyone who shows it: the steps of a pipeline (started,
//! finished, cached, failed) and what their commands print, as [`ProgressEvent`]s. The engine
//! converts the daemon's status stream into them; steps the session carries out itself (pushing an
//! image to a registry) are announced through a [`ProgressSink`] and become the same events.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

/// One step's state: started, then completed (with an error when it failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalStep {
    /// Unique within the session.
    pub id: String,
    /// What the step does, as progress shows it.
    pub name: String,
    pub started: SystemTime,
    pub completed: Option<SystemTime>,
    pub error: Option<String>,
}

/// Where local steps are announced; any number of watchers may subscribe.
#[derive(Debug, Clone)]
pub struct ProgressSink {
    tx: tokio::sync::broadcast::Sender<LocalStep>,
}

impl Default for ProgressSink {
    fn default() -> Self {
        ProgressSink {
            tx: tokio::sync::broadcast::channel(1024).0,
        }
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

impl ProgressSink {
    /// Local steps from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<LocalStep> {
        self.tx.subscribe()
    }

    /// Announces a step that starts now; report its end through the returned handle.
    pub fn start(&self, name: impl Into<String>) -> StepHandle {
        let step = LocalStep {
            id: format!("dirk-step-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed)),
            name: name.into(),
            started: SystemTime::now(),
            completed: None,
            error: None,
        };
        // Nobody watching is fine: progress is optional.
        let _ = self.tx.send(step.clone());
        StepHandle {
            tx: self.tx.clone(),
            step,
        }
    }
}

/// A running local step.
pub struct StepHandle {
    tx: tokio::sync::broadcast::Sender<LocalStep>,
    step: LocalStep,
}

impl StepHandle {
    /// Ends the step with `result`'s outcome and passes the result on.
    pub fn finish<T, E: std::fmt::Display>(mut self, result: Result<T, E>) -> Result<T, E> {
        self.step.completed = Some(SystemTime::now());
        if let Err(e) = &result {
            self.step.error = Some(e.to_string());
        }
        let _ = self.tx.send(self.step.clone());
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watchers_see_start_and_end() {
        let sink = ProgressSink::default();
        let mut rx = sink.subscribe();
        let ok: Result<u8, String> = sink.start("push a").finish(Ok(1));
        assert_eq!(ok, Ok(1));
        let _ = sink
            .start("push b")
            .finish::<(), _>(Err("refused".to_owned()));
        let events: Vec<LocalStep> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert_eq!(events.len(), 4);
        assert_eq!(events[0].name, "push a");
        assert!(events[0].completed.is_none());
        assert!(events[1].completed.is_some() && events[1].error.is_none());
        assert_eq!(events[3].error.as_deref(), Some("refused"));
        assert_eq!(events[2].id, events[3].id);
    }
}

/// A step (vertex) of the build, as last reported.
#[derive(Debug, Clone, PartialEq)]
pub struct StepStatus {
    /// The vertex digest.
    pub digest: String,
    /// Its name (for execs, dirk names them `exec <args>`).
    pub name: String,
    /// Answered from the cache.
    pub cached: bool,
    /// When it started, if it has.
    pub started: Option<SystemTime>,
    /// When it finished, if it has.
    pub completed: Option<SystemTime>,
    /// Why it failed (empty when it did not).
    pub error: String,
}

/// One thing the daemon reported.
#[derive(Debug, Clone, PartialEq)]
pub enum ProgressEvent {
    /// A step changed state.
    Step(StepStatus),
    /// Output of a step's command.
    Log {
        /// The vertex digest.
        digest: String,
        /// 1 for standard output, 2 for standard error.
        stream: i64,
        /// The bytes written.
        data: Vec<u8>,
    },
}

impl ProgressEvent {
    /// The event with `f` applied to every text it carries (names, errors, command output).
    pub fn map_text(self, f: impl Fn(&str) -> String) -> ProgressEvent {
        match self {
            ProgressEvent::Step(step) => ProgressEvent::Step(StepStatus {
                name: f(&step.name),
                error: f(&step.error),
                ..step
            }),
            ProgressEvent::Log {
                digest,
                stream,
                data,
            } => ProgressEvent::Log {
                digest,
                stream,
                data: match String::from_utf8(data) {
                    Ok(text) => f(&text).into_bytes(),
                    Err(e) => e.into_bytes(),
                },
            },
        }
    }
}

impl From<LocalStep> for ProgressEvent {
    fn from(step: LocalStep) -> Self {
        ProgressEvent::Step(StepStatus {
            digest: step.id,
            name: step.name,
            cached: false,
            started: Some(step.started),
            completed: step.completed,
            error: step.error.unwrap_or_default(),
        })
    }
}
