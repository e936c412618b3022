//! Benchmark 9 of `dirk-bench`: `withDirectory` of a 10,000-file directory onto a container's root,
//! as the daemon's merge op (what dirk sends where the daemon has `mergeop`) against the copy dirk
//! sends elsewhere, on the same daemon, in interleaved rounds. Each round's container differs (a
//! file with a per-round value), so neither path is answered from the cache, and each result is
//! read back (its last file), so a lazily made merge is paid for as well.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use dirk::buildkit::BuildkitSession;
use dirk::core::Engine;
use dirk::llb::{FileAction, ImageSource, LocalSource, Platform, State};

use super::raw_baseline::{default_platform, raw_session};
use super::{BUSYBOX, ScratchDir, make_tree, ms, percentile};

const FILES: usize = 10_000;
const ROUNDS: usize = 5;

/// The container for `round`: the image plus one file that differs per round.
fn container(platform: &Platform, round: &str) -> State {
    ImageSource {
        reference: BUSYBOX.to_owned(),
        platform: Some(platform.clone()),
    }
    .build()
    .file(
        vec![FileAction::Mkfile {
            path: "/round".into(),
            data: round.as_bytes().to_vec(),
            mode: 0o644,
            owner: None,
        }],
        Some(platform),
        Some(format!("round {round}")),
    )
}

/// Solves `state` and reads its last file back; the time both took.
async fn time_solve(session: &BuildkitSession, state: &State) -> Result<Duration> {
    let Some(def) = state.marshal() else {
        bail!("the benchmark's graph is empty");
    };
    let t = Instant::now();
    let result = session.engine.solve(&def).await?;
    let last = format!("/d{:03}/f{:05}.bin", (FILES - 1) / 100, FILES - 1);
    session.engine.read_file(&result, &last, 0, None).await?;
    Ok(t.elapsed())
}

/// Runs the comparison on the daemon dirk would use.
pub async fn merge_against_copy() -> Result<()> {
    let tree = ScratchDir::new()?;
    let bytes = make_tree(&tree.0, FILES, 1024)?;
    let name = format!("merge-bench-{}", rand::random::<u64>());
    let session = raw_session(Some((name.clone(), tree.0.clone()))).await?;
    if !session.engine.supports("mergeop") {
        println!(
            "withDirectory as a merge: skipped, this daemon has no merge op (Docker 28 with the containerd image store has one)"
        );
        session.close(Duration::from_secs(5)).await;
        return Ok(());
    }
    let platform = default_platform(&session);
    let source = LocalSource {
        name: name.clone(),
        shared_key_hint: Some(name),
        ..Default::default()
    }
    .build();
    // The tree is synced once, before either path is timed.
    time_solve(&session, &source).await?;
    let run = rand::random::<u32>();
    let (mut merged, mut copied) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let base = container(&platform, &format!("merge-{run}-{round}"));
        let merge = State::merge(&[base, source.clone()], Some("merge".into()));
        merged.push(time_solve(&session, &merge).await?);
        let base = container(&platform, &format!("copy-{run}-{round}"));
        let copy = base.file(
            vec![FileAction::Copy {
                from: source.clone(),
                src: "/".into(),
                dest: "/".into(),
                contents_only: true,
                create_parents: true,
                owner: None,
                mode: None,
                include: vec![],
                exclude: vec![],
                timestamp: None,
            }],
            Some(&platform),
            Some("copy".into()),
        );
        copied.push(time_solve(&session, &copy).await?);
    }
    session.close(Duration::from_secs(5)).await;
    merged.sort();
    copied.sort();
    let (m, c) = (percentile(&merged, 0.5), percentile(&copied, 0.5));
    println!(
        "withDirectory of a {FILES}-file, {:.1} MB tree onto a container's root ({ROUNDS} rounds): merge median {} (min {}) | copy median {} (min {}) | ratio {:.3} | target <= 0.5x",
        bytes as f64 / 1e6,
        ms(m),
        ms(merged[0]),
        ms(c),
        ms(copied[0]),
        m.as_secs_f64() / c.as_secs_f64().max(1e-9)
    );
    Ok(())
}
