//! Live progress on standard error, from the daemon's status stream: `plain` prints one line per
//! event (for CI logs), `tty` keeps a compact view of running steps with their elapsed time and last
//! output lines, and prints each step once it is done, cached or failed. A failed step always shows
//! its command and the last lines it printed.

use std::collections::{HashMap, VecDeque};
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant, SystemTime};

use clap::ValueEnum;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use dirk::core::progress::{ProgressEvent, StepStatus};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// `tty` on a terminal, `plain` otherwise.
    Auto,
    /// A compact view, redrawn in place.
    Tty,
    /// One line per event.
    Plain,
    /// Nothing.
    None,
}

/// Output lines kept per step (shown for running steps in `tty` mode and for failures).
const TAIL_LINES: usize = 10;
/// Output lines shown under a running step in `tty` mode.
const LIVE_LINES: usize = 3;

#[derive(Debug, Default)]
struct Step {
    index: usize,
    name: String,
    started: Option<SystemTime>,
    completed: Option<SystemTime>,
    cached: bool,
    error: String,
    tail: VecDeque<String>,
    partial: String,
    announced: bool,
    finished: bool,
}

impl Step {
    fn seconds(&self) -> f64 {
        match (self.started, self.completed) {
            (Some(s), Some(c)) => c.duration_since(s).map(|d| d.as_secs_f64()).unwrap_or(0.0),
            _ => 0.0,
        }
    }

    /// Adds output; returns the complete lines it contained.
    fn push_output(&mut self, data: &[u8]) -> Vec<String> {
        self.partial.push_str(&String::from_utf8_lossy(data));
        let mut lines = Vec::new();
        while let Some(i) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=i).collect();
            let line = line.trim_end_matches(['\n', '\r']).to_owned();
            self.tail.push_back(line.clone());
            if self.tail.len() > TAIL_LINES {
                self.tail.pop_front();
            }
            lines.push(line);
        }
        lines
    }
}

/// What the display knows about the build.
#[derive(Debug, Default)]
struct Board {
    steps: HashMap<String, Step>,
    order: Vec<String>,
}

impl Board {
    fn step(&mut self, digest: &str) -> &mut Step {
        if !self.steps.contains_key(digest) {
            self.order.push(digest.to_owned());
            let index = self.order.len();
            self.steps.insert(
                digest.to_owned(),
                Step {
                    index,
                    ..Default::default()
                },
            );
        }
        // Inserted just above when missing.
        self.steps.entry(digest.to_owned()).or_default()
    }

    /// Applies a step event; returns the step and whether this event finished it.
    fn update(&mut self, event: StepStatus) -> (&mut Step, bool) {
        let step = self.step(&event.digest);
        step.name = event.name;
        step.cached |= event.cached;
        step.started = step.started.or(event.started);
        step.completed = event.completed.or(step.completed);
        step.error = event.error;
        let finishing = !step.finished && (step.completed.is_some() || step.cached);
        step.finished |= finishing;
        (step, finishing)
    }
}

/// A step the session cancelled (a service it stopped, a request whose client went away) rather
/// than one that failed.
fn canceled(step: &Step) -> bool {
    step.error.trim_end().ends_with("context canceled")
}

/// A remote cache that holds nothing yet (the first run that uses it): the daemon reports the import
/// as a failed step, though the pipeline goes on and fills the cache.
fn empty_cache(step: &Step) -> bool {
    step.name.starts_with("importing cache manifest from") && step.error.ends_with("not found")
}

fn failure_lines(step: &Step) -> Vec<String> {
    let mut out = vec![format!("#{} ERROR: {}", step.index, step.error)];
    if !step.tail.is_empty() {
        out.push(format!("#{} last output of {}:", step.index, step.name));
        out.extend(step.tail.iter().map(|l| format!("#{}   {l}", step.index)));
    }
    out
}

/// Plain mode: the lines one event produces.
fn plain_lines(board: &mut Board, event: ProgressEvent) -> Vec<String> {
    let mut out = Vec::new();
    match event {
        ProgressEvent::Step(update) => {
            let (step, finishing) = board.update(update);
            if !step.announced && (step.started.is_some() || step.cached) {
                step.announced = true;
                out.push(format!("#{} {}", step.index, step.name));
            }
            if finishing {
                if canceled(step) {
                    out.push(format!("#{} CANCELED {:.1}s", step.index, step.seconds()));
                } else if empty_cache(step) {
                    out.push(format!("#{} EMPTY (nothing cached there yet)", step.index));
                } else if !step.error.is_empty() {
                    out.extend(failure_lines(step));
                } else if step.cached {
                    out.push(format!("#{} CACHED", step.index));
                } else {
                    out.push(format!("#{} DONE {:.1}s", step.index, step.seconds()));
                }
            }
        }
        ProgressEvent::Log { digest, data, .. } => {
            let step = board.step(&digest);
            let index = step.index;
            out.extend(
                step.push_output(&data)
                    .into_iter()
                    .map(|l| format!("#{index} {l}")),
            );
        }
    }
    out
}

