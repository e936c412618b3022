//! `dirk engine`: which runner dirk would use and why, and what that daemon can do. Exits 1 when
//! the runner cannot be reached.

use dirk::buildkit::address::Runner;
use dirk::buildkit::describe::describe;
use dirk::buildkit::remote_cache::RemoteCache;

pub async fn run() -> anyhow::Result<i32> {
    let runner = match Runner::from_env(|k| std::env::var(k).ok()) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("dirk engine: {e}");
            return Ok(1);
        }
    };
    println!("runner:    {}", runner.address);
    println!(
        "chosen by: {}={}",
        runner.origin.variable, runner.origin.value
    );
    let cache = match RemoteCache::from_env(|k| std::env::var(k).ok()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dirk engine: {e}");
            return Ok(1);
        }
    };
    let report = match describe(runner, cache).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("dirk engine: {e}");
            return Ok(1);
        }
    };
    println!(
        "buildkit:  {}",
        report
            .version
            .as_deref()
            .unwrap_or("version not reported (BuildKit before v0.11, e.g. Docker 20.10's)")
    );
    for w in &report.workers {
        let platforms: Vec<String> = w.platforms.iter().map(ToString::to_string).collect();
        println!("worker:    {} ({})", w.id, platforms.join(", "));
        if w.gc_rules.is_empty() {
            println!("  cache gc: none (the daemon keeps the build cache until pruned)");
        }
        for rule in &w.gc_rules {
            println!("  cache gc: {rule}");
        }
    }
    match &report.remote_cache {
        Some((what, true)) => println!("remote cache: {what}: imported and exported"),
        Some((what, false)) => {
            println!("remote cache: {what}: import-only (this daemon cannot export a build cache)")
        }
        None => println!("remote cache: none (set DIRK_CACHE to share one between machines)"),
    }
    println!("capabilities:");
    for (cap, what, has) in &report.capabilities {
        println!("  {} {cap}: {what}", if *has { "yes" } else { "no " });
    }
    Ok(0)
}
