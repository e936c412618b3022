//! dirk's benchmarks. Each prints its figures next to a baseline measured in the same run, and the
//! target it is held to; nothing is asserted. Run them on a machine set up by
//! `scripts/setup-engine.sh`, against the daemon dirk would use:
//!
//! ```text
//! cargo build --release && target/release/dirk-bench            # everything
//! target/release/dirk-bench start overhead                      # some of: start overhead throughput sync memory objects services publish raw merge
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "bench/merge.rs"]
mod merge;
#[path = "bench/publish.rs"]
mod publish;
#[path = "bench/raw_baseline.rs"]
mod raw_baseline;

use anyhow::{Context, Result, bail};
use dirk::core::{Container, ExecOptions};
use dirk::session::{Session, SessionConfig};
use serde_json::Value;

const BUSYBOX: &str = "127.0.0.1:5000/busybox:latest";

fn main() -> Result<()> {
    let wanted: Vec<String> = std::env::args().skip(1).collect();
    let run = |name: &str| wanted.is_empty() || wanted.iter().any(|w| w == name);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(64 << 20)
        .build()?;
    println!("machine: {}", machine());
    // DIRK_BENCH_PROFILE=FILTER (e.g. `dirk=info`) prints every span of dirk's as it closes, with
    // the time it was busy and idle: where a benchmark's time goes.
    if let Ok(filter) = std::env::var("DIRK_BENCH_PROFILE") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
            .with_writer(std::io::stderr)
            .init();
    }
    if run("start") {
        session_start()?;
    }
    if run("overhead") {
        rt.block_on(cached_overhead())?;
    }
    if run("throughput") {
        rt.block_on(throughput())?;
    }
    if run("sync") {
        rt.block_on(host_sync())?;
    }
    if run("memory") {
        rt.block_on(memory())?;
    }
    if run("objects") {
        rt.block_on(many_objects())?;
    }
    if run("services") {
        rt.block_on(services())?;
    }
    if run("publish") {
        rt.block_on(publish::publish())?;
    }
    if run("raw") {
        rt.block_on(raw_baseline::against_raw_buildkit())?;
    }
    if run("merge") {
        rt.block_on(merge::merge_against_copy())?;
    }
    Ok(())
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':').map(|(_, m)| m.trim().to_owned()))
        })
        .unwrap_or_default();
    format!("{cpus} CPUs ({model})")
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn dirk_binary() -> Result<PathBuf> {
    let me = std::env::current_exe()?;
    let dir = me
        .parent()
        .context("the benchmark binary has no directory")?;
    let dirk = dir.join("dirk");
    if !dirk.exists() {
        bail!(
            "{} is missing: build dirk first (cargo build --release)",
            dirk.display()
        );
    }
    Ok(dirk)
}

/// Starts `dirk session`; returns the process and what its JSON line says.
fn spawn_session(dirk: &Path) -> Result<(std::process::Child, Value)> {
    let mut child = Command::new(dirk)
        .arg("session")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)?;
    let info: Value =
        serde_json::from_str(&line).with_context(|| format!("dirk session printed {line:?}"))?;
    Ok((child, info))
}

/// Benchmark 1: `dirk session` exec to its JSON line, against `dirk version` (process start alone).
fn session_start() -> Result<()> {
    let dirk = dirk_binary()?;
    const RUNS: usize = 30;
    let mut starts = Vec::with_capacity(RUNS);
    let mut baseline = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let t = Instant::now();
        let out = Command::new(&dirk).arg("version").output()?;
        baseline.push(t.elapsed());
        if !out.status.success() {
            bail!("dirk version failed");
        }
        let t = Instant::now();
        let (mut child, _) = spawn_session(&dirk)?;
        starts.push(t.elapsed());
        drop(child.stdin.take());
        child.wait()?;
    }
    starts.sort();
    baseline.sort();
    let (median, p95) = (percentile(&starts, 0.5), percentile(&starts, 0.95));
    let base = percentile(&baseline, 0.5);
    println!(
        "session start ({RUNS} runs): median {} p95 {} | baseline `dirk version` median {} | ratio {:.1} | target median <= 25 ms",
        ms(median),
        ms(p95),
        ms(base),
        median.as_secs_f64() / base.as_secs_f64().max(1e-9)
    );
    Ok(())
}

