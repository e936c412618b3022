"""`dirk run -- CMD`: SDK scripts connect to the session it starts, through DAGGER_SESSION_PORT/TOKEN."""
import os
import signal
import subprocess
import sys
import textwrap
import time

from conftest import BUSYBOX


def dirk():
    return os.environ["_EXPERIMENTAL_DAGGER_CLI_BIN"]


def script(tmp_path, body):
    path = tmp_path / "pipeline.py"
    path.write_text(textwrap.dedent(body))
    return str(path)


def child_env():
    env = dict(os.environ)
    # The SDK must not start an engine of its own: it gets the session from dirk run.
    env.pop("_EXPERIMENTAL_DAGGER_CLI_BIN", None)
    return env


def test_exit_code_output_and_stdin(tmp_path):
    path = script(tmp_path, f"""
        import sys, anyio, dagger

        async def main():
            async with dagger.Connection() as client:
                out = await client.container().from_("{BUSYBOX}").with_exec(["echo", "from the pipeline"]).stdout()
            print(out.strip(), sys.stdin.read().strip().upper())
            sys.exit(5)

        anyio.run(main)
    """)
    result = subprocess.run(
        [dirk(), "run", "--", sys.executable, path],
        input="piped in", capture_output=True, text=True, env=child_env(), timeout=120,
    )
    assert result.returncode == 5, result.stderr
    assert result.stdout == "from the pipeline PIPED IN\n"


def test_two_clients_share_the_session(tmp_path):
    path = script(tmp_path, f"""
        import os, anyio, dagger

        async def main():
            async with dagger.Connection() as client:
                ctr_id = await client.container().from_("{BUSYBOX}").with_exec(["echo", "shared"]).id()
            # An ID is only valid in the session that issued it: the second client must be in the same one.
            async with dagger.Connection() as client:
                print((await client.container(id=ctr_id).stdout()).strip(), os.environ["DAGGER_SESSION_PORT"].isdigit())

        anyio.run(main)
    """)
    result = subprocess.run(
        [dirk(), "run", "--", sys.executable, path],
        capture_output=True, text=True, env=child_env(), timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "shared True\n"


def test_sigterm_reaches_the_child_and_the_session_closes(tmp_path):
    marker = tmp_path / "started"
    path = script(tmp_path, f"""
        import pathlib, time
        pathlib.Path("{marker}").write_text("yes")
        time.sleep(60)
    """)
    proc = subprocess.Popen(
        [dirk(), "run", "--", sys.executable, path],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env(),
    )
    deadline = time.time() + 30
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the child did not start"
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=30)
    assert code == 128 + signal.SIGTERM


def test_missing_command_is_127():
    result = subprocess.run([dirk(), "run", "--", "dirk-no-such-command"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 127
    assert "dirk-no-such-command" in result.stderr


def test_pipeline_names_show_in_progress(tmp_path):
    marker = f"pipeline-{time.time_ns()}"
    path = script(tmp_path, f"""
        import anyio, dagger

        async def main():
            async with dagger.Connection() as client:
                out = await (
                    client.pipeline("release")
                    .container()
                    .from_("{BUSYBOX}")
                    .pipeline("package")
                    .with_exec(["echo", "{marker}"])
                    .stdout()
                )
            print(out.strip())

        anyio.run(main)
    """)
    result = subprocess.run(
        [dirk(), "run", "--progress", "plain", "--", sys.executable, path],
        capture_output=True, text=True, env=child_env(), timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{marker}\n"
    assert f"[release / package] exec echo {marker}" in result.stderr
