//! Image tarballs. The daemon exports a container's filesystem as a tar stream (its `tar` exporter,
//! which every BuildKit has); this module wraps that stream as the single layer of an image and
//! writes an OCI image layout archive around it, with a Docker `manifest.json` as well, so that
//! `docker load` and OCI tools read the same file.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::error::{CoreError, CoreResult};
use super::image::ImageConfig;
use crate::llb::Platform;

/// Media types of one of the two families an image can use.
#[derive(Debug, Clone, Copy)]
struct MediaTypes {
    manifest: &'static str,
    config: &'static str,
    layer: &'static str,
}

const OCI: MediaTypes = MediaTypes {
    manifest: "application/vnd.oci.image.manifest.v1+json",
    config: "application/vnd.oci.image.config.v1+json",
    layer: "application/vnd.oci.image.layer.v1.tar",
};

const DOCKER: MediaTypes = MediaTypes {
    manifest: "application/vnd.docker.distribution.manifest.v2+json",
    config: "application/vnd.docker.container.image.v1+json",
    layer: "application/vnd.docker.image.rootfs.diff.tar",
};

fn io_error(path: &Path, e: std::io::Error) -> CoreError {
    CoreError::invalid("export path", path.display().to_string(), e.to_string())
}

/// `sha256:<hex>` and size of a file.
fn digest_file(path: &Path) -> CoreResult<(String, u64)> {
    let mut file = File::open(path).map_err(|e| io_error(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(|e| io_error(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((format!("sha256:{}", hex::encode(hasher.finalize())), size))
}

fn blob_path(digest: &str) -> String {
    format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"))
}

fn append_bytes<W: Write>(
    out: &mut tar::Builder<W>,
    name: &str,
    bytes: &[u8],
    dest: &Path,
) -> CoreResult<()> {
    let mut header = tar::Header::new_ustar();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    out.append_data(&mut header, name, bytes)
        .map_err(|e| io_error(dest, e))
}

/// Writes an image archive to `dest` whose one layer is the filesystem tarball `layer`.
pub fn write_image_archive(
    layer: &Path,
    config: &ImageConfig,
    platform: &Platform,
    docker_media_types: bool,
    dest: &Path,
) -> CoreResult<()> {
    let types = if docker_media_types { DOCKER } else { OCI };
    let (layer_digest, layer_size) = digest_file(layer)?;
    let config_json = serde_json::to_vec(&serde_json::json!({
        "architecture": platform.architecture,
        "os": platform.os,
        "config": config,
        "rootfs": { "type": "layers", "diff_ids": [layer_digest] },
        "history": [{ "created_by": "dirk: container exported as one layer" }],
    }))
    .map_err(|e| CoreError::Unsupported(format!("encoding the image config: {e}")))?;
    let config_digest = format!("sha256:{}", hex::encode(Sha256::digest(&config_json)));
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": types.manifest,
        "config": { "mediaType": types.config, "digest": config_digest, "size": config_json.len() },
        "layers": [{ "mediaType": types.layer, "digest": layer_digest, "size": layer_size }],
    }))
    .map_err(|e| CoreError::Unsupported(format!("encoding the image manifest: {e}")))?;
    let manifest_digest = format!("sha256:{}", hex::encode(Sha256::digest(&manifest)));
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{
            "mediaType": types.manifest,
            "digest": manifest_digest,
            "size": manifest.len(),
            "platform": { "architecture": platform.architecture, "os": platform.os },
        }],
    }))
    .map_err(|e| CoreError::Unsupported(format!("encoding the image index: {e}")))?;
    let docker_manifest = serde_json::to_vec(&serde_json::json!([{
        "Config": blob_path(&config_digest),
        "RepoTags": [],
        "Layers": [blob_path(&layer_digest)],
    }]))
    .map_err(|e| CoreError::Unsupported(format!("encoding manifest.json: {e}")))?;

    let file = File::create(dest).map_err(|e| io_error(dest, e))?;
    let mut out = tar::Builder::new(std::io::BufWriter::new(file));
    append_bytes(
        &mut out,
        "oci-layout",
        br#"{"imageLayoutVersion":"1.0.0"}"#,
        dest,
    )?;
    append_bytes(&mut out, "index.json", &index, dest)?;
    append_bytes(&mut out, "manifest.json", &docker_manifest, dest)?;
    append_bytes(&mut out, &blob_path(&config_digest), &config_json, dest)?;
    append_bytes(&mut out, &blob_path(&manifest_digest), &manifest, dest)?;
    let mut header = tar::Header::new_ustar();
    header.set_size(layer_size);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    let layer_file = File::open(layer).map_err(|e| io_error(layer, e))?;
    out.append_data(&mut header, blob_path(&layer_digest), layer_file)
        .map_err(|e| io_error(dest, e))?;
    let mut writer = out.into_inner().map_err(|e| io_error(dest, e))?;
    writer.flush().map_err(|e| io_error(dest, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_archive_is_an_oci_layout_and_a_docker_archive() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let layer = dir.path().join("layer.tar");
        std::fs::write(&layer, vec![0u8; 1024]).unwrap_or_else(|e| panic!("{e}"));
        let dest = dir.path().join("image.tar");
        let result = write_image_archive(
            &layer,
            &ImageConfig::default(),
            &Platform::linux("amd64"),
            false,
            &dest,
        );
        assert!(result.is_ok(), "{result:?}");
        let mut archive = tar::Archive::new(File::open(&dest).unwrap_or_else(|e| panic!("{e}")));
        let mut names: Vec<String> = archive
            .entries()
            .unwrap_or_else(|e| panic!("{e}"))
            .filter_map(|e| e.ok())
            .filter_map(|e| e.path().ok().map(|p| p.to_string_lossy().into_owned()))
            .collect();
        names.sort();
        assert_eq!(names.len(), 6, "{names:?}");
        assert!(names.contains(&"oci-layout".to_owned()));
        assert!(names.contains(&"index.json".to_owned()));
        assert!(names.contains(&"manifest.json".to_owned()));
        let (digest, _) = digest_file(&layer).unwrap_or_default();
        assert!(names.contains(&blob_path(&digest)), "{names:?}");
    }
}
