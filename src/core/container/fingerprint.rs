//! What identifies a container: the fingerprint its ID is made from (every part of the value that
//! can change what the container is or does).

use super::{Container, MountSource};
use crate::core::directory::Directory;
use crate::llb::State;

impl Container {
    /// What identifies this container (for IDs).
    pub fn fingerprint(&self) -> String {
        let mounts: Vec<String> = self
            .mounts
            .iter()
            .map(|m| match &m.source {
                MountSource::Directory { state, dir } => {
                    format!("{}=dir:{}:{dir}", m.target, state.key())
                }
                MountSource::Cache {
                    volume,
                    sharing,
                    seed,
                } => {
                    format!(
                        "{}=cache:{}:{sharing:?}:{}",
                        m.target,
                        volume.key,
                        seed.as_ref()
                            .map(Directory::fingerprint)
                            .unwrap_or_default()
                    )
                }
                MountSource::Temp => format!("{}=tmp", m.target),
                MountSource::Secret { secret, uid, gid } => {
                    format!("{}=secret:{}:{uid}:{gid}", m.target, secret.fingerprint())
                }
                MountSource::Socket { socket, uid, gid } => {
                    format!("{}=socket:{}:{uid}:{gid}", m.target, socket.fingerprint())
                }
            })
            .collect();
        let secret_env: Vec<String> = self
            .secret_env
            .iter()
            .map(|(name, secret)| format!("{name}={}", secret.fingerprint()))
            .collect();
        format!(
            "ctr\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
            self.rootfs.key(),
            serde_json::to_string(&self.config).unwrap_or_default(),
            mounts.join("\n"),
            self.meta.as_ref().map(State::key).unwrap_or_default(),
            self.platform,
            self.image_ref.as_deref().unwrap_or_default(),
            secret_env.join("\n"),
        ) + &format!(
            "\npipeline {}\nports {}\nbindings {}\nbase {}",
            self.pipeline,
            serde_json::to_string(&self.ports).unwrap_or_default(),
            serde_json::to_string(&self.bindings).unwrap_or_default(),
            self.base
                .as_ref()
                .map(|b| {
                    let marks: Vec<String> = b.marks.iter().map(State::key).collect();
                    format!("{} {} {}", b.reference, b.rootfs.key(), marks.join(","))
                })
                .unwrap_or_default()
        )
    }
}
