//! Benchmark: publishing a small change on a 100 MB base image, first and again, against
//! `docker push` of the same images. Both push through a proxy in front of the test registry that
//! counts the bytes clients send, so both are measured the same way.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{errors, start_session};

const REGISTRY: &str = "127.0.0.1:5000";

/// A TCP proxy to the registry that counts the bytes clients send through it.
struct CountingProxy {
    address: String,
    sent: Arc<AtomicU64>,
}

impl CountingProxy {
    async fn start() -> Result<CountingProxy> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        let sent = Arc::new(AtomicU64::new(0));
        let counter = sent.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let Ok(upstream) = tokio::net::TcpStream::connect(REGISTRY).await else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut ur, mut uw) = upstream.into_split();
                    let up = async move {
                        let mut buf = vec![0u8; 1 << 16];
                        while let Ok(n) = cr.read(&mut buf).await {
                            if n == 0 || uw.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                            counter.fetch_add(n as u64, Ordering::Relaxed);
                        }
                        let _ = uw.shutdown().await;
                    };
                    let down = async move {
                        let _ = tokio::io::copy(&mut ur, &mut cw).await;
                        let _ = cw.shutdown().await;
                    };
                    tokio::join!(up, down);
                });
            }
        });
        Ok(CountingProxy { address, sent })
    }

    fn take(&self) -> u64 {
        self.sent.swap(0, Ordering::Relaxed)
    }
}

/// Publishes `query`'s container in a new session; returns (reference, seconds).
async fn dirk_publish(query: &str) -> Result<(String, Duration)> {
    let s = start_session().await?;
    let t = Instant::now();
    let v = s.execute(query, Value::Null, None).await;
    let took = t.elapsed();
    s.shutdown(Duration::from_secs(5)).await;
    if let Some(e) = errors(&v) {
        bail!("{e}");
    }
    let from = &v["data"]["container"]["from"];
    let reference = from["withNewFile"]["publish"]
        .as_str()
        .or_else(|| from["withExec"]["publish"].as_str())
        .unwrap_or_default()
        .to_owned();
    Ok((reference, took))
}

fn docker(args: &[&str], dir: &std::path::Path) -> Result<()> {
    let out = Command::new("docker")
        .args(args)
        .current_dir(dir)
        .output()
        .context("running docker")?;
    if !out.status.success() {
        bail!(
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

fn mb(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1e6)
}

pub async fn publish() -> Result<()> {
    let proxy = CountingProxy::start().await?;
    let at = &proxy.address;
    let nonce: u32 = rand::random();
    let busybox = format!("{at}/busybox:latest");
    // The base: busybox and a 100 MB layer, in the registry.
    let base_query = format!(
        r#"{{ container {{ from(address: "{busybox}") {{ withExec(args: ["sh", "-c", "head -c 100000000 /dev/urandom > /base.bin"]) {{ publish(address: "{at}/dirk-bench/base-{nonce}:v1") }} }} }} }}"#
    );
    let (base, _) = dirk_publish(&base_query).await?;
    let base = base.split('@').next().unwrap_or_default().to_owned();
    proxy.take();
    // 1 KB that no earlier run wrote, so that neither tool finds the change in its cache.
    let change = |n: u32| -> String {
        let mut text = format!("{nonce}-{n}-");
        text.extend((text.len()..1024).map(|i| char::from(b'a' + ((i as u32 + n) % 26) as u8)));
        text
    };
    let app = |tag: &str, n: u32| {
        format!(
            r#"{{ container {{ from(address: "{base}") {{ withNewFile(path: "/change", contents: "{}") {{ publish(address: "{at}/dirk-bench/app-{nonce}:{tag}") }} }} }} }}"#,
            change(n)
        )
    };
    let (_, dirk_first) = dirk_publish(&app("1", 1)).await?;
    let dirk_first_bytes = proxy.take();
    let (_, dirk_repeat) = dirk_publish(&app("2", 2)).await?;
    let dirk_repeat_bytes = proxy.take();

    // docker push of the same images: the base pulled, a 1 KB COPY on it, pushed twice.
    let dir = super::ScratchDir::new()?;
    std::fs::write(
        dir.0.as_path().join("Dockerfile"),
        format!("FROM {base}\nCOPY change /change\n"),
    )?;
    docker(&["pull", "-q", &base], dir.0.as_path())?;
    let mut docker_times = Vec::new();
    let mut docker_builds = Vec::new();
    let mut docker_bytes = Vec::new();
    for n in [1u32, 2] {
        std::fs::write(dir.0.as_path().join("change"), change(n + 10))?;
        let tag = format!("{at}/dirk-bench/docker-{nonce}:{n}");
        let t = Instant::now();
        docker(&["build", "-q", "-t", &tag, "."], dir.0.as_path())?;
        docker_builds.push(t.elapsed());
        proxy.take();
        let t = Instant::now();
        docker(&["push", "-q", &tag], dir.0.as_path())?;
        docker_times.push(t.elapsed());
        docker_bytes.push(proxy.take());
        let _ = docker(&["rmi", "-f", &tag], dir.0.as_path());
    }
    let _ = docker(&["rmi", "-f", &base], dir.0.as_path());
    let secs = |d: Duration| format!("{:.2} s", d.as_secs_f64());
    println!(
        "publish, 100 MB base + 1 KB change (dirk's time includes computing the new layer on the daemon): dirk first {} / {} sent, repeat {} / {} sent | docker push first {} / {} sent, repeat {} / {} sent (docker build before each push: {}, {}) | repeat ratio to docker push: time {:.2} (to build + push: {:.2}), bytes {:.2} | targets: repeat bytes <= 1.1 x (new layer + manifests), repeat time <= 1.5 x docker push",
        secs(dirk_first),
        mb(dirk_first_bytes),
        secs(dirk_repeat),
        mb(dirk_repeat_bytes),
        secs(docker_times[0]),
        mb(docker_bytes[0]),
        secs(docker_times[1]),
        mb(docker_bytes[1]),
        secs(docker_builds[0]),
        secs(docker_builds[1]),
        dirk_repeat.as_secs_f64() / docker_times[1].as_secs_f64().max(1e-9),
        dirk_repeat.as_secs_f64() / (docker_times[1] + docker_builds[1]).as_secs_f64().max(1e-9),
        dirk_repeat_bytes as f64 / docker_bytes[1].max(1) as f64,
    );
    Ok(())
}
