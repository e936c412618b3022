"""Services through the Python SDK: containers bound into others by alias, on the daemon's own
container network (each exec has its own address on the daemon's bridge)."""
import os
import subprocess
import sys
import time
import uuid

import anyio
import dagger
import pytest

from conftest import BUSYBOX, ROOT, bare_repo

pytestmark = pytest.mark.anyio


def running(marker):
    """Host processes whose command line holds `marker` (services run as the daemon's children)."""
    out = subprocess.run(["pgrep", "-f", marker], capture_output=True, text=True)
    return [p for p in out.stdout.split() if p and int(p) != os.getpid()]


async def gone(marker, within=15.0):
    deadline = time.monotonic() + within
    while running(marker) and time.monotonic() < deadline:
        await anyio.sleep(0.2)
    return running(marker) == []


def web(client, marker, body, port=8080):
    """A busybox httpd serving `body` as /index.html; `marker` names its directory (and process)."""
    site = client.directory().with_new_file("index.html", body)
    return (
        client.container()
        .from_(BUSYBOX)
        .with_directory(f"/srv/{marker}", site)
        .with_exec(["httpd", "-f", "-p", str(port), "-h", f"/srv/{marker}"])
        .with_exposed_port(port, description="web")
    )


def fetch(client, bindings, url):
    ctr = client.container().from_(BUSYBOX)
    for alias, svc in bindings:
        ctr = ctr.with_service_binding(alias, svc)
    return ctr.with_exec(["wget", "-qO-", url])


async def test_http_service_by_alias_and_hostname_with_ports_and_endpoint():
    marker = f"svc-{uuid.uuid4().hex}"
    async with dagger.Connection() as client:
        svc = web(client, marker, f"hello {marker}")
        hostname = await svc.hostname()
        endpoint = await svc.endpoint(scheme="http")
        ports = [(await p.port(), await p.protocol(), await p.description()) for p in await svc.exposed_ports()]
        by_alias = await fetch(client, [("www", svc)], "http://www:8080/").stdout()
        by_hostname = await fetch(client, [("www", svc)], f"http://{hostname}:8080/").stdout()
        again = await (client.container().from_(BUSYBOX).with_exec(["true"]).hostname())
        assert running(marker), "the service runs while its client is being evaluated, and a little after"
    assert by_alias == f"hello {marker}"
    assert by_hostname == f"hello {marker}"
    assert endpoint == f"http://{hostname}:8080"
    assert ports == [(8080, dagger.NetworkProtocol.TCP, "web")]
    assert len(hostname) == 13 and hostname.isalnum()
    assert again != hostname
    assert await gone(marker), "no service is left running after the session"


async def test_hostnames_are_the_same_in_every_session():
    async def hostname():
        async with dagger.Connection() as client:
            return await web(client, "stable", "same").hostname()

    assert await hostname() == await hostname()


async def test_endpoint_without_ports_names_the_container():
    async with dagger.Connection() as client:
        ctr = client.container().from_(BUSYBOX).with_exec(["httpd", "-f"])
        with pytest.raises(dagger.QueryError) as err:
            await ctr.endpoint()
    assert "no ports exposed" in str(err.value)
    assert BUSYBOX.split(":")[0] in str(err.value)


async def test_a_chain_of_services():
    marker = f"chain-{uuid.uuid4().hex}"
    async with dagger.Connection() as client:
        backend = web(client, marker, f"from the back {marker}")
        # The front copies what the back serves, then serves it itself.
        front = (
            client.container()
            .from_(BUSYBOX)
            .with_service_binding("back", backend)
            .with_exec(["sh", "-c", "mkdir -p /f && wget -qO /f/index.html http://back:8080/ && exec httpd -f -p 9090 -h /f"])
            .with_exposed_port(9090)
        )
        out = await fetch(client, [("front", front)], "http://front:9090/").stdout()
    assert out == f"from the back {marker}"
    assert await gone(marker)


async def test_a_tcp_service_and_two_services_on_one_port():
    async with dagger.Connection() as client:
        pong = (
            client.container()
            .from_(BUSYBOX)
            .with_new_file("/pong.sh", "#!/bin/sh\necho pong\n", permissions=0o755)
            .with_exec(["nc", "-ll", "-p", "7000", "-e", "/pong.sh"])
            .with_exposed_port(7000)
        )
        tcp = await (
            client.container()
            .from_(BUSYBOX)
            .with_service_binding("pong", pong)
            .with_exec(["sh", "-c", "nc pong 7000 </dev/null"])
            .stdout()
        )
        a, b = web(client, "same-port-a", "a"), web(client, "same-port-b", "b")
        both = await (
            client.container()
            .from_(BUSYBOX)
            .with_service_binding("a", a)
            .with_service_binding("b", b)
            .with_exec(["sh", "-c", "wget -qO- http://a:8080/; echo; wget -qO- http://b:8080/"])
            .stdout()
        )
    assert tcp == "pong\n"
    assert both == "a\nb"


async def test_a_service_that_exits_early_fails_its_users_clearly():
    async with dagger.Connection() as client:
        broken = (
            client.container()
            .from_(BUSYBOX)
            .with_exec(["sh", "-c", "echo starting up; echo cannot bind the port >&2; exit 3"])
            .with_exposed_port(8080)
        )
        with pytest.raises(dagger.QueryError) as err:
            await fetch(client, [("broken", broken)], "http://broken:8080/").stdout()
    text = str(err.value)
    assert "broken" in text, text
    assert "exited with code 3" in text, text
    assert "cannot bind the port" in text, text


