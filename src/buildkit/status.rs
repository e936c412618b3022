//! The daemon's progress for a build (`Control.Status`), converted into the domain's progress
//! events ([`crate::core::progress`]): which steps started, finished, were cached or failed, and
//! what their commands printed.

use std::time::{Duration, SystemTime};

use bollard_buildkit_proto::google::protobuf::Timestamp;
use bollard_buildkit_proto::moby::buildkit::v1 as control;
use control::control_client::ControlClient;
use tokio::sync::mpsc;
use tonic::transport::Channel;

use crate::core::progress::{ProgressEvent, StepStatus};
use crate::core::runtime::SHIM_STEP_NAME;

fn time(ts: Option<Timestamp>) -> Option<SystemTime> {
    let ts = ts?;
    let secs = u64::try_from(ts.seconds).ok()?;
    let nanos = u32::try_from(ts.nanos).unwrap_or(0);
    Some(SystemTime::UNIX_EPOCH + Duration::new(secs, nanos))
}

/// Converts one status message into events (vertex changes first, then logs). dirk's own plumbing
/// (the exec shim's delivery) is left out: it is no step of the user's pipeline.
pub(crate) fn events(response: control::StatusResponse) -> Vec<ProgressEvent> {
    let hidden: Vec<String> = response
        .vertexes
        .iter()
        .filter(|v| v.name == SHIM_STEP_NAME)
        .map(|v| v.digest.clone())
        .collect();
    let steps = response
        .vertexes
        .into_iter()
        .filter(|v| v.name != SHIM_STEP_NAME)
        .map(|v| {
            ProgressEvent::Step(StepStatus {
                digest: v.digest,
                name: v.name,
                cached: v.cached,
                started: time(v.started),
                completed: time(v.completed),
                error: v.error,
            })
        });
    let logs = response
        .logs
        .into_iter()
        .filter(|l| !hidden.contains(&l.vertex))
        .map(|l| ProgressEvent::Log {
            digest: l.vertex,
            stream: l.stream,
            data: l.msg,
        });
    steps.chain(logs).collect()
}

/// Streams the progress of build `build_ref` until the build ends or the receiver is dropped.
pub(crate) fn watch(channel: Channel, build_ref: String) -> mpsc::Receiver<ProgressEvent> {
    let (tx, rx) = mpsc::channel(1024);
    let mut request = tonic::Request::new(control::StatusRequest { r#ref: build_ref });
    crate::telemetry::inject(request.metadata_mut());
    tokio::spawn(async move {
        let mut client = ControlClient::new(channel).max_decoding_message_size(64 << 20);
        let Ok(response) = client.status(request).await else {
            return;
        };
        let mut stream = response.into_inner();
        while let Ok(Some(message)) = stream.message().await {
            for event in events(message) {
                if tx.send(event).await.is_err() {
                    return;
                }
            }
        }
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vertexes_then_logs() {
        let response = control::StatusResponse {
            vertexes: vec![control::Vertex {
                digest: "sha256:a".into(),
                name: "exec echo hi".into(),
                started: Some(Timestamp {
                    seconds: 10,
                    nanos: 0,
                }),
                ..Default::default()
            }],
            logs: vec![control::VertexLog {
                vertex: "sha256:a".into(),
                stream: 1,
                msg: b"hi\n".to_vec(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let got = events(response);
        assert_eq!(got.len(), 2);
        assert!(
            matches!(&got[0], ProgressEvent::Step(s) if s.name == "exec echo hi" && s.started.is_some() && s.completed.is_none())
        );
        assert!(matches!(&got[1], ProgressEvent::Log { stream: 1, data, .. } if data == b"hi\n"));
    }

    #[test]
    fn the_shim_transfer_is_not_a_step() {
        let response = control::StatusResponse {
            vertexes: vec![control::Vertex {
                digest: "sha256:shim".into(),
                name: SHIM_STEP_NAME.into(),
                ..Default::default()
            }],
            logs: vec![control::VertexLog {
                vertex: "sha256:shim".into(),
                stream: 1,
                msg: b"transferring".to_vec(),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(events(response), vec![]);
    }
}