async fn start_session() -> Result<Session> {
    let config = SessionConfig {
        workdir: std::env::current_dir()?,
        labels: Vec::new(),
        port: 0,
    };
    Ok(Session::start(config, |k| std::env::var(k).ok()).await?)
}

fn errors(v: &Value) -> Option<String> {
    v.get("errors")
        .and_then(|e| e.as_array())
        .filter(|a| !a.is_empty())
        .map(|a| Value::Array(a.clone()).to_string())
}

fn chain(steps: usize, leaf: &str) -> String {
    let mut q = format!(r#"{{ container {{ from(address: "{BUSYBOX}") {{ "#);
    for i in 0..steps {
        q.push_str(&format!(r#"withExec(args: ["echo", "step {i}"]) {{ "#));
    }
    q.push_str(leaf);
    q.push_str(&" }".repeat(steps + 3));
    q
}

/// Benchmark 2: A cached 20-step pipeline through GraphQL, against the same steps built with dirk's domain
/// API and solved directly through its BuildKit client. Each iteration uses a fresh session, so
/// both go to the daemon (which has every step cached).
async fn cached_overhead() -> Result<()> {
    const STEPS: usize = 20;
    const RUNS: usize = 15;
    let query = chain(STEPS, "stdout");
    let warm = start_session().await?;
    let v = warm.execute(&query, Value::Null, None).await;
    if let Some(e) = errors(&v) {
        bail!("warming the cache failed: {e}");
    }
    warm.shutdown(Duration::from_secs(5)).await;
    let (mut graphql, mut direct) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let s = start_session().await?;
        let t = Instant::now();
        let v = s.execute(&query, Value::Null, None).await;
        graphql.push(t.elapsed());
        if let Some(e) = errors(&v) {
            bail!("{e}");
        }
        s.shutdown(Duration::from_secs(5)).await;

        let s = start_session().await?;
        let rt = s.runtime();
        let t = Instant::now();
        let mut c = Container::scratch(rt.default_platform().clone())
            .from(rt, BUSYBOX)
            .await?;
        for i in 0..STEPS {
            c = c.with_exec(
                rt,
                ExecOptions {
                    args: vec!["echo".into(), format!("step {i}")],
                    ..Default::default()
                },
            )?;
        }
        let out = c.stdout(rt).await?;
        direct.push(t.elapsed());
        if out != format!("step {}\n", STEPS - 1) {
            bail!("direct path printed {out:?}");
        }
        s.shutdown(Duration::from_secs(5)).await;
    }
    graphql.sort();
    direct.sort();
    let (g, d) = (percentile(&graphql, 0.5), percentile(&direct, 0.5));
    println!(
        "cached {STEPS}-step pipeline ({RUNS} runs): GraphQL median {} | direct (domain API + BuildKit client) median {} | ratio {:.2} | target <= 1.2",
        ms(g),
        ms(d),
        g.as_secs_f64() / d.as_secs_f64().max(1e-9)
    );
    Ok(())
}

/// A connection to a session's HTTP endpoint, authenticated with its token.
struct Client {
    sender: hyper::client::conn::http1::SendRequest<http_body_util::Full<bytes::Bytes>>,
    auth: String,
}

impl Client {
    async fn connect(addr: std::net::SocketAddr, token: &str) -> Result<Client> {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        let (sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        let auth = format!(
            "Basic {}",
            base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                format!("{token}:")
            )
        );
        Ok(Client { sender, auth })
    }

    /// Sends a request body; fails unless the answer is a success without GraphQL errors.
    async fn post(&mut self, body: &[u8]) -> Result<()> {
        let req = http::Request::post("/query")
            .header("host", "127.0.0.1")
            .header("authorization", &self.auth)
            .header("content-type", "application/json")
            .body(http_body_util::Full::new(bytes::Bytes::copy_from_slice(
                body,
            )))?;
        let resp = self.sender.send_request(req).await?;
        let status = resp.status();
        let bytes = http_body_util::BodyExt::collect(resp.into_body())
            .await?
            .to_bytes();
        if !status.is_success() || bytes.windows(9).any(|w| w == b"\"errors\":") {
            bail!("query failed: {}", String::from_utf8_lossy(&bytes));
        }
        Ok(())
    }
}

/// Sends `query` to the session's HTTP endpoint as many times as it can from `clients` tasks for
/// `period`; returns the number of answers.
async fn hammer(s: &Session, query: &str, clients: usize, period: Duration) -> Result<usize> {
    let body = serde_json::to_vec(&serde_json::json!({ "query": query }))?;
    let deadline = Instant::now() + period;
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (addr, token, body) = (s.addr, s.token.clone(), body.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = Client::connect(addr, &token).await?;
            let mut n = 0usize;
            while Instant::now() < deadline {
                client.post(&body).await?;
                n += 1;
            }
            anyhow::Ok(n)
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await??;
    }
    Ok(total)
}

/// Benchmark 3: Queries that build 20-step chains and return their IDs (no solving), against a trivial query.
async fn throughput() -> Result<()> {
    let s = start_session().await?;
    let query = chain(20, "id");
    // The image's config is resolved once per session; do it before measuring.
    if let Some(e) = errors(&s.execute(&query, Value::Null, None).await) {
        bail!("{e}");
    }
    let period = Duration::from_secs(3);
    let clients = 8;
    let base = hammer(&s, "{ defaultPlatform }", clients, period).await?;
    let chains = hammer(&s, &query, clients, period).await?;
    let per_s = |n: usize| n as f64 / period.as_secs_f64();
    println!(
        "query throughput, 20-step chains returning IDs ({clients} clients): {:.0} queries/s | baseline `{{ defaultPlatform }}` {:.0} queries/s | ratio {:.2} | target >= 5000 queries/s on 2 cores",
        per_s(chains),
        per_s(base),
        per_s(chains) / per_s(base).max(1e-9)
    );
    s.shutdown(Duration::from_secs(5)).await;
    Ok(())
}

/// A directory under the system's temporary directory, removed when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> Result<ScratchDir> {
        let dir = std::env::temp_dir().join(format!(
            "dirk-bench-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(ScratchDir(dir))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn make_tree(root: &Path, files: usize, size: usize) -> Result<u64> {
    use rand::RngCore;
    let mut rng = rand::rng();
    let mut buf = vec![0u8; size];
    let mut total = 0u64;
    for i in 0..files {
        let dir = root.join(format!("d{:03}", i / 100));
        if i % 100 == 0 {
            std::fs::create_dir_all(&dir)?;
        }
        rng.fill_bytes(&mut buf);
        std::fs::write(dir.join(format!("f{i:05}.bin")), &buf)?;
        total += size as u64;
    }
    Ok(total)
}

/// Benchmark 4: Host directory sync of 10,000 files / 200 MB: first sync and an unchanged re-sync in a new
/// session, against `tar` of the same tree.
async fn host_sync() -> Result<()> {
    let tmp = ScratchDir::new()?;
    let tree = tmp.0.join("tree");
    let bytes = make_tree(&tree, 10_000, 20 * 1024)?;
    let mb = bytes as f64 / 1e6;
    let t = Instant::now();
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "tar -C '{}' -cf - . | cat > /dev/null",
            tree.display()
        ))
        .status()?;
    let tar = t.elapsed();
    if !status.success() {
        bail!("tar failed");
    }
    let query = format!(
        r#"{{ host {{ directory(path: "{}") {{ sync }} }} }}"#,
        tree.display()
    );
    let mut timed = Vec::new();
    for _ in 0..2 {
        let s = start_session().await?;
        let t = Instant::now();
        let v = s.execute(&query, Value::Null, None).await;
        timed.push(t.elapsed());
        if let Some(e) = errors(&v) {
            bail!("{e}");
        }
        s.shutdown(Duration::from_secs(5)).await;
    }
    let rate = |d: Duration| mb / d.as_secs_f64().max(1e-9);
    println!(
        "host sync, 10,000 files / {mb:.0} MB: first {} ({:.0} MB/s) | unchanged re-sync {} ({:.0} MB/s) | baseline tar to /dev/null {} ({:.0} MB/s) | ratios first/tar {:.2}, re-sync/tar {:.2}",
        ms(timed[0]),
        rate(timed[0]),
        ms(timed[1]),
        rate(timed[1]),
        ms(tar),
        rate(tar),
        timed[0].as_secs_f64() / tar.as_secs_f64().max(1e-9),
        timed[1].as_secs_f64() / tar.as_secs_f64().max(1e-9)
    );
    Ok(())
}

fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Benchmark 5: RSS of a `dirk session` process idle, and its peak during 100 concurrent queries; the baseline
/// is `dirk version`'s peak (the binary alone).
async fn memory() -> Result<()> {
    let dirk = dirk_binary()?;
    let baseline = {
        let out = Command::new("/usr/bin/time")
            .args(["-f", "%M"])
            .arg(&dirk)
            .arg("version")
            .output();
        out.ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stderr)
                    .trim()
                    .lines()
                    .last()?
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(0)
    };
    let (mut child, info) = spawn_session(&dirk)?;
    let port = info["port"].as_u64().context("no port")? as u16;
    let token = info["session_token"]
        .as_str()
        .context("no token")?
        .to_owned();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = status_kb(child.id(), "VmRSS:");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut tasks = Vec::new();
    for i in 0..100 {
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let q = format!(
                r#"{{ container {{ from(address: "{BUSYBOX}") {{ withExec(args: ["echo", "{i}"]) {{ stdout }} }} }} }}"#
            );
            let body = serde_json::to_vec(&serde_json::json!({ "query": q }))?;
            Client::connect(addr, &token).await?.post(&body).await
        }));
    }
    for t in tasks {
        t.await??;
    }
    let peak = status_kb(child.id(), "VmHWM:");
    drop(child.stdin.take());
    child.wait()?;
    println!(
        "memory: session idle RSS {:.1} MB | peak during 100 concurrent queries {:.1} MB | baseline `dirk version` peak {:.1} MB | targets idle <= 30 MB, peak <= 150 MB",
        idle as f64 / 1024.0,
        peak as f64 / 1024.0,
        baseline as f64 / 1024.0
    );
    Ok(())
}

