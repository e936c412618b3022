//! Traces: dirk exports its spans over OTLP to a real receiver (an OTLP/gRPC trace service run by the
//! test), shares the trace with `dirk run`'s child, and never fails a pipeline when export fails.

mod common;

use common::BUSYBOX;

use std::process::Command;
use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;

#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<Span>>>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let spans = request
            .into_inner()
            .resource_spans
            .into_iter()
            .flat_map(|r| r.scope_spans)
            .flat_map(|s| s.spans);
        if let Ok(mut all) = self.0.lock() {
            all.extend(spans);
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// Starts a receiver on 127.0.0.1; returns its endpoint and what it has received.
fn receiver(rt: &tokio::runtime::Runtime) -> (String, Arc<Mutex<Vec<Span>>>) {
    let received = Receiver::default();
    let spans = received.0.clone();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap_or_else(|e| panic!("binding the receiver: {e}"));
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    rt.spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(received))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    (format!("http://127.0.0.1:{port}"), spans)
}

fn attr(span: &Span, key: &str) -> Option<String> {
    span.attributes.iter().find(|a| a.key == key).and_then(|a| {
        match a.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(AnyValue::StringValue(s)) => Some(s.clone()),
            Some(AnyValue::IntValue(i)) => Some(i.to_string()),
            _ => None,
        }
    })
}

fn dirk(args: &[&str], endpoint: &str) -> std::process::Output {
    common::require_daemon();
    Command::new(env!("CARGO_BIN_EXE_dirk"))
        .args(args)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .output()
        .unwrap_or_else(|e| panic!("running dirk: {e}"))
}

