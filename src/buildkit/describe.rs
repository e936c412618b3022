//! What a runner is: its address, BuildKit version, workers and platforms, and whether it has the
//! LLB capabilities dirk chooses features by. Used by `dirk engine`.

use bollard_buildkit_proto::moby::buildkit::v1 as control;
use control::control_client::ControlClient;

use super::address::Runner;
use super::attach::Attachables;
use super::session::SessionIdentity;
use super::{BuildkitSession, ConnectError};
use crate::llb::Platform;

/// LLB capabilities dirk looks for, and what each one gives.
pub const CAPABILITIES: [(&str, &str); 7] = [
    (
        "file.copy.includeexcludepatterns",
        "include/exclude patterns when copying directories",
    ),
    (
        "exec.secretenv",
        "secret variables set by the daemon (dirk's shim works without it)",
    ),
    ("exec.mount.ssh", "forwarding host unix sockets"),
    ("exec.mount.secret", "secret files"),
    ("frontend.inputs", "Dockerfile builds from any directory"),
    (
        "diffop",
        "Directory.diff runs as the daemon's diff op (dirk's shim computes it without)",
    ),
    ("mergeop", "merging filesystems without copies"),
];

/// One worker of the daemon.
#[derive(Debug, Clone)]
pub struct Worker {
    /// Its id.
    pub id: String,
    /// Platforms it runs.
    pub platforms: Vec<Platform>,
    /// Its build-cache garbage collection, one rule per entry in the order the daemon applies them
    /// (empty when the daemon collects nothing by itself).
    pub gc_rules: Vec<String>,
}

/// One garbage-collection rule in words: what it prunes, and what it keeps.
fn gc_rule(policy: &bollard_buildkit_proto::moby::buildkit::v1::types::GcPolicy) -> String {
    let what = if policy.filters.is_empty() {
        if policy.all {
            "everything, in use or not".to_owned()
        } else {
            "unused records".to_owned()
        }
    } else {
        policy.filters.join(", ")
    };
    let mut keep = Vec::new();
    let keep_bytes = policy.reserved_space.max(policy.max_used_space);
    if keep_bytes > 0 {
        keep.push(format!("{:.1} GB", keep_bytes as f64 / 1e9));
    }
    if policy.keep_duration > 0 {
        keep.push(format!(
            "records used in the last {} h",
            policy.keep_duration / 3_600_000_000_000
        ));
    }
    if policy.min_free_space > 0 {
        keep.push(format!("{:.1} GB free", policy.min_free_space as f64 / 1e9));
    }
    if keep.is_empty() {
        format!("prunes {what}")
    } else {
        format!("prunes {what}, keeping {}", keep.join(" and "))
    }
}

/// What `dirk engine` reports.
#[derive(Debug, Clone)]
pub struct EngineReport {
    /// The address, as dirk understood it.
    pub address: String,
    /// Where the address came from (`VAR=value`).
    pub origin: String,
    /// `package version (revision)`, when the daemon says (BuildKit v0.11 and newer).
    pub version: Option<String>,
    /// Its workers.
    pub workers: Vec<Worker>,
    /// Each capability of [`CAPABILITIES`], and whether the daemon has it.
    pub capabilities: Vec<(&'static str, &'static str, bool)>,
    /// The remote cache configured, and whether this daemon exports to it (else import-only).
    pub remote_cache: Option<(String, bool)>,
}

/// Reaches `runner` and describes it, with how it would use `cache`.
pub async fn describe(
    runner: Runner,
    cache: Option<super::remote_cache::RemoteCache>,
) -> Result<EngineReport, ConnectError> {
    let address = runner.address.to_string();
    let origin = format!("{}={}", runner.origin.variable, runner.origin.value);
    let channel = super::reach(&runner).await?;
    let mut control = ControlClient::new(channel);
    let version = control
        .info(control::InfoRequest {})
        .await
        .ok()
        .and_then(|r| r.into_inner().buildkit_version)
        .map(|v| format!("{} {} ({})", v.package, v.version, v.revision));
    let workers = control
        .list_workers(control::ListWorkersRequest::default())
        .await
        .map(|r| r.into_inner().record)
        .unwrap_or_default()
        .into_iter()
        .map(|w| Worker {
            id: w.id,
            platforms: w.platforms.iter().map(Platform::from_pb).collect(),
            gc_rules: w.gc_policy.iter().map(gc_rule).collect(),
        })
        .collect();
    let identity = SessionIdentity::new("dirk-engine", "dirk-engine");
    let session = BuildkitSession::connect(
        runner,
        &identity,
        Attachables::health_only(),
        cache.as_ref(),
    )
    .await?;
    let remote_cache = cache.map(|c| {
        (
            format!("{} ({})", c.describe(), c.variable),
            session.engine.exports_cache(),
        )
    });
    let capabilities = CAPABILITIES
        .iter()
        .map(|(cap, what)| {
            (
                *cap,
                *what,
                session.engine.capabilities().llb.iter().any(|c| c == cap),
            )
        })
        .collect();
    session.close(std::time::Duration::from_secs(5)).await;
    Ok(EngineReport {
        address,
        origin,
        version,
        workers,
        capabilities,
        remote_cache,
    })
}
