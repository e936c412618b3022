"""Runs the official dagger-io 0.6.4 SDK against the dirk binary built by cargo."""
import os
import pathlib

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
