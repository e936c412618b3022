"""Secrets through the Python SDK: used by commands, masked in what comes back."""
import uuid

import dagger
import pytest

from conftest import BUSYBOX

pytestmark = pytest.mark.anyio


async def test_secret_variable_and_mount_are_masked():
    plain = f"pw-{uuid.uuid4()}"
    async with dagger.Connection() as client:
        secret = client.set_secret("password", plain)
        base = client.container().from_(BUSYBOX)
        out = await (
            base.with_secret_variable("PASSWORD", secret)
            .with_exec(["sh", "-c", 'echo "pw=$PASSWORD"; echo ${#PASSWORD}'])
            .stdout()
        )
        mounted = await (
            base.with_mounted_secret("/run/secrets/pw", secret)
            .with_exec(["sh", "-c", "cat /run/secrets/pw"])
            .stdout()
        )
        with pytest.raises(dagger.ExecError) as err:
            await (
                base.with_secret_variable("PASSWORD", secret)
                .with_exec(["sh", "-c", "echo $PASSWORD >&2; exit 2"])
                .sync()
            )
        assert await secret.plaintext() == plain
    assert out == f"pw=***\n{len(plain)}\n"
    assert mounted == "***"
    assert err.value.exit_code == 2
    assert err.value.stderr == "***\n"
    assert plain not in str(err.value)
