"""Directory fields through the Python SDK: diff (on every daemon, with or without a diff op) and
pipelines."""
import dagger
import pytest

from conftest import BUSYBOX

pytestmark = pytest.mark.anyio


async def test_diff_holds_what_the_other_directory_adds_or_changes():
    async with dagger.Connection() as client:
        base = (
            client.directory()
            .with_new_file("same.txt", "same")
            .with_new_file("sub/changed.txt", "old")
            .with_new_file("sub/kept.txt", "kept")
            .with_new_file("mode.sh", "echo", permissions=0o644)
        )
        changed = (
            base.with_new_file("sub/changed.txt", "new")
            .with_new_file("added/deep/new.txt", "added")
            .with_new_file("mode.sh", "echo", permissions=0o755)
        )
        diff = base.diff(changed)
        assert sorted(await diff.entries()) == ["added", "mode.sh", "sub"]
        assert await diff.entries("sub") == ["changed.txt"]
        assert await diff.file("sub/changed.txt").contents() == "new"
        assert await diff.file("added/deep/new.txt").contents() == "added"
        # Nothing changed: nothing in the diff.
        assert await base.diff(base).entries() == []

        # A container's changes: what a command wrote, as a directory, with modes kept.
        ctr = client.container().from_(BUSYBOX)
        after = ctr.with_exec(["sh", "-c", "mkdir -p /out && echo hi > /out/x && chmod 700 /out/x"])
        written = ctr.rootfs().diff(after.rootfs())
        assert await written.file("out/x").contents() == "hi\n"
        mode = await (
            client.container().from_(BUSYBOX)
            .with_mounted_directory("/w", written)
            .with_exec(["stat", "-c", "%a", "/w/out/x"]).stdout()
        )
        assert mode == "700\n"
        # Subdirectories diff as their own trees.
        assert await base.directory("sub").diff(changed.directory("sub")).entries() == ["changed.txt"]


async def test_the_quickstart_copies_a_project_without_node_modules(tmp_path, monkeypatch):
    """The v0.6.4 docs' quickstart: `with_directory("/src", host.directory("."), exclude=[...])`,
    on every daemon (those whose copies cannot filter get the shim's selection)."""
    for path, text in {
        "package.json": "{}",
        "index.js": "main",
        "node_modules/dep/index.js": "dep",
        "ci/main.py": "ci",
        "src/app.js": "app",
    }.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    monkeypatch.chdir(tmp_path)
    async with dagger.Connection() as client:
        source = (
            client.container()
            .from_(BUSYBOX)
            .with_directory("/src", client.host().directory("."), exclude=["node_modules/", "ci/"])
        )
        listing = await source.with_exec(["sh", "-c", "cd /src && find . | sort"]).stdout()
        included = await client.container().from_(BUSYBOX).with_directory(
            "/src", client.host().directory("."), include=["src/**", "*.json"]
        ).with_exec(["sh", "-c", "cd /src && find . -type f | sort"]).stdout()
    assert listing.split() == [".", "./index.js", "./package.json", "./src", "./src/app.js"]
    assert included.split() == ["./package.json", "./src/app.js"]