/// Runs dirk, which must succeed.
fn dirk_ok(args: &[&str], endpoint: &str) {
    let out = dirk(args, endpoint);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn spans_for_session_requests_and_solves_in_one_trace() -> common::TestResult {
    let rt = tokio::runtime::Runtime::new()?;
    let (endpoint, spans) = receiver(&rt);
    let q = format!(
        r#"query Probe {{ container {{ from(address: "{BUSYBOX}") {{ withExec(args: ["echo", {}]) {{ stdout }} }} }} }}"#,
        common::lit(&common::unique())
    );
    dirk_ok(&["query", "--progress", "none", &q], &endpoint);

    let spans = spans.lock().map(|s| s.clone()).unwrap_or_default();
    let named = |name: &str| spans.iter().find(|s| s.name == name).cloned();
    let root = named("dirk").unwrap_or_else(|| {
        panic!(
            "no dirk span in {:?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        )
    });
    let session = named("dirk.session").unwrap_or_else(|| panic!("no session span"));
    let request = named("graphql Probe").unwrap_or_else(|| panic!("no request span"));
    let solve = named("buildkit.solve").unwrap_or_else(|| panic!("no solve span"));
    for span in [&session, &request, &solve] {
        assert_eq!(
            span.trace_id, root.trace_id,
            "{} is in another trace",
            span.name
        );
    }
    assert_eq!(session.parent_span_id, root.span_id);
    assert_eq!(request.parent_span_id, session.span_id);
    assert_eq!(
        attr(&request, "graphql.operation.name").as_deref(),
        Some("Probe")
    );
    let digests = attr(&solve, "buildkit.vertex_digests").unwrap_or_default();
    assert!(digests.starts_with("sha256:"), "{digests}");
    assert!(attr(&solve, "buildkit.definition").is_some_and(|d| digests.contains(&d)));
    // The solve happened while the request ran.
    let mut ancestor = solve.parent_span_id.clone();
    let mut hops = 0;
    while ancestor != request.span_id && hops < 10 {
        ancestor = spans
            .iter()
            .find(|s| s.span_id == ancestor)
            .map(|s| s.parent_span_id.clone())
            .unwrap_or_default();
        hops += 1;
    }
    assert_eq!(
        ancestor, request.span_id,
        "the solve span is not under the request span"
    );
    Ok(())
}

#[test]
fn dirk_run_hands_its_trace_to_the_child() -> common::TestResult {
    let rt = tokio::runtime::Runtime::new()?;
    let (endpoint, spans) = receiver(&rt);
    let out = dirk(
        &[
            "run",
            "--progress",
            "none",
            "--",
            "sh",
            "-c",
            "echo $TRACEPARENT",
        ],
        &endpoint,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let traceparent = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let parts: Vec<&str> = traceparent.split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparent:?}");
    let spans = spans.lock().map(|s| s.clone()).unwrap_or_default();
    let root = spans
        .iter()
        .find(|s| s.name == "dirk")
        .unwrap_or_else(|| panic!("no dirk span"));
    assert_eq!(parts[1], hex(&root.trace_id));
    Ok(())
}

#[test]
fn an_unreachable_collector_never_fails_a_pipeline() {
    // Nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(9);
    let out = dirk(
        &["query", "--progress", "none", "{ defaultPlatform }"],
        &format!("http://127.0.0.1:{port}"),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert!(v["data"]["defaultPlatform"].is_string(), "{v}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn bool_attr(span: &Span, key: &str) -> Option<bool> {
    span.attributes.iter().find(|a| a.key == key).and_then(|a| {
        match a.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(AnyValue::BoolValue(b)) => Some(*b),
            _ => None,
        }
    })
}

#[test]
fn every_step_is_a_span_with_its_times_cache_state_and_error() -> common::TestResult {
    let rt = tokio::runtime::Runtime::new()?;
    let (endpoint, spans) = receiver(&rt);
    let marker = common::unique();
    let q = format!(
        r#"{{ container {{ from(address: "{BUSYBOX}") {{ withNewFile(path: "/m", contents: {m}) {{ withExec(args: ["sh", "-c", "sleep 0.3; cat /m"]) {{ stdout }} }} }} }} }}"#,
        m = common::lit(&marker)
    );
    for _ in 0..2 {
        dirk_ok(&["query", "--progress", "none", &q], &endpoint);
    }
    let failing = format!(
        r#"{{ container {{ from(address: "{BUSYBOX}") {{ withExec(args: ["sh", "-c", "exit 9 # {marker}"]) {{ stdout }} }} }} }}"#
    );
    let out = dirk(&["query", "--progress", "none", &failing], &endpoint);
    assert_ne!(out.status.code(), Some(0));

    let spans = spans.lock().map(|s| s.clone()).unwrap_or_default();
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    let exec_name = "exec sh -c sleep 0.3; cat /m";
    let execs: Vec<&Span> = spans.iter().filter(|s| s.name == exec_name).collect();
    assert_eq!(execs.len(), 2, "one exec span per run: {names:?}");
    let (ran, cached) = (execs[0], execs[1]);
    assert_eq!(bool_attr(ran, "buildkit.cached"), Some(false));
    assert_eq!(
        bool_attr(cached, "buildkit.cached"),
        Some(true),
        "the second run is cached"
    );
    // The span has the daemon's start and end: the command sleeps 0.3 s.
    let took = ran
        .end_time_unix_nano
        .saturating_sub(ran.start_time_unix_nano);
    assert!(took >= 300_000_000, "the exec span lasted {took} ns");
    assert!(attr(ran, "buildkit.vertex").is_some_and(|d| d.starts_with("sha256:")));
    // It hangs under the solve that sent it, in that run's trace.
    let solve = spans
        .iter()
        .find(|s| s.span_id == ran.parent_span_id)
        .unwrap_or_else(|| panic!("the exec span's parent is not exported: {names:?}"));
    assert_eq!(solve.name, "buildkit.solve");
    assert_eq!(solve.trace_id, ran.trace_id);
    // The span names the op dirk sent: the daemon's own digest, except on daemons that rewrite
    // ops before solving them (Docker 28's BuildKit).
    let op = attr(ran, "dirk.op").unwrap_or_default();
    assert!(
        attr(solve, "buildkit.vertex_digests").is_some_and(|d| d.contains(&op)),
        "the exec's op {op} is not among its solve's"
    );
    // The copy and the pull are steps too.
    assert!(names.contains(&"write /m"), "{names:?}");
    assert!(
        names
            .iter()
            .any(|n| n.starts_with("pull 127.0.0.1:5000/busybox")),
        "{names:?}"
    );
    // A failed step carries its error.
    let failed = spans
        .iter()
        .find(|s| s.name.contains(&format!("exit 9 # {marker}")) && !s.name.starts_with("collect"))
        .unwrap_or_else(|| panic!("no span for the failing exec: {names:?}"));
    let status = failed.status.clone().unwrap_or_default();
    assert_eq!(status.code, 2, "error status expected: {status:?}");
    assert!(status.message.contains("exit code: 9"), "{status:?}");
    // The shim's transfer is not a step.
    assert!(!names.iter().any(|n| n.contains("shim")), "{names:?}");
    Ok(())
}

#[test]
fn a_service_is_its_own_step_with_its_start_and_stop() -> common::TestResult {
    let rt = tokio::runtime::Runtime::new()?;
    let (endpoint, spans) = receiver(&rt);
    let dir = tempfile::tempdir()?;
    let service = serde_json::json!({ "query": format!(
        r#"{{ container {{ from(address: "{BUSYBOX}") {{ withExec(args: ["httpd", "-f", "-p", "8080", "-h", "/tmp"]) {{ withExposedPort(port: 8080) {{ id }} }} }} }} }}"#
    )});
    let client = serde_json::json!({ "query": format!(
        r#"{{ container {{ from(address: "{BUSYBOX}") {{ withServiceBinding(alias: "www", service: "SVCID") {{ withExec(args: ["sh", "-c", "wget -qO- http://www:8080/ || echo reached"]) {{ stdout }} }} }} }} }}"#
    )});
    std::fs::write(dir.path().join("service.json"), service.to_string())?;
    std::fs::write(dir.path().join("client.tmpl"), client.to_string())?;
    // The script talks to its session over HTTP, as an SDK would; the service stops 3 s after the
    // client is done, while the session is still open.
    let script = r#"set -e
post() { curl -sf -u "$DAGGER_SESSION_TOKEN:" -H 'content-type: application/json' --data-binary "@$1" "http://127.0.0.1:$DAGGER_SESSION_PORT/query"; }
id=$(post service.json | sed -E 's/.*"id":"([^"]+)".*/\1/')
sed "s/SVCID/$id/" client.tmpl > client.json
post client.json
sleep 6
"#;
    let out = Command::new(env!("CARGO_BIN_EXE_dirk"))
        .args(["run", "--progress", "none", "--", "sh", "-c", script])
        .current_dir(dir.path())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint)
        .env("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("reached"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let names: Vec<String> = spans
        .lock()
        .map(|s| s.iter().map(|s| s.name.clone()).collect())
        .unwrap_or_default();
    let has = |prefix: &str| names.iter().any(|n| n.starts_with(prefix));
    assert!(has("start service www ("), "{names:?}");
    assert!(
        names
            .iter()
            .any(|n| n.contains("exec httpd -f -p 8080 -h /tmp (service www (")),
        "{names:?}"
    );
    assert!(has("stop service www ("), "{names:?}");
    Ok(())
}
