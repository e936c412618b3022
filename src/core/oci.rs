//! Image tarballs and image blobs. The daemon exports filesystems as tar streams (its `tar`
//! exporter, which every BuildKit has); this module turns such a stream into an image layer
//! (compressed as asked) on top of the layers of the image a container came from (kept as they are
//! on their registry), or into the one layer of a container with no base image, with the image's
//! config and manifest. It writes an OCI image layout archive around one or more images, with a
//! Docker `manifest.json` as well, so that `docker load` and OCI tools read the same file.
//! Publishing pushes the same blobs to a registry.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::error::{CoreError, CoreResult};
use super::image::ImageConfig;
use crate::llb::Platform;

/// Media types of one of the two families an image can use.
#[derive(Debug, Clone, Copy)]
struct MediaTypes {
    index: &'static str,
    manifest: &'static str,
    config: &'static str,
    layer: &'static str,
    layer_gzip: &'static str,
    /// Docker's media types have no zstd layer.
    layer_zstd: Option<&'static str>,
}

const OCI: MediaTypes = MediaTypes {
    index: "application/vnd.oci.image.index.v1+json",
    manifest: "application/vnd.oci.image.manifest.v1+json",
    config: "application/vnd.oci.image.config.v1+json",
    layer: "application/vnd.oci.image.layer.v1.tar",
    layer_gzip: "application/vnd.oci.image.layer.v1.tar+gzip",
    layer_zstd: Some("application/vnd.oci.image.layer.v1.tar+zstd"),
};

const DOCKER: MediaTypes = MediaTypes {
    index: "application/vnd.docker.distribution.manifest.list.v2+json",
    manifest: "application/vnd.docker.distribution.manifest.v2+json",
    config: "application/vnd.docker.container.image.v1+json",
    layer: "application/vnd.docker.image.rootfs.diff.tar",
    layer_gzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
    layer_zstd: None,
};

/// How a layer's tar is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LayerCompression {
    Uncompressed,
    #[default]
    Gzip,
    Zstd,
}

/// How image layers are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageFormat {
    /// Docker's media types instead of OCI's.
    pub docker_media_types: bool,
    pub compression: LayerCompression,
}

impl ImageFormat {
    /// Checks that the media type family has a layer type for the compression.
    pub fn new(docker_media_types: bool, compression: LayerCompression) -> CoreResult<ImageFormat> {
        if docker_media_types && compression == LayerCompression::Zstd {
            return Err(CoreError::invalid(
                "forcedCompression",
                "Zstd",
                "Docker's media types have no zstd layer type; use mediaTypes: OCIMediaTypes",
            ));
        }
        Ok(ImageFormat {
            docker_media_types,
            compression,
        })
    }

    fn types(&self) -> MediaTypes {
        if self.docker_media_types { DOCKER } else { OCI }
    }

    fn layer_type(&self) -> &'static str {
        let types = self.types();
        match self.compression {
            LayerCompression::Uncompressed => types.layer,
            LayerCompression::Gzip => types.layer_gzip,
            LayerCompression::Zstd => types.layer_zstd.unwrap_or(types.layer_gzip),
        }
    }
}

/// A content-addressed blob as manifests refer to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

impl Descriptor {
    fn of(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_owned(),
            digest: sha256(bytes),
            size: bytes.len() as u64,
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({ "mediaType": self.media_type, "digest": self.digest, "size": self.size })
    }
}

/// Where a layer's blob is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayerBlob {
    /// In a file the session wrote.
    File(PathBuf),
    /// On the registry of the image it came from, in repository `repository`.
    Remote {
        registry: String,
        repository: String,
    },
}

/// One layer of an image: how manifests name it and where its blob is.
#[derive(Debug, Clone)]
pub struct ImageLayer {
    pub desc: Descriptor,
    pub blob: LayerBlob,
}

/// The image a container came from, as an image built on it keeps it: its layers (their blobs
/// on its registry), their diff IDs and its history.
#[derive(Debug, Clone)]
pub struct BaseLayers {
    /// The base image's reference, pinned (for history and messages).
    pub reference: String,
    pub registry: String,
    pub repository: String,
    pub layers: Vec<Descriptor>,
    pub diff_ids: Vec<String>,
    pub history: Vec<serde_json::Value>,
}

