"""The Python SDK drives dirk unchanged: containers, env, mounts, caches, files, exec errors."""
import uuid

import dagger
import pytest

from conftest import BUSYBOX

pytestmark = pytest.mark.anyio


async def test_exec_stdout():
    async with dagger.Connection() as client:
        out = await client.container().from_(BUSYBOX).with_exec(["echo", "hello"]).stdout()
    assert out == "hello\n"


async def test_env_variable():
    async with dagger.Connection() as client:
        out = await (
            client.container()
            .from_(BUSYBOX)
            .with_env_variable("FOO", "spam")
            .with_exec(["sh", "-c", "echo -n $FOO"])
            .stdout()
        )
        value = await client.container().from_(BUSYBOX).with_env_variable("A", "b").env_variable("A")
    assert out == "spam"
    assert value == "b"


async def test_mounted_directory():
    async with dagger.Connection() as client:
        directory = client.directory().with_new_file("hello.txt", "Hello").with_new_file("goodbye.txt", "Bye")
        out = await client.container().from_(BUSYBOX).with_mounted_directory("/mnt", directory).with_exec(["ls", "/mnt"]).stdout()
    assert out == "goodbye.txt\nhello.txt\n"


async def test_mounted_cache_accumulates():
    key = f"sdk-cache-{uuid.uuid4()}"
    async with dagger.Connection() as client:
        cache = client.cache_volume(key)
        ctr = client.container().from_(BUSYBOX).with_mounted_cache("/cache", cache, sharing=dagger.CacheSharingMode.LOCKED)
        out = ""
        for i in range(2):
            out = await ctr.with_exec(["sh", "-c", f"echo {i} >> /cache/lines; cat /cache/lines"]).stdout()
    assert out == "0\n1\n"


async def test_new_file_contents():
    async with dagger.Connection() as client:
        contents = await client.directory().with_new_file("a/b.txt", "some content").file("a/b.txt").contents()
        entries = await client.directory().with_new_file("hello.txt", "x").with_new_file("goodbye.txt", "y").entries()
        in_ctr = await client.container().from_(BUSYBOX).with_new_file("/etc/motd", "welcome").file("/etc/motd").contents()
    assert contents == "some content"
    assert entries == ["goodbye.txt", "hello.txt"]
    assert in_ctr == "welcome"


async def test_exec_error():
    async with dagger.Connection() as client:
        with pytest.raises(dagger.ExecError) as info:
            await client.container().from_(BUSYBOX).with_exec(["sh", "-c", "echo to-out; echo to-err >&2; exit 3"]).stdout()
    err = info.value
    assert err.exit_code == 3
    assert err.stderr == "to-err\n"
    assert err.stdout == "to-out\n"
    assert err.command == ["sh", "-c", "echo to-out; echo to-err >&2; exit 3"]
    # The message is the daemon's own; the output travels in the extensions only, so the SDK's
    # str() (which appends both) shows each once.
    assert err.message == 'process "sh -c echo to-out; echo to-err >&2; exit 3" did not complete successfully: exit code: 3'
    async with dagger.Connection() as client:
        with pytest.raises(dagger.ExecError) as info:
            await client.container().from_(BUSYBOX).with_exec(["sh", "-c", "echo o$((40+2)); echo e$((40+3)) >&2; exit 4"]).sync()
    assert "e43" not in info.value.message and "o42" not in info.value.message
    assert str(info.value).count("e43") == 1 and str(info.value).count("o42") == 1


async def test_sync_on_failing_exec_raises_query_error():
    async with dagger.Connection() as client:
        with pytest.raises(dagger.QueryError) as info:
            await client.container().from_(BUSYBOX).with_exec(["foobar"]).sync()
        assert "foobar" in str(info.value)
        ok = await client.container().from_(BUSYBOX).with_exec(["echo", "spam"]).sync()
        assert await ok.stdout() == "spam\n"


async def test_directory_sync_missing_path():
    async with dagger.Connection() as client:
        with pytest.raises(dagger.QueryError, match="no such file or directory"):
            await client.directory().with_new_file("x", "").directory("foobar").sync()


async def test_list_of_objects_and_ids():
    async with dagger.Connection() as client:
        env = await client.container().from_(BUSYBOX).env_variables()
        assert await env[0].name() == "PATH"
        ctr = client.container().from_(BUSYBOX).with_env_variable("K", "v")
        ctr_id = await ctr.id()
        again = client.container(id=ctr_id)
        assert await again.with_exec(["sh", "-c", "echo $K"]).stdout() == "v\n"
