//! Files: a path inside an LLB state.

use super::error::{CoreError, CoreResult};
use super::runtime::Runtime;
use super::solve::evaluate;
use crate::llb::{Platform, State};

/// Largest piece of a file read from the daemon at once.
const READ_CHUNK: u64 = 4 * 1024 * 1024;

/// A single file: `path` inside `state`.
#[derive(Debug, Clone, PartialEq)]
pub struct File {
    /// The filesystem holding the file.
    pub state: State,
    /// The file's absolute path within `state`.
    pub path: String,
    /// Platform of the filesystem.
    pub platform: Platform,
}

impl File {
    /// The file at `url`, which the daemon downloads when the file is first needed. Its name is the
    /// last segment of the URL's path (`index` when there is none).
    /// `service` is the hostname of the service that serves the URL, when one does.
    pub fn http(url: &str, platform: &Platform, service: Option<&str>) -> CoreResult<File> {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(|| CoreError::invalid("url", url, "expected an http:// or https:// URL"))?;
        let path = rest.split(['?', '#']).next().unwrap_or(rest);
        if path.split('/').next().is_none_or(str::is_empty) {
            return Err(CoreError::invalid("url", url, "the URL has no host"));
        }
        let name = path
            .split_once('/')
            .map(|(_, p)| p.rsplit('/').next().unwrap_or(""))
            .filter(|n| !n.is_empty() && *n != "." && *n != "..")
            .unwrap_or("index")
            .to_owned();
        Ok(File {
            state: crate::llb::HttpSource {
                url: url.to_owned(),
                filename: name.clone(),
                service: service.map(str::to_owned),
                ..Default::default()
            }
            .build(),
            path: format!("/{name}"),
            platform: platform.clone(),
        })
    }

    /// What identifies this file (for IDs).
    pub fn fingerprint(&self) -> String {
        format!(
            "file\n{}\n{}\n{}",
            self.state.key(),
            self.path,
            self.platform
        )
    }

    async fn solved(&self, rt: &Runtime) -> CoreResult<crate::core::SolvedRef> {
        let action = format!("evaluating file {}", self.path);
        evaluate(rt, &self.state, &action)
            .await?
            .ok_or_else(|| CoreError::NotFound {
                object: "file".into(),
                path: self.path.clone(),
            })
    }

    /// Solves the file's state and stats the file, which must not be a directory.
    async fn solved_stat(
        &self,
        rt: &Runtime,
    ) -> CoreResult<(crate::core::SolvedRef, crate::core::FileStat)> {
        let result = self.solved(rt).await?;
        let stat = rt
            .engine()
            .stat(&result, &self.path)
            .await
            .map_err(|e| CoreError::engine("file", e))?;
        if stat.is_dir() {
            return Err(CoreError::invalid(
                "file",
                self.path.clone(),
                "it is a directory",
            ));
        }
        Ok((result, stat))
    }

    /// The file's size in bytes.
    pub async fn size(&self, rt: &Runtime) -> CoreResult<i64> {
        Ok(self.solved_stat(rt).await?.1.size)
    }

    /// The file's contents (invalid UTF-8 is replaced).
    pub async fn contents(&self, rt: &Runtime) -> CoreResult<String> {
        let bytes = self.bytes(rt).await?;
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    /// The file's bytes, read in chunks.
    pub async fn bytes(&self, rt: &Runtime) -> CoreResult<Vec<u8>> {
        let (result, stat) = self.solved_stat(rt).await?;
        let size = u64::try_from(stat.size).unwrap_or(0);
        let mut out = Vec::with_capacity(size as usize);
        while (out.len() as u64) < size || size == 0 {
            let chunk = rt
                .engine()
                .read_file(&result, &self.path, out.len() as u64, Some(READ_CHUNK))
                .await
                .map_err(|e| CoreError::engine(format!("reading file {}", self.path), e))?;
            let done = (chunk.len() as u64) < READ_CHUNK;
            out.extend_from_slice(&chunk);
            if done || size == 0 {
                break;
            }
        }
        Ok(out)
    }

    /// The file with its modification time set to `unix_seconds`.
    pub fn with_timestamps(&self, unix_seconds: i64) -> File {
        let name = super::paths::base_name(&self.path);
        let dest = format!("/{name}");
        File {
            state: super::layers::retimed(
                self.state.clone(),
                &self.path,
                &dest,
                unix_seconds,
                &self.platform,
            ),
            path: dest,
            platform: self.platform.clone(),
        }
    }

    /// Evaluates the file and checks that it exists.
    pub async fn sync(&self, rt: &Runtime) -> CoreResult<()> {
        self.size(rt).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_files_are_named_after_the_url_path() {
        let p = Platform::linux("amd64");
        let name = |url: &str| {
            File::http(url, &p, None)
                .map(|f| f.path)
                .map_err(|e| e.to_string())
        };
        assert_eq!(
            name("https://example.com/dl/tool.tar.gz?x=1"),
            Ok("/tool.tar.gz".into())
        );
        assert_eq!(name("http://127.0.0.1:8080/"), Ok("/index".into()));
        assert_eq!(name("http://127.0.0.1:8080"), Ok("/index".into()));
        assert!(name("ftp://example.com/x").is_err_and(|e| e.contains("http://")));
        assert!(name("https:///x").is_err());
    }
}
