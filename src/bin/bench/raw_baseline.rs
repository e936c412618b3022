//! Benchmark 7 of `dirk-bench`: what a pipeline costs through dirk against the same graph sent
//! straight to BuildKit. The baseline is the graph without dirk's exec shim and meta mounts,
//! solved through dirk's own BuildKit client in a fresh BuildKit session, as a user of the daemon's
//! own client would send it; dirk's side is a fresh dirk session running the GraphQL query. Both
//! sides are timed from "no session" to "result", in interleaved rounds.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use dirk::buildkit::address::Runner;
use dirk::buildkit::attach::filesync::{SyncEntry, SyncProvider, SyncRequest};
use dirk::buildkit::attach::{Attachables, hostfs};
use dirk::buildkit::{BuildkitSession, SessionIdentity};
use dirk::core::Engine;
use dirk::core::patterns::Selection;
use dirk::llb::{Exec, ImageSource, LocalSource, Mount, Platform, State};
use serde_json::Value;

use super::{BUSYBOX, ScratchDir, errors, make_tree, ms, percentile, start_session};

const STEPS: usize = 20;
const ROUNDS: usize = 5;
/// Rounds of the cached chain: cheap, and noisy enough to want more.
const CACHED_ROUNDS: usize = 11;

/// A BuildKit session of the baseline's own, serving `files` (a host directory by name) if given.
pub(super) async fn raw_session(
    files: Option<(String, std::path::PathBuf)>,
) -> Result<BuildkitSession> {
    let runner = Runner::from_env(|k| std::env::var(k).ok())?;
    let identity =
        SessionIdentity::new("dirk-bench-raw", &format!("raw-{}", rand::random::<u64>()));
    let attachables = match files {
        None => Attachables::health_only(),
        Some((name, root)) => {
            Attachables::new(Arc::new(OneDir { name, root }), &Default::default())
        }
    };
    Ok(BuildkitSession::connect(runner, &identity, attachables, None).await?)
}

/// Serves one host directory, straight from disk.
struct OneDir {
    name: String,
    root: std::path::PathBuf,
}

impl SyncProvider for OneDir {
    fn entries(&self, request: &SyncRequest) -> Result<Vec<SyncEntry>, tonic::Status> {
        if request.dir_name != self.name {
            return Err(tonic::Status::not_found(request.dir_name.clone()));
        }
        hostfs::walk(&self.root, &Selection::default())
            .map_err(|e| tonic::Status::unavailable(e.to_string()))
    }
}

/// The daemon's default platform.
pub(super) fn default_platform(session: &BuildkitSession) -> Platform {
    session
        .engine
        .platforms()
        .into_iter()
        .next()
        .unwrap_or_else(|| Platform::linux("amd64"))
}

/// The baseline's chain: the image, then `STEPS` execs of `sh -c "echo step I TAG"`, each on the
/// last one's root filesystem, with no shim; with `output_mount`, each exec also writes its output
/// into a second, empty mount kept as a result (as dirk's meta mount is), else none.
async fn raw_chain(session: &BuildkitSession, tag: &str, output_mount: bool) -> Result<State> {
    let platform = default_platform(session);
    let resolved = session.engine.resolve_image(BUSYBOX, &platform).await?;
    // Pinned as dirk pins it (older daemons answer no digest: then the tag is used).
    let reference = if resolved.digest.starts_with("sha256:") {
        format!(
            "{}@{}",
            BUSYBOX.trim_end_matches(":latest"),
            resolved.digest
        )
    } else {
        BUSYBOX.to_owned()
    };
    let mut rootfs = ImageSource {
        reference,
        platform: Some(platform.clone()),
    }
    .build();
    for i in 0..STEPS {
        let (script, mounts) = if output_mount {
            (
                format!("echo step {i} {tag} >/out/stdout"),
                vec![Mount::bind("/out", State::scratch(), "")],
            )
        } else {
            (format!("echo step {i} {tag}"), Vec::new())
        };
        rootfs = Exec {
            args: vec!["sh".into(), "-c".into(), script],
            env: vec!["PATH=/usr/sbin:/usr/bin:/sbin:/bin".into()],
            cwd: "/".into(),
            rootfs: Some(rootfs),
            mounts,
            platform: Some(platform.clone()),
            ..Default::default()
        }
        .build()
        .root();
    }
    Ok(rootfs)
}