/// Tty mode: absorbs an event; returns lines to print permanently (finished steps).
fn tty_absorb(board: &mut Board, event: ProgressEvent) -> Vec<String> {
    match event {
        ProgressEvent::Step(update) => {
            let (step, finishing) = board.update(update);
            if !finishing {
                Vec::new()
            } else if canceled(step) {
                vec![format!(
                    "⊘ {} (canceled after {:.1}s)",
                    step.name,
                    step.seconds()
                )]
            } else if !step.error.is_empty() {
                let mut out = vec![format!("✖ {}", step.name)];
                out.extend(failure_lines(step));
                out
            } else if step.cached {
                vec![format!("∅ {} (cached)", step.name)]
            } else {
                vec![format!("✔ {} {:.1}s", step.name, step.seconds())]
            }
        }
        ProgressEvent::Log { digest, data, .. } => {
            board.step(&digest).push_output(&data);
            Vec::new()
        }
    }
}

/// Splits `[pipeline] step` into its pipeline and step (no pipeline: `None`).
fn split_pipeline(name: &str) -> (Option<&str>, &str) {
    if let Some(rest) = name.strip_prefix('[')
        && let Some((pipeline, step)) = rest.split_once("] ")
    {
        return (Some(pipeline), step);
    }
    (None, name)
}

/// Tty mode: the live region (running steps and their last lines), grouped by pipeline.
fn tty_live(board: &Board, width: usize) -> Vec<String> {
    let now = SystemTime::now();
    let mut groups: Vec<(Option<&str>, Vec<String>)> = Vec::new();
    for digest in &board.order {
        let Some(step) = board.steps.get(digest) else {
            continue;
        };
        let Some(started) = step.started.filter(|_| !step.finished) else {
            continue;
        };
        let (pipeline, name) = split_pipeline(&step.name);
        let indent = if pipeline.is_some() { "  " } else { "" };
        let elapsed = now
            .duration_since(started)
            .unwrap_or_default()
            .as_secs_f64();
        let mut lines = vec![clip(&format!("{indent}⠿ {name} {elapsed:.1}s"), width)];
        for line in step.tail.iter().rev().take(LIVE_LINES).rev() {
            lines.push(clip(&format!("{indent}  │ {line}"), width));
        }
        match groups.iter_mut().find(|(p, _)| *p == pipeline) {
            Some((_, existing)) => existing.extend(lines),
            None => groups.push((pipeline, lines)),
        }
    }
    let mut out = Vec::new();
    for (pipeline, lines) in groups {
        if let Some(p) = pipeline {
            out.push(clip(&format!("▸ {p}"), width));
        }
        out.extend(lines);
    }
    out
}

fn clip(line: &str, width: usize) -> String {
    if line.chars().count() <= width {
        return line.to_owned();
    }
    let mut s: String = line.chars().take(width.saturating_sub(1)).collect();
    s.push('…');
    s
}

/// A running display; [`Display::finish`] waits for it to print everything.
pub struct Display(Option<JoinHandle<()>>);

impl Display {
    /// Waits (briefly) for the display to drain the stream, which ends with the session.
    pub async fn finish(self) {
        if let Some(task) = self.0 {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
    }
}

/// Starts showing on standard error, in `mode`, the events `watch` opens (only when shown).
pub fn start(mode: ProgressMode, watch: impl FnOnce() -> mpsc::Receiver<ProgressEvent>) -> Display {
    let mode = match mode {
        ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Tty,
        ProgressMode::Auto => ProgressMode::Plain,
        other => other,
    };
    Display(match mode {
        ProgressMode::None | ProgressMode::Auto => None,
        ProgressMode::Plain => Some(tokio::spawn(plain(watch()))),
        ProgressMode::Tty => Some(tokio::spawn(tty(watch()))),
    })
}

async fn plain(mut events: mpsc::Receiver<ProgressEvent>) {
    let mut board = Board::default();
    while let Some(event) = events.recv().await {
        let lines = plain_lines(&mut board, event);
        if !lines.is_empty() {
            let mut err = std::io::stderr().lock();
            for line in lines {
                let _ = writeln!(err, "{line}");
            }
        }
    }
}

async fn tty(mut events: mpsc::Receiver<ProgressEvent>) {
    let mut board = Board::default();
    let mut live_lines = 0usize;
    let mut tick = tokio::time::interval(Duration::from_millis(150));
    let mut last = Instant::now();
    loop {
        let mut permanent = Vec::new();
        let open = tokio::select! {
            event = events.recv() => match event {
                Some(e) => {
                    permanent = tty_absorb(&mut board, e);
                    true
                }
                None => false,
            },
            _ = tick.tick() => true,
        };
        if permanent.is_empty() && open && last.elapsed() < Duration::from_millis(100) {
            continue;
        }
        last = Instant::now();
        let width = terminal_width();
        let live = if open {
            tty_live(&board, width)
        } else {
            Vec::new()
        };
        let mut err = std::io::stderr().lock();
        if live_lines > 0 {
            // Back to the start of the live region, and clear it.
            let _ = write!(err, "\x1b[{live_lines}F\x1b[J");
        }
        for line in &permanent {
            let _ = writeln!(err, "{line}");
        }
        for line in &live {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
        live_lines = live.len();
        if !open {
            return;
        }
    }
}

fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse().ok())
        .filter(|w| *w > 20)
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(
        digest: &str,
        name: &str,
        started: bool,
        done: bool,
        cached: bool,
        error: &str,
    ) -> ProgressEvent {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        ProgressEvent::Step(StepStatus {
            digest: digest.into(),
            name: name.into(),
            cached,
            started: started.then_some(t),
            completed: done.then_some(t + Duration::from_millis(1500)),
            error: error.into(),
        })
    }

