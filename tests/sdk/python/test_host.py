"""Host directories and files through the Python SDK (the workdir comes from dagger.Config)."""
import uuid

import dagger
import pytest

from conftest import BUSYBOX

pytestmark = pytest.mark.anyio


def make_project(root):
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("print('app')\n")
    (root / "node_modules").mkdir()
    (root / "node_modules" / "dep.js").write_text("x")
    marker = str(uuid.uuid4())
    (root / "VERSION").write_text(marker)
    return marker


async def test_host_directory_with_exclude(tmp_path):
    marker = make_project(tmp_path)
    async with dagger.Connection(dagger.Config(workdir=str(tmp_path))) as client:
        src = client.host().directory(".", exclude=["node_modules"])
        out = await (
            client.container()
            .from_(BUSYBOX)
            .with_mounted_directory("/src", src)
            .with_workdir("/src")
            .with_exec(["sh", "-c", "ls; cat VERSION"])
            .stdout()
        )
        workdir_entries = await client.host().workdir(include=["src"]).entries()
    assert out == f"VERSION\nsrc\n{marker}"
    assert workdir_entries == ["src"]


async def test_host_file_and_missing_path(tmp_path):
    marker = make_project(tmp_path)
    async with dagger.Connection(dagger.Config(workdir=str(tmp_path))) as client:
        assert await client.host().file("VERSION").contents() == marker
        with pytest.raises(dagger.QueryError) as err:
            await client.host().directory("no-such-dir").id()
    assert "no-such-dir" in str(err.value)


async def test_export_directory_and_file(tmp_path):
    marker = make_project(tmp_path)
    async with dagger.Connection(dagger.Config(workdir=str(tmp_path))) as client:
        built = (
            client.container()
            .from_(BUSYBOX)
            .with_mounted_directory("/src", client.host().directory("src"))
            .with_exec(["sh", "-c", f"mkdir -p /out && cp /src/app.py /out/ && echo {marker} > /out/stamp"])
            .directory("/out")
        )
        assert await built.export("artifacts") is True
        assert await built.file("stamp").export("stamp.txt") is True
    assert (tmp_path / "artifacts" / "app.py").read_text() == "print('app')\n"
    assert (tmp_path / "artifacts" / "stamp").read_text() == marker + "\n"
    assert (tmp_path / "stamp.txt").read_text() == marker + "\n"
