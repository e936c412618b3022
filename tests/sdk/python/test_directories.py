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