impl BaseLayers {
    /// Reads a base image from its manifest and config (as JSON).
    pub fn parse(
        reference: &str,
        registry: &str,
        repository: &str,
        manifest: &[u8],
        config: &[u8],
    ) -> CoreResult<BaseLayers> {
        let bad =
            |what: &str| CoreError::Unsupported(format!("the base image {reference} has {what}"));
        let manifest: serde_json::Value =
            serde_json::from_slice(manifest).map_err(|_| bad("a manifest that is not JSON"))?;
        let config: serde_json::Value =
            serde_json::from_slice(config).map_err(|_| bad("a config that is not JSON"))?;
        let layers = manifest["layers"]
            .as_array()
            .ok_or_else(|| bad("a manifest without layers"))?
            .iter()
            .map(|l| {
                Some(Descriptor {
                    media_type: l["mediaType"].as_str()?.to_owned(),
                    digest: l["digest"].as_str()?.to_owned(),
                    size: l["size"].as_u64()?,
                })
            })
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("a layer without media type, digest or size"))?;
        let diff_ids: Vec<String> = config["rootfs"]["diff_ids"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|d| d.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if diff_ids.len() != layers.len() {
            return Err(bad("a config whose diff IDs do not match its layers"));
        }
        Ok(BaseLayers {
            reference: reference.to_owned(),
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            layers,
            diff_ids,
            history: config["history"].as_array().cloned().unwrap_or_default(),
        })
    }

    /// Whether an image of `format` can name every layer of this base.
    pub fn fits(&self, format: ImageFormat) -> bool {
        self.layers_for(format).is_some()
    }

    /// The base's layers as an image of `format` names them: the same blobs, with the media type
    /// of `format`'s family. `None` when a layer has no such type (zstd in Docker's types).
    fn layers_for(&self, format: ImageFormat) -> Option<Vec<ImageLayer>> {
        let types = format.types();
        self.layers
            .iter()
            .map(|l| {
                let media_type = match l.media_type.as_str() {
                    t if t == OCI.layer || t == DOCKER.layer => types.layer,
                    t if t == OCI.layer_gzip || t == DOCKER.layer_gzip => types.layer_gzip,
                    t if Some(t) == OCI.layer_zstd => types.layer_zstd?,
                    _ => return None,
                };
                Some(ImageLayer {
                    desc: Descriptor {
                        media_type: media_type.to_owned(),
                        digest: l.digest.clone(),
                        size: l.size,
                    },
                    blob: LayerBlob::Remote {
                        registry: self.registry.clone(),
                        repository: self.repository.clone(),
                    },
                })
            })
            .collect()
    }
}

/// The manifest for `platform` in an index or manifest list: its digest.
pub fn manifest_for_platform(index: &[u8], platform: &Platform) -> Option<String> {
    let index: serde_json::Value = serde_json::from_slice(index).ok()?;
    index["manifests"]
        .as_array()?
        .iter()
        .find(|m| {
            let p = &m["platform"];
            p["os"] == platform.os.as_str()
                && p["architecture"] == platform.architecture.as_str()
                && (platform.variant.is_none()
                    || p["variant"].as_str() == platform.variant.as_deref())
        })
        .and_then(|m| m["digest"].as_str().map(str::to_owned))
}

/// One platform's image: its layers, its config and its manifest.
#[derive(Debug, Clone)]
pub struct BuiltImage {
    pub platform: Platform,
    pub layers: Vec<ImageLayer>,
    pub config: Descriptor,
    pub config_json: Vec<u8>,
    pub manifest: Descriptor,
    pub manifest_json: Vec<u8>,
}

fn io_error(path: &Path, e: std::io::Error) -> CoreError {
    CoreError::invalid("export path", path.display().to_string(), e.to_string())
}

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn encode(what: &str, value: &serde_json::Value) -> CoreResult<Vec<u8>> {
    serde_json::to_vec(value)
        .map_err(|e| CoreError::Unsupported(format!("encoding the image {what}: {e}")))
}

/// A writer that hashes and counts what passes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<W> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    fn finish(self) -> (W, String, u64) {
        let digest = format!("sha256:{}", hex::encode(self.hasher.finalize()));
        (self.inner, digest, self.size)
    }
}

