"""Git and HTTP sources, and image export, through the Python SDK (servers on 127.0.0.1; the daemon fetches)."""
import functools
import http.server
import subprocess
import threading
import uuid

import dagger
import pytest

from conftest import BUSYBOX, bare_repo

pytestmark = pytest.mark.anyio


@pytest.fixture
def served(tmp_path):
    """Serves tmp_path over HTTP on 127.0.0.1; yields (root, base URL)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


async def test_git_branch_and_http_file(served):
    root, base = served
    marker = str(uuid.uuid4())
    bare_repo(root, marker)
    (root / "notes.txt").write_text(f"notes {marker}\n")
    async with dagger.Connection() as client:
        tree = client.git(f"{base}/repo.git").branch("main").tree()
        version = await tree.file("VERSION").contents()
        notes = await client.http(f"{base}/notes.txt").contents()
    assert version == marker
    assert notes == f"notes {marker}\n"


async def test_container_export_loads_into_docker(tmp_path):
    marker = str(uuid.uuid4())
    async with dagger.Connection(dagger.Config(workdir=str(tmp_path))) as client:
        ok = await (
            client.container()
            .from_(BUSYBOX)
            .with_new_file("/marker", marker)
            .export("image.tar")
        )
    assert ok is True
    loaded = subprocess.run(["docker", "load", "-q", "-i", str(tmp_path / "image.tar")],
                            check=True, capture_output=True, text=True).stdout.strip()
    image = loaded.rsplit(" ", 1)[-1]
    try:
        out = subprocess.run(["docker", "run", "--rm", image, "cat", "/marker"],
                             check=True, capture_output=True, text=True).stdout
    finally:
        subprocess.run(["docker", "rmi", "-f", image], capture_output=True)
    assert out == marker
