"""Images out of the session through the Python SDK: publish to the 127.0.0.1:5000 registry and pull
the result back, multi-platform publish and export, layer compression and media types."""
import json
import subprocess
import tarfile
import urllib.request
import uuid

import dagger
import pytest

from conftest import BUSYBOX

pytestmark = pytest.mark.anyio
REGISTRY = "127.0.0.1:5000"


def registry_manifest(ref: str) -> tuple[str, dict]:
    """The manifest (or index) a registry serves for repo:tag, with its media type."""
    repo, tag = ref.removeprefix(REGISTRY + "/").split("@")[0].rsplit(":", 1)
    req = urllib.request.Request(
        f"http://{REGISTRY}/v2/{repo}/manifests/{tag}",
        headers={"Accept": ", ".join([
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.docker.distribution.manifest.v2+json",
        ])},
    )
    with urllib.request.urlopen(req) as resp:
        return resp.headers["Content-Type"], json.loads(resp.read())


async def test_publish_then_pull_back_content_and_config():
    marker = str(uuid.uuid4())
    address = f"{REGISTRY}/dirk-test/publish-{marker[:8]}:v1"
    async with dagger.Connection() as client:
        ref = await (
            client.container()
            .from_(BUSYBOX)
            .with_new_file("/marker", marker)
            .with_env_variable("GREETING", "hello")
            .with_label("org.example.marker", marker)
            .with_entrypoint(["/bin/echo", "entry"])
            .with_workdir("/srv")
            .publish(address)
        )
        assert ref.startswith(address + "@sha256:"), ref
        pulled = client.container().from_(ref)
        assert await pulled.file("/marker").contents() == marker
        assert await pulled.env_variable("GREETING") == "hello"
        assert await pulled.label("org.example.marker") == marker
        assert await pulled.entrypoint() == ["/bin/echo", "entry"]
        assert await pulled.workdir() == "/srv"
        assert await pulled.with_exec(["ran"]).stdout() == "entry ran\n"
        assert await pulled.image_ref() == ref
    media_type, manifest = registry_manifest(ref)
    assert media_type == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"


async def test_publish_without_a_tag_keeps_the_address_as_written():
    marker = str(uuid.uuid4())
    address = f"{REGISTRY}/dirk-test/untagged-{marker[:8]}"
    async with dagger.Connection() as client:
        ref = await client.container().from_(BUSYBOX).with_new_file("/marker", marker).publish(address)
        # v0.6.4 answers ADDR@sha256:..., adding no tag to what was asked for.
        assert ref.startswith(address + "@sha256:"), ref
        assert ":latest" not in ref
        assert await client.container().from_(ref).file("/marker").contents() == marker
        assert await client.container().from_(address).file("/marker").contents() == marker


async def test_publish_platform_variants_with_docker_media_types():
    marker = str(uuid.uuid4())
    address = f"{REGISTRY}/dirk-test/multi-{marker[:8]}:v1"
    async with dagger.Connection() as client:
        def variant(platform):
            return (
                client.container(platform=dagger.Platform(platform))
                .from_(BUSYBOX)
                .with_new_file("/platform", platform)
            )
        ref = await variant("linux/amd64").publish(
            address,
            platform_variants=[variant("linux/386")],
            forced_compression=dagger.ImageLayerCompression.Uncompressed,
            media_types=dagger.ImageMediaTypes.DockerMediaTypes,
        )
        media_type, index = registry_manifest(ref)
        assert media_type == "application/vnd.docker.distribution.manifest.list.v2+json"
        assert sorted(m["platform"]["architecture"] for m in index["manifests"]) == ["386", "amd64"]
        for platform in ["linux/amd64", "linux/386"]:
            pulled = client.container(platform=dagger.Platform(platform)).from_(ref)
            assert await pulled.file("/platform").contents() == platform