/// Writes the layer blob for filesystem tarball `tar` to `out`; returns (digest, size) of the blob
/// and the diff ID (digest of the uncompressed tar).
fn write_layer(
    tar: &Path,
    out: &Path,
    compression: LayerCompression,
) -> CoreResult<(String, u64, String)> {
    let mut input = File::open(tar).map_err(|e| io_error(tar, e))?;
    let file = File::create(out).map_err(|e| io_error(out, e))?;
    let blob = Hashing::new(std::io::BufWriter::new(file));
    if compression == LayerCompression::Zstd {
        let mut source = HashingReader {
            inner: std::io::BufReader::new(input),
            hasher: Sha256::new(),
        };
        let mut blob = blob;
        ruzstd::encoding::compress(
            &mut source,
            &mut blob,
            ruzstd::encoding::CompressionLevel::Fastest,
        );
        let diff_id = format!("sha256:{}", hex::encode(source.hasher.finalize()));
        let (mut file, digest, size) = blob.finish();
        file.flush().map_err(|e| io_error(out, e))?;
        return Ok((digest, size, diff_id));
    }
    let mut diff = if compression == LayerCompression::Gzip {
        Hashing::new(Box::new(flate2::write::GzEncoder::new(
            blob,
            flate2::Compression::fast(),
        )) as Box<dyn WriteFinish>)
    } else {
        Hashing::new(Box::new(Plain(blob)) as Box<dyn WriteFinish>)
    };
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = input.read(&mut buf).map_err(|e| io_error(tar, e))?;
        if n == 0 {
            break;
        }
        diff.write_all(&buf[..n]).map_err(|e| io_error(out, e))?;
    }
    let (writer, diff_id, _) = diff.finish();
    let blob = writer.finish().map_err(|e| io_error(out, e))?;
    let (mut file, digest, size) = blob.finish();
    file.flush().map_err(|e| io_error(out, e))?;
    Ok((digest, size, diff_id))
}

/// A reader that hashes what passes through it.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

type BlobWriter = Hashing<std::io::BufWriter<File>>;

/// A layer writer that hands back the blob writer underneath when done.
trait WriteFinish: Write {
    fn finish(self: Box<Self>) -> std::io::Result<BlobWriter>;
}

struct Plain(BlobWriter);

