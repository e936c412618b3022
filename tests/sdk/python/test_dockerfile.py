"""Dockerfile builds through the Python SDK: Container.build and Directory.dockerBuild with build
arguments, targets, secrets and a Dockerfile at another path, on the daemon's Dockerfile frontend."""
import hashlib
import uuid

import dagger
import pytest

from conftest import BUSYBOX

pytestmark = pytest.mark.anyio

DOCKERFILE = f"""
FROM {BUSYBOX} AS base
ARG GREETING=default
RUN echo "$GREETING from base" > /greeting

FROM base AS tools
RUN echo tools > /stage

FROM base AS final
COPY app/ /app/
ENV MODE=release
WORKDIR /app
LABEL org.example.built=yes
ENTRYPOINT ["/bin/cat"]
CMD ["/greeting"]
"""


@pytest.fixture
def context(tmp_path):
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "main.txt").write_text("app file\n")
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "Other.dockerfile").write_text(
        f"FROM {BUSYBOX}\n"
        # Secret values are not part of cache keys (as with docker build --secret): a fresh step.
        f"RUN --mount=type=secret,id=token echo {uuid.uuid4()} >/dev/null && "
        "sha256sum /run/secrets/token | cut -c1-64 > /result\n"
    )
    return tmp_path


async def test_container_build_with_args_config_and_later_steps(context):
    async with dagger.Connection(dagger.Config(workdir=str(context))) as client:
        src = client.host().directory(".")
        built = client.container().build(src, build_args=[dagger.BuildArg("GREETING", "hello")])
        assert await built.env_variable("MODE") == "release"
        assert await built.workdir() == "/app"
        assert await built.entrypoint() == ["/bin/cat"]
        assert await built.label("org.example.built") == "yes"
        assert await built.file("/app/main.txt").contents() == "app file\n"
        # The image's entrypoint and default arguments apply to execs on the built container.
        assert await built.with_exec([]).stdout() == "hello from base\n"
        # Later steps build on the result like on any other container.
        out = await built.with_exec(["sh", "-c", "ls /app; cat /greeting"], skip_entrypoint=True).stdout()
        assert out == "main.txt\nhello from base\n"


async def test_target_stage_and_dockerfile_path_and_secret(context):
    token = f"tok-{uuid.uuid4()}"
    async with dagger.Connection(dagger.Config(workdir=str(context))) as client:
        src = client.host().directory(".")
        tools = src.docker_build(target="tools")
        assert await tools.file("/stage").contents() == "tools\n"
        assert await tools.file("/greeting").contents() == "default from base\n"

        secret = client.set_secret("token", token)
        built = src.docker_build(dockerfile="build/Other.dockerfile", secrets=[secret])
        digest = hashlib.sha256(token.encode()).hexdigest()
        assert await built.file("/result").contents() == digest + "\n"


async def test_a_missing_dockerfile_is_a_clear_error(context):
    async with dagger.Connection(dagger.Config(workdir=str(context))) as client:
        with pytest.raises(dagger.QueryError) as err:
            await client.host().directory("app").docker_build().file("/x").contents()
    assert "Dockerfile" in str(err.value)