/// The same chain as a GraphQL query, reading the last step's output.
fn dirk_chain(tag: &str) -> String {
    let mut q = format!(r#"{{ container {{ from(address: "{BUSYBOX}") {{ "#);
    for i in 0..STEPS {
        q.push_str(&format!(
            r#"withExec(args: ["sh", "-c", "echo step {i} {tag}"]) {{ "#
        ));
    }
    q.push_str("stdout");
    q.push_str(&" }".repeat(STEPS + 3));
    q
}

/// The baseline: a fresh BuildKit session solving the chain for `tag` (with an output mount on
/// each exec when `output_mount`).
async fn time_raw(tag: &str, output_mount: bool) -> Result<Duration> {
    let t = Instant::now();
    let session = raw_session(None).await?;
    let state = raw_chain(&session, tag, output_mount).await?;
    let Some(def) = state.marshal() else {
        bail!("the baseline chain has no graph");
    };
    session.engine.solve(&def).await?;
    let took = t.elapsed();
    session.close(Duration::from_secs(5)).await;
    Ok(took)
}

/// dirk: a fresh session running the chain's query for `tag`.
async fn time_dirk(tag: &str) -> Result<Duration> {
    let t = Instant::now();
    let s = start_session().await?;
    let v = s.execute(&dirk_chain(tag), Value::Null, None).await;
    let took = t.elapsed();
    if let Some(e) = errors(&v) {
        bail!("{e}");
    }
    if !v
        .to_string()
        .contains(&format!("step {} {tag}\\n", STEPS - 1))
    {
        bail!("the last step printed something else: {v}");
    }
    s.shutdown(Duration::from_secs(5)).await;
    Ok(took)
}

/// A first sync of a fresh 10,000-file tree: the baseline serves it straight from disk.
async fn time_raw_sync(root: &Path) -> Result<Duration> {
    let name = format!("raw-{}", rand::random::<u64>());
    let t = Instant::now();
    let session = raw_session(Some((name.clone(), root.to_owned()))).await?;
    let state = LocalSource {
        name: name.clone(),
        shared_key_hint: Some(name),
        ..Default::default()
    }
    .build();
    let Some(def) = state.marshal() else {
        bail!("the local source has no graph");
    };
    session.engine.solve(&def).await?;
    let took = t.elapsed();
    session.close(Duration::from_secs(5)).await;
    Ok(took)
}

async fn time_dirk_sync(root: &Path) -> Result<Duration> {
    let t = Instant::now();
    let s = start_session().await?;
    let v = s
        .execute(
            &format!(
                r#"{{ host {{ directory(path: "{}") {{ sync }} }} }}"#,
                root.display()
            ),
            Value::Null,
            None,
        )
        .await;
    let took = t.elapsed();
    if let Some(e) = errors(&v) {
        bail!("{e}");
    }
    s.shutdown(Duration::from_secs(5)).await;
    Ok(took)
}

fn report(what: &str, dirk: &mut [Duration], raw: &mut [Duration], target: &str) {
    compare(what, ("dirk", dirk), ("raw BuildKit", raw), target);
}

/// Prints the medians (and minimums) of `a` and `b` and their ratio.
fn compare(
    what: &str,
    (a_name, a): (&str, &mut [Duration]),
    (b_name, b): (&str, &mut [Duration]),
    target: &str,
) {
    a.sort();
    b.sort();
    let (am, bm) = (percentile(a, 0.5), percentile(b, 0.5));
    println!(
        "{what} ({} rounds): {a_name} median {} (min {}) | {b_name} median {} (min {}) | ratio {:.3}, difference {:+.1} ms | target {target}",
        a.len(),
        ms(am),
        ms(a[0]),
        ms(bm),
        ms(b[0]),
        am.as_secs_f64() / bm.as_secs_f64().max(1e-9),
        (am.as_secs_f64() - bm.as_secs_f64()) * 1e3
    );
}

/// Runs the three comparisons.
pub async fn against_raw_buildkit() -> Result<()> {
    let run = rand::random::<u32>();
    // Warm what both sides share (the image) before measuring.
    time_raw(&format!("warm-{run}"), false).await?;
    time_dirk(&format!("warm-{run}")).await?;
    let (mut dirk, mut raw, mut raw_out) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        raw.push(time_raw(&format!("raw-{run}-{round}"), false).await?);
        raw_out.push(time_raw(&format!("raw-out-{run}-{round}"), true).await?);
        dirk.push(time_dirk(&format!("dirk-{run}-{round}")).await?);
    }
    report(
        &format!("{STEPS} uncached execs in a new session"),
        &mut dirk,
        &mut raw,
        "<= 1.03x",
    );
    // Where the difference goes: the same raw chain with one more output mount per exec (the
    // part of dirk's price that is the daemon's work for a second result per step).
    compare(
        "  of which the daemon's second result per exec",
        ("raw + output mount", &mut raw_out),
        ("raw", &mut raw),
        "none (the daemon's work)",
    );
    compare(
        "  of which the shim, its mount and the session",
        ("dirk", &mut dirk),
        ("raw + output mount", &mut raw_out),
        "none (dirk's own work)",
    );
    let (mut dirk, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..CACHED_ROUNDS {
        raw.push(time_raw(&format!("raw-{run}-0"), false).await?);
        dirk.push(time_dirk(&format!("dirk-{run}-0")).await?);
    }
    report(
        &format!("the same {STEPS} steps cached, in a new session"),
        &mut dirk,
        &mut raw,
        "<= 1.1x or <= +10 ms",
    );
    let (mut dirk, mut raw) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        let tmp = ScratchDir::new()?;
        let (a, b) = (tmp.0.join("raw"), tmp.0.join("dirk"));
        make_tree(&a, 10_000, 20 * 1024)?;
        make_tree(&b, 10_000, 20 * 1024)?;
        raw.push(time_raw_sync(&a).await?);
        dirk.push(time_dirk_sync(&b).await?);
    }
    report(
        "first sync of a 10,000-file, 205 MB tree",
        &mut dirk,
        &mut raw,
        "<= 1.1x",
    );
    Ok(())
}