impl Write for Plain {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl WriteFinish for Plain {
    fn finish(self: Box<Self>) -> std::io::Result<BlobWriter> {
        Ok(self.0)
    }
}

impl WriteFinish for flate2::write::GzEncoder<BlobWriter> {
    fn finish(self: Box<Self>) -> std::io::Result<BlobWriter> {
        (*self).finish()
    }
}

fn platform_json(platform: &Platform) -> serde_json::Value {
    let mut p = serde_json::json!({ "architecture": platform.architecture, "os": platform.os });
    if let Some(v) = &platform.variant {
        p["variant"] = serde_json::json!(v);
    }
    p
}

/// The image config of a container with `config` on `platform`, for an exporter that adds
/// `rootfs` and the history of the layers after its base image's (`base_history`), and the daemon
/// exporter options that write `format`.
pub fn exporter_image(
    config: &ImageConfig,
    platform: &Platform,
    base_history: Option<serde_json::Value>,
    format: ImageFormat,
) -> CoreResult<(Vec<u8>, std::collections::BTreeMap<String, String>)> {
    let mut value = platform_json(platform);
    value["config"] = serde_json::to_value(config)
        .map_err(|e| CoreError::Unsupported(format!("encoding the image config: {e}")))?;
    if let Some(history) = base_history {
        value["history"] = history;
    }
    let compression = match format.compression {
        LayerCompression::Uncompressed => "uncompressed",
        LayerCompression::Gzip => "gzip",
        LayerCompression::Zstd => "zstd",
    };
    // New layers get the compression; the base image's stay as they are on its registry (no
    // `force-compression`), as when the session writes the image itself.
    let options = [
        ("oci-mediatypes", (!format.docker_media_types).to_string()),
        ("compression", compression.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    Ok((encode("config", &value)?, options))
}

/// Builds the image whose layers are those of `base` (when given and expressible in `format`)
/// and then filesystem tarballs `tars`, in order, which hold everything else (with no base, one
/// tarball of the whole filesystem). Each new layer's blob is written beside its tarball.
pub fn build_image(
    tars: &[PathBuf],
    base: Option<&BaseLayers>,
    config: &ImageConfig,
    platform: &Platform,
    format: ImageFormat,
) -> CoreResult<BuiltImage> {
    let types = format.types();
    let kept = match base {
        Some(b) => Some((
            b,
            b.layers_for(format).ok_or_else(|| {
                CoreError::Unsupported(format!(
                    "the layers of {} have no media type in this image format",
                    b.reference
                ))
            })?,
        )),
        None => None,
    };
    let mut layers = kept.as_ref().map(|(_, l)| l.clone()).unwrap_or_default();
    let (mut diff_ids, mut history) = match &kept {
        Some((b, _)) => (b.diff_ids.clone(), b.history.clone()),
        None => (Vec::new(), Vec::new()),
    };
    for (i, tar) in tars.iter().enumerate() {
        let layer_path = tar.with_extension("layer");
        let (digest, size, diff_id) = write_layer(tar, &layer_path, format.compression)?;
        layers.push(ImageLayer {
            desc: Descriptor {
                media_type: format.layer_type().to_owned(),
                digest,
                size,
            },
            blob: LayerBlob::File(layer_path),
        });
        diff_ids.push(diff_id);
        history.push(match &kept {
            Some((b, _)) => serde_json::json!({
                "created_by": format!("dirk: changes since {} ({} of {})", b.reference, i + 1, tars.len())
            }),
            None => serde_json::json!({ "created_by": "dirk: container exported as one layer" }),
        });
    }
    let mut config_value = platform_json(platform);
    config_value["config"] = serde_json::to_value(config)
        .map_err(|e| CoreError::Unsupported(format!("encoding the image config: {e}")))?;
    config_value["rootfs"] = serde_json::json!({ "type": "layers", "diff_ids": diff_ids });
    config_value["history"] = serde_json::Value::Array(history);
    let config_json = encode("config", &config_value)?;
    let config_desc = Descriptor::of(types.config, &config_json);
    let layer_json: Vec<serde_json::Value> = layers.iter().map(|l| l.desc.json()).collect();
    let manifest_json = encode(
        "manifest",
        &serde_json::json!({
            "schemaVersion": 2,
            "mediaType": types.manifest,
            "config": config_desc.json(),
            "layers": layer_json,
        }),
    )?;
    Ok(BuiltImage {
        platform: platform.clone(),
        layers,
        config: config_desc,
        config_json,
        manifest: Descriptor::of(types.manifest, &manifest_json),
        manifest_json,
    })
}

/// The index (OCI) or manifest list (Docker) that lists `images` by platform.
pub fn image_index(
    images: &[BuiltImage],
    format: ImageFormat,
) -> CoreResult<(Descriptor, Vec<u8>)> {
    let types = format.types();
    let manifests: Vec<serde_json::Value> = images
        .iter()
        .map(|i| {
            let mut m = i.manifest.json();
            m["platform"] = platform_json(&i.platform);
            m
        })
        .collect();
    let json = encode(
        "index",
        &serde_json::json!({ "schemaVersion": 2, "mediaType": types.index, "manifests": manifests }),
    )?;
    Ok((Descriptor::of(types.index, &json), json))
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

/// Writes an image archive holding `images` to `dest`: an OCI layout whose `index.json` lists each
/// platform's manifest, and a Docker `manifest.json` with one entry per image. Every layer must be
/// in a file by then (see [`LayerBlob`]).
pub fn write_image_archive(
    images: &[BuiltImage],
    format: ImageFormat,
    dest: &Path,
) -> CoreResult<()> {
    let (_, index) = image_index(images, format)?;
    let docker_manifest = encode(
        "manifest.json",
        &serde_json::Value::Array(
            images
                .iter()
                .map(|i| {
                    serde_json::json!({
                        "Config": blob_path(&i.config.digest),
                        "RepoTags": [],
                        "Layers": i.layers.iter().map(|l| blob_path(&l.desc.digest)).collect::<Vec<_>>(),
                    })
                })
                .collect(),
        ),
    )?;
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
    let mut written = std::collections::HashSet::new();
    for image in images {
        for (digest, bytes) in [
            (&image.config.digest, &image.config_json),
            (&image.manifest.digest, &image.manifest_json),
        ] {
            if written.insert(digest.clone()) {
                append_bytes(&mut out, &blob_path(digest), bytes, dest)?;
            }
        }
        for layer in &image.layers {
            if !written.insert(layer.desc.digest.clone()) {
                continue;
            }
            let LayerBlob::File(path) = &layer.blob else {
                return Err(CoreError::Unsupported(format!(
                    "layer {} of the image was not fetched from its registry",
                    layer.desc.digest
                )));
            };
            let mut header = tar::Header::new_ustar();
            header.set_size(layer.desc.size);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_cksum();
            let file = File::open(path).map_err(|e| io_error(path, e))?;
            out.append_data(&mut header, blob_path(&layer.desc.digest), file)
                .map_err(|e| io_error(dest, e))?;
        }
    }
    let mut writer = out.into_inner().map_err(|e| io_error(dest, e))?;
    writer.flush().map_err(|e| io_error(dest, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer_tar(dir: &Path) -> PathBuf {
        let path = dir.join("fs.tar");
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(5);
        header.set_mode(0o644);
        header.set_cksum();
        let _ = builder.append_data(&mut header, "hello.txt", &b"hello"[..]);
        let bytes = builder.into_inner().unwrap_or_default();
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{e}"));
        path
    }

    #[test]
    fn gzip_layers_keep_the_uncompressed_digest_as_diff_id() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let tar = layer_tar(dir.path());
        let plain_bytes = std::fs::read(&tar).unwrap_or_default();
        let format = ImageFormat {
            docker_media_types: false,
            compression: LayerCompression::Gzip,
        };
        let image = build_image(
            std::slice::from_ref(&tar),
            None,
            &ImageConfig::default(),
            &Platform::linux("amd64"),
            format,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(image.layers.len(), 1);
        let layer = &image.layers[0];
        assert_eq!(layer.desc.media_type, OCI.layer_gzip);
        let LayerBlob::File(path) = &layer.blob else {
            panic!("a new layer is a file")
        };
        let blob = std::fs::read(path).unwrap_or_default();
        assert_eq!(layer.desc.digest, sha256(&blob));
        let mut unzipped = Vec::new();
        let _ = flate2::read::GzDecoder::new(&blob[..]).read_to_end(&mut unzipped);
        assert_eq!(unzipped, plain_bytes);
        let config: serde_json::Value =
            serde_json::from_slice(&image.config_json).unwrap_or_default();
        assert_eq!(config["rootfs"]["diff_ids"][0], sha256(&plain_bytes));
        assert_eq!(image.config.digest, sha256(&image.config_json));
    }

    #[test]
    fn zstd_layers_decompress_to_the_tar_and_refuse_docker_media_types() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let tar = layer_tar(dir.path());
        let plain_bytes = std::fs::read(&tar).unwrap_or_default();
        let format =
            ImageFormat::new(false, LayerCompression::Zstd).unwrap_or_else(|e| panic!("{e}"));
        let image = build_image(
            std::slice::from_ref(&tar),
            None,
            &ImageConfig::default(),
            &Platform::linux("amd64"),
            format,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let layer = &image.layers[0];
        assert_eq!(
            layer.desc.media_type,
            "application/vnd.oci.image.layer.v1.tar+zstd"
        );
        let LayerBlob::File(path) = &layer.blob else {
            panic!("a new layer is a file")
        };
        let blob = std::fs::read(path).unwrap_or_default();
        assert_eq!(layer.desc.digest, sha256(&blob));
        let mut unzipped = Vec::new();
        let mut decoder =
            ruzstd::decoding::StreamingDecoder::new(&blob[..]).unwrap_or_else(|e| panic!("{e}"));
        let _ = decoder.read_to_end(&mut unzipped);
        assert_eq!(unzipped, plain_bytes);
        let config: serde_json::Value =
            serde_json::from_slice(&image.config_json).unwrap_or_default();
        assert_eq!(config["rootfs"]["diff_ids"][0], sha256(&plain_bytes));
        assert!(ImageFormat::new(true, LayerCompression::Zstd).is_err());
    }

    #[test]
    fn the_archive_is_an_oci_layout_and_a_docker_archive() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let tar = layer_tar(dir.path());
        let format = ImageFormat {
            docker_media_types: true,
            compression: LayerCompression::Uncompressed,
        };
        let images: Vec<BuiltImage> = ["amd64", "386"]
            .iter()
            .map(|arch| {
                build_image(
                    std::slice::from_ref(&tar),
                    None,
                    &ImageConfig::default(),
                    &Platform::linux(arch),
                    format,
                )
                .unwrap_or_else(|e| panic!("{e}"))
            })
            .collect();
        let dest = dir.path().join("image.tar");
        let result = write_image_archive(&images, format, &dest);
        assert!(result.is_ok(), "{result:?}");
        let mut archive = tar::Archive::new(File::open(&dest).unwrap_or_else(|e| panic!("{e}")));
        let mut names: Vec<String> = archive
            .entries()
            .unwrap_or_else(|e| panic!("{e}"))
            .filter_map(|e| e.ok())
            .filter_map(|e| e.path().ok().map(|p| p.to_string_lossy().into_owned()))
            .collect();
        names.sort();
        // One shared layer, two configs, two manifests, plus the three layout files.
        assert_eq!(names.len(), 8, "{names:?}");
        assert!(
            names.contains(&blob_path(&images[0].layers[0].desc.digest)),
            "{names:?}"
        );
        let (_, index) = image_index(&images, format).unwrap_or_else(|e| panic!("{e}"));
        let index: serde_json::Value = serde_json::from_slice(&index).unwrap_or_default();
        assert_eq!(index["mediaType"], DOCKER.index);
        assert_eq!(index["manifests"][1]["platform"]["architecture"], "386");
    }

    fn base(media_type: &str) -> BaseLayers {
        let manifest = serde_json::json!({
            "layers": [{ "mediaType": media_type, "digest": "sha256:aaaa", "size": 7 }]
        });
        let config = serde_json::json!({
            "rootfs": { "type": "layers", "diff_ids": ["sha256:dddd"] },
            "history": [{ "created_by": "base" }]
        });
        BaseLayers::parse(
            "127.0.0.1:5000/base@sha256:x",
            "127.0.0.1:5000",
            "base",
            &serde_json::to_vec(&manifest).unwrap_or_default(),
            &serde_json::to_vec(&config).unwrap_or_default(),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_layered_image_keeps_the_base_layers_and_adds_its_own() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let tar = layer_tar(dir.path());
        let format =
            ImageFormat::new(false, LayerCompression::Gzip).unwrap_or_else(|e| panic!("{e}"));
        let base = base(DOCKER.layer_gzip);
        let image = build_image(
            &[tar.clone(), tar],
            Some(&base),
            &ImageConfig::default(),
            &Platform::linux("amd64"),
            format,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(image.layers.len(), 3);
        assert_eq!(image.layers[0].desc.digest, "sha256:aaaa");
        assert_eq!(
            image.layers[0].desc.media_type, OCI.layer_gzip,
            "renamed into the OCI family"
        );
        assert_eq!(
            image.layers[0].blob,
            LayerBlob::Remote {
                registry: "127.0.0.1:5000".into(),
                repository: "base".into()
            }
        );
        let config: serde_json::Value =
            serde_json::from_slice(&image.config_json).unwrap_or_default();
        let diff_ids = config["rootfs"]["diff_ids"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(diff_ids.len(), 3);
        assert_eq!(diff_ids[0], "sha256:dddd");
        assert_eq!(config["history"][0]["created_by"], "base");
        assert_eq!(config["history"].as_array().map(Vec::len), Some(3));
        // A zstd base layer has no Docker media type: such a base cannot be kept.
        let docker =
            ImageFormat::new(true, LayerCompression::Gzip).unwrap_or_else(|e| panic!("{e}"));
        assert!(!base_fits_zstd_in(docker));
    }

    fn base_fits_zstd_in(format: ImageFormat) -> bool {
        base("application/vnd.oci.image.layer.v1.tar+zstd").fits(format)
    }

    #[test]
    fn the_manifest_for_a_platform_is_picked_from_an_index() {
        let index = serde_json::json!({ "manifests": [
            { "digest": "sha256:arm", "platform": { "os": "linux", "architecture": "arm64" } },
            { "digest": "sha256:amd", "platform": { "os": "linux", "architecture": "amd64" } }
        ]});
        let bytes = serde_json::to_vec(&index).unwrap_or_default();
        assert_eq!(
            manifest_for_platform(&bytes, &Platform::linux("amd64")).as_deref(),
            Some("sha256:amd")
        );
        assert_eq!(
            manifest_for_platform(&bytes, &Platform::linux("s390x")),
            None
        );
    }
}