    /// The plain-mode lines `events` produce, in order.
    fn plain(board: &mut Board, events: Vec<ProgressEvent>) -> Vec<String> {
        events
            .into_iter()
            .flat_map(|e| plain_lines(board, e))
            .collect()
    }

    fn log(digest: &str, text: &str) -> ProgressEvent {
        ProgressEvent::Log {
            digest: digest.into(),
            stream: 1,
            data: text.as_bytes().to_vec(),
        }
    }

    #[test]
    fn plain_prints_each_step_once_with_its_output() {
        let mut board = Board::default();
        let events = vec![
            step("a", "exec make", true, false, false, ""),
            step("a", "exec make", true, false, false, ""),
            log("a", "compiling\nlink"),
            log("a", "ing\n"),
            step("b", "load image", false, true, true, ""),
            step("a", "exec make", true, true, false, ""),
            step("c", "exec test", true, false, false, ""),
            log("c", "FAIL x\n"),
            step("c", "exec test", true, true, false, "exit code: 1"),
        ];
        let lines = plain(&mut board, events);
        assert_eq!(
            lines,
            vec![
                "#1 exec make",
                "#1 compiling",
                "#1 linking",
                "#2 load image",
                "#2 CACHED",
                "#1 DONE 1.5s",
                "#3 exec test",
                "#3 FAIL x",
                "#3 ERROR: exit code: 1",
                "#3 last output of exec test:",
                "#3   FAIL x",
            ]
        );
    }

    #[test]
    fn cancelled_steps_are_not_failures() {
        let mut board = Board::default();
        let events = vec![
            step("s", "exec httpd (service www)", true, false, false, ""),
            log("s", "GET /\n"),
            step(
                "s",
                "exec httpd (service www)",
                true,
                true,
                false,
                "exit code: 137: context canceled: context canceled",
            ),
        ];
        let lines = plain(&mut board, events);
        assert_eq!(
            lines,
            vec![
                "#1 exec httpd (service www)",
                "#1 GET /",
                "#1 CANCELED 1.5s"
            ]
        );
        let mut board = Board::default();
        tty_absorb(&mut board, step("s", "exec httpd", true, false, false, ""));
        let done = tty_absorb(
            &mut board,
            step("s", "exec httpd", true, true, false, "context canceled"),
        );
        assert_eq!(done, vec!["⊘ exec httpd (canceled after 1.5s)"]);
    }

    #[test]
    fn an_empty_remote_cache_is_not_a_failure() {
        let mut board = Board::default();
        let name = "importing cache manifest from 127.0.0.1:5000/cache:main";
        let events = vec![
            step("i", name, true, false, false, ""),
            step(
                "i",
                name,
                true,
                true,
                false,
                "failed to configure registry cache importer: 127.0.0.1:5000/cache:main: not found",
            ),
        ];
        let lines = plain(&mut board, events);
        assert_eq!(
            lines,
            vec![
                format!("#1 {name}"),
                "#1 EMPTY (nothing cached there yet)".to_owned()
            ]
        );
    }

    #[test]
    fn tty_shows_running_steps_and_keeps_finished_ones() {
        let mut board = Board::default();
        assert!(tty_absorb(&mut board, step("a", "exec build", true, false, false, "")).is_empty());
        for i in 0..5 {
            tty_absorb(&mut board, log("a", &format!("line {i}\n")));
        }
        let live = tty_live(&board, 80);
        assert_eq!(live.len(), 1 + LIVE_LINES);
        assert!(live[0].starts_with("⠿ exec build "));
        assert_eq!(live[3], "  │ line 4");
        let done = tty_absorb(&mut board, step("a", "exec build", true, true, false, ""));
        assert_eq!(done, vec!["✔ exec build 1.5s"]);
        assert!(tty_live(&board, 80).is_empty());
        assert_eq!(clip("abcdef", 4), "abc…");
        tty_absorb(
            &mut board,
            step("b", "[build / unit] exec make", true, false, false, ""),
        );
        tty_absorb(
            &mut board,
            step("c", "[build / unit] exec vet", true, false, false, ""),
        );
        let live = tty_live(&board, 80);
        assert_eq!(live[0], "▸ build / unit");
        assert!(live[1].starts_with("  ⠿ exec make "), "{live:?}");
        assert!(live[2].starts_with("  ⠿ exec vet "), "{live:?}");
    }
}
