"""Runs the official dagger-io 0.6.4 SDK against the dirk binary built by cargo."""
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
BUSYBOX = "127.0.0.1:5000/busybox:latest"


@pytest.fixture(autouse=True)
def dirk_cli(monkeypatch):
    binary = os.environ.get("DIRK_BIN") or str(ROOT / "target" / "debug" / "dirk")
    assert pathlib.Path(binary).exists(), f"{binary} is missing: run cargo build first"
    monkeypatch.setenv("_EXPERIMENTAL_DAGGER_CLI_BIN", binary)
    monkeypatch.delenv("DAGGER_SESSION_PORT", raising=False)
    monkeypatch.delenv("DAGGER_SESSION_TOKEN", raising=False)


@pytest.fixture
def anyio_backend():
    return "asyncio"


def git(cwd, *args):
    """Runs git in `cwd` with a fixed identity."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@localhost",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@localhost"}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def bare_repo(root, version):
    """Makes root/repo.git, a bare repository (servable over dumb HTTP) whose branch main holds one
    commit of a file VERSION with `version`; uses root/work for the commit."""
    work = root / "work"
    work.mkdir()
    git(root, "init", "-q", "--bare", "repo.git")
    git(work, "init", "-q", "-b", "main")
    (work / "VERSION").write_text(version)
    git(work, "add", "VERSION")
    git(work, "commit", "-q", "-m", "v1")
    git(work, "push", "-q", str(root / "repo.git"), "HEAD:main")
    git(root / "repo.git", "update-server-info")
    return root / "repo.git"