async def test_a_service_that_never_listens_times_out_clearly(monkeypatch):
    monkeypatch.setenv("DIRK_SERVICE_TIMEOUT", "3")
    async with dagger.Connection() as client:
        silent = client.container().from_(BUSYBOX).with_exec(["sleep", "300"]).with_exposed_port(8080)
        with pytest.raises(dagger.QueryError) as err:
            await fetch(client, [("silent", silent)], "http://silent:8080/").stdout()
    text = str(err.value)
    assert "silent" in text and "not ready within 3 s" in text and "8080" in text, text


async def test_http_and_git_from_a_service(tmp_path):
    marker = f"src-{uuid.uuid4().hex}"
    site = tmp_path / "site"
    site.mkdir()
    bare_repo(site, marker)
    (site / "notes.txt").write_text(f"notes {marker}")
    async with dagger.Connection() as client:
        svc = (
            client.container()
            .from_(BUSYBOX)
            .with_directory("/srv", client.host().directory(str(site)))
            .with_exec(["httpd", "-f", "-p", "8080", "-h", "/srv"])
            .with_exposed_port(8080)
        )
        endpoint = await svc.endpoint(scheme="http")
        notes = await client.http(f"{endpoint}/notes.txt", experimental_service_host=svc).contents()
        version = await (
            client.git(f"{endpoint}/repo.git", experimental_service_host=svc)
            .branch("main").tree().file("VERSION").contents()
        )
    assert notes == f"notes {marker}"
    assert version == marker


async def test_one_instance_serves_concurrent_clients_and_stops_after_the_last():
    marker = f"shared-{uuid.uuid4().hex}"
    async with dagger.Connection() as client:
        svc = (
            client.container()
            .from_(BUSYBOX)
            .with_exec(["sh", "-c", f"mkdir -p /srv/{marker} && date +%s%N > /srv/{marker}/id && exec httpd -f -p 8080 -h /srv/{marker}"])
            .with_exposed_port(8080)
        )
        outs = {}

        async def client_run(name):
            outs[name] = await fetch(client, [("svc", svc)], f"http://svc:8080/id?{name}").stdout()

        async with anyio.create_task_group() as tg:
            tg.start_soon(client_run, "one")
            tg.start_soon(client_run, "two")
        assert outs["one"] == outs["two"], outs
        assert len(running(marker)) >= 1
        # A few seconds after its last user, the service stops, while the session goes on.
        assert await gone(marker, within=20.0), "the service stops after its last user"
        third = await fetch(client, [("svc", svc)], "http://svc:8080/id?three").stdout()
    assert third != outs["one"], "a service is never cached: a later user gets a new instance"


async def test_a_bound_client_is_cached_in_a_second_session():
    marker = f"cached-{uuid.uuid4().hex}"

    async def run():
        async with dagger.Connection() as client:
            svc = web(client, marker, "cache me")
            return await (
                client.container()
                .from_(BUSYBOX)
                .with_service_binding("www", svc)
                .with_exec(["sh", "-c", "wget -qO- http://www:8080/; echo; date +%s%N"])
                .stdout()
            )

    first, second = await run(), await run()
    assert first.startswith("cache me\n")
    assert first == second, "the second session takes the client exec from the cache"


def test_service_steps_show_in_progress(tmp_path):
    script = tmp_path / "svc.py"
    script.write_text(
        "import anyio, dagger\n"
        "async def main():\n"
        "    async with dagger.Connection() as client:\n"
        "        site = client.directory().with_new_file('index.html', 'progress')\n"
        f"        svc = client.container().from_('{BUSYBOX}').with_directory('/s', site)"
        ".with_exec(['httpd', '-f', '-p', '8080', '-h', '/s']).with_exposed_port(8080)\n"
        f"        out = await client.container().from_('{BUSYBOX}').with_service_binding('www', svc)"
        ".with_exec(['wget', '-qO-', 'http://www:8080/']).stdout()\n"
        "        print('got', out)\n"
        "        await anyio.sleep(5)\n"
        "anyio.run(main)\n"
    )
    binary = os.environ.get("DIRK_BIN") or str(ROOT / "target" / "debug" / "dirk")
    env = {k: v for k, v in os.environ.items() if k not in ("DAGGER_SESSION_PORT", "DAGGER_SESSION_TOKEN")}
    done = subprocess.run(
        [binary, "run", "--progress", "plain", sys.executable, str(script)],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "got progress" in done.stdout
    assert "start service www" in done.stderr, done.stderr
    assert "stop service www" in done.stderr, done.stderr


async def test_exposed_ports_go_into_the_exported_image_config(tmp_path):
    import json
    import tarfile

    async with dagger.Connection(dagger.Config(workdir=str(tmp_path))) as client:
        ctr = (
            client.container()
            .from_(BUSYBOX)
            .with_exposed_port(8080)
            .with_exposed_port(53, protocol=dagger.NetworkProtocol.UDP)
            .with_exposed_port(9000)
            .without_exposed_port(9000)
        )
        ports = [(await p.port(), await p.protocol()) for p in await ctr.exposed_ports()]
        assert await ctr.export("image.tar") is True
    assert ports == [(8080, dagger.NetworkProtocol.TCP), (53, dagger.NetworkProtocol.UDP)]
    configs = []
    with tarfile.open(tmp_path / "image.tar") as tar:
        for member in tar.getmembers():
            if not member.isfile() or member.size > 1 << 20:
                continue
            try:
                doc = json.load(tar.extractfile(member))
            except (ValueError, UnicodeDecodeError):
                continue
            if isinstance(doc, dict) and "rootfs" in doc and isinstance(doc.get("config"), dict):
                configs.append(doc["config"])
    assert configs, "the tarball holds an image config"
    assert all(sorted(c.get("ExposedPorts", {})) == ["53/udp", "8080/tcp"] for c in configs), configs