/// Benchmark 6: A pipeline of 10,000 `withExec` steps, built 500 steps per query (each continuing
/// from the last one's ID): time per segment and memory growth must stay flat (linear in total).
async fn many_objects() -> Result<()> {
    let s = start_session().await?;
    let me = std::process::id();
    let rss0 = status_kb(me, "VmRSS:");
    let mut id = {
        let v = s
            .execute(
                &format!(r#"{{ container {{ from(address: "{BUSYBOX}") {{ id }} }} }}"#),
                Value::Null,
                None,
            )
            .await;
        v["data"]["container"]["from"]["id"]
            .as_str()
            .context("no id")?
            .to_owned()
    };
    let mut segments = Vec::new();
    const SEGMENTS: usize = 20;
    const STEPS: usize = 500;
    for segment in 0..SEGMENTS {
        let mut q = format!(r#"{{ container(id: "{id}") {{ "#);
        for i in 0..STEPS {
            q.push_str(&format!(r#"withExec(args: ["echo", "{segment}-{i}"]) {{ "#));
        }
        q.push_str("id");
        q.push_str(&" }".repeat(STEPS + 2));
        let t = Instant::now();
        let v = s.execute(&q, Value::Null, None).await;
        segments.push(t.elapsed());
        if let Some(e) = errors(&v) {
            bail!("{e}");
        }
        let mut cur = &v["data"]["container"];
        for _ in 0..STEPS {
            cur = &cur["withExec"];
        }
        id = cur["id"]
            .as_str()
            .context("no id at the end of the chain")?
            .to_owned();
    }
    let rss1 = status_kb(me, "VmRSS:");
    let total: Duration = segments.iter().sum();
    println!(
        "10,000 withExec steps ({SEGMENTS} queries of {STEPS}): total {} | first {STEPS} {} | last {STEPS} {} | ratio last/first {:.2} (1.0 = linear) | memory growth {:.1} MB",
        ms(total),
        ms(segments[0]),
        ms(segments[SEGMENTS - 1]),
        segments[SEGMENTS - 1].as_secs_f64() / segments[0].as_secs_f64().max(1e-9),
        (rss1.saturating_sub(rss0)) as f64 / 1024.0
    );
    s.shutdown(Duration::from_secs(5)).await;
    Ok(())
}

/// Benchmark: a cold client exec bound to a busybox httpd service (the service starts, becomes
/// ready, serves one request), against the same cold exec with no service. Each run has a new
/// session and a command never run before, so neither is cached.
async fn services() -> Result<()> {
    const RUNS: usize = 5;
    let service = format!(
        r#"{{ container {{ from(address: "{BUSYBOX}") {{ withNewFile(path: "/srv/index.html", contents: "bench") {{ withExec(args: ["httpd", "-f", "-p", "8080", "-h", "/srv"]) {{ withExposedPort(port: 8080) {{ id }} }} }} }} }} }}"#
    );
    let (mut bound, mut plain) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        for with_service in [true, false] {
            let s = start_session().await?;
            let v = s.execute(&service, Value::Null, None).await;
            if let Some(e) = errors(&v) {
                bail!("{e}");
            }
            let id =
                v["data"]["container"]["from"]["withNewFile"]["withExec"]["withExposedPort"]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
            let nonce: u64 = rand::random();
            let (binding, close, fetch) = if with_service {
                (
                    format!(r#"withServiceBinding(alias: "www", service: "{id}") {{"#),
                    "}",
                    " && wget -qO- http://www:8080/",
                )
            } else {
                (String::new(), "", "")
            };
            let client = format!(
                r#"{{ container {{ from(address: "{BUSYBOX}") {{ {binding} withExec(args: ["sh", "-c", "echo {nonce}{fetch}"]) {{ stdout }} {close} }} }} }}"#
            );
            // Resolve the image first: only the exec (and the service) are timed.
            let _ = s
                .execute(
                    &format!(r#"{{ container {{ from(address: "{BUSYBOX}") {{ id }} }} }}"#),
                    Value::Null,
                    None,
                )
                .await;
            let t = Instant::now();
            let v = s.execute(&client, Value::Null, None).await;
            let took = t.elapsed();
            if let Some(e) = errors(&v) {
                bail!("{e}");
            }
            if with_service {
                bound.push(took)
            } else {
                plain.push(took)
            }
            s.shutdown(Duration::from_secs(5)).await;
        }
    }
    bound.sort();
    plain.sort();
    let (b, p) = (percentile(&bound, 0.5), percentile(&plain, 0.5));
    println!(
        "services, cold client exec ({RUNS} runs, new session each): bound to an httpd service median {} | same exec, no service {} | the service adds {} | target <= 300 ms",
        ms(b),
        ms(p),
        ms(b.saturating_sub(p))
    );
    Ok(())
}