async def test_export_platform_variants_writes_one_manifest_per_platform(tmp_path):
    async with dagger.Connection(dagger.Config(workdir=str(tmp_path))) as client:
        amd64 = client.container(platform=dagger.Platform("linux/amd64")).from_(BUSYBOX)
        i386 = client.container(platform=dagger.Platform("linux/386")).from_(BUSYBOX)
        assert await amd64.export("multi.tar", platform_variants=[i386]) is True
        with pytest.raises(dagger.QueryError) as err:
            await amd64.export("twice.tar", platform_variants=[amd64])
        assert "linux/amd64" in str(err.value)
        with pytest.raises(dagger.QueryError) as err:
            await amd64.publish(f"{REGISTRY}/x:y", forced_compression=dagger.ImageLayerCompression.EStarGZ)
        assert "EStarGZ" in str(err.value) and "forcedCompression" in str(err.value)
    with tarfile.open(tmp_path / "multi.tar") as archive:
        index = json.load(archive.extractfile("index.json"))
        platforms = sorted(m["platform"]["architecture"] for m in index["manifests"])
        assert platforms == ["386", "amd64"]
        assert len(json.load(archive.extractfile("manifest.json"))) == 2
    assert not (tmp_path / "twice.tar").exists()


async def test_import_an_exported_image_and_a_docker_save_archive(tmp_path):
    marker = str(uuid.uuid4())
    saved = tmp_path / "saved.tar"
    subprocess.run(["docker", "pull", "-q", BUSYBOX], check=True, capture_output=True)
    subprocess.run(["docker", "save", "-o", str(saved), BUSYBOX], check=True)
    async with dagger.Connection(dagger.Config(workdir=str(tmp_path))) as client:
        original = (
            client.container()
            .from_(BUSYBOX)
            .with_new_file("/marker", marker)
            .with_env_variable("MARKER", marker)
            .with_entrypoint(["/bin/cat"])
        )
        assert await original.export("exported.tar") is True
        imported = client.container().import_(client.host().directory(".").file("exported.tar"))
        assert await imported.file("/marker").contents() == marker
        assert await imported.env_variable("MARKER") == marker
        assert await imported.with_exec(["/marker"]).stdout() == marker

        from_docker = client.container().import_(
            client.host().directory(".").file("saved.tar"), tag=BUSYBOX
        )
        assert await from_docker.with_exec(["echo", "imported"]).stdout() == "imported\n"

        with pytest.raises(dagger.QueryError) as err:
            await client.container().import_(
                client.host().directory(".").file("saved.tar"), tag="nope"
            ).file("/bin/sh").contents()
        assert "nope" in str(err.value)


def _tar_bytes(entries):
    """A tar of (name, contents) pairs; contents None makes a directory."""
    import io
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                t.addfile(info)
            else:
                info.size = len(data)
                info.mode = 0o644
                t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _oci_layout(path, layers, config):
    """Writes an OCI image layout tarball with plain-tar `layers` (bytes) and image `config`."""
    import hashlib
    import io
    blobs = {}

    def blob(data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        blobs[digest] = data
        return digest

    diff_ids = ["sha256:" + hashlib.sha256(l).hexdigest() for l in layers]
    config_bytes = json.dumps({"architecture": "amd64", "os": "linux", "config": config,
                               "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": blob(config_bytes), "size": len(config_bytes)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": blob(l), "size": len(l)} for l in layers],
    }).encode()
    manifest_digest = blob(manifest)
    index = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": manifest_digest, "size": len(manifest),
        "platform": {"architecture": "amd64", "os": "linux"}}]}).encode()
    files = [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", index)]
    files += [("blobs/sha256/" + d.split(":")[1], data) for d, data in blobs.items()]
    path.write_bytes(_tar_bytes(files))


async def test_import_applies_whiteouts_of_upper_layers(tmp_path):
    marker = str(uuid.uuid4())
    lower = _tar_bytes([("gone.txt", b"deleted above"), ("kept.txt", marker.encode()),
                        ("opaque", None), ("opaque/old.txt", b"hidden above"),
                        ("plain", None), ("plain/stays.txt", b"stays")])
    upper = _tar_bytes([(".wh.gone.txt", b""), ("opaque", None), ("opaque/.wh..wh..opq", b""),
                        ("opaque/new.txt", b"new"), ("added.txt", b"added")])
    _oci_layout(tmp_path / "layers.tar", [lower, upper], {"Env": ["MARKER=" + marker]})
    async with dagger.Connection(dagger.Config(workdir=str(tmp_path))) as client:
        imported = client.container().import_(client.host().directory(".").file("layers.tar"))
        root = imported.rootfs()
        assert sorted(await root.entries()) == ["added.txt", "kept.txt", "opaque", "plain"]
        assert await root.entries("opaque") == ["new.txt"]
        assert await root.entries("plain") == ["stays.txt"]
        assert await root.file("kept.txt").contents() == marker
        assert await imported.env_variable("MARKER") == marker
