"""An example pipeline: build a tiny project in a container, test it, and read back its artifact."""
import sys

import anyio
import dagger

IMAGE = "127.0.0.1:5000/busybox:latest"


async def main() -> None:
    async with dagger.Connection(dagger.Config(log_output=sys.stderr)) as client:
        source = (
            client.directory()
            .with_new_file("greet.sh", "#!/bin/sh\necho \"hello, $1\"\n", permissions=0o755)
            .with_new_file("test.sh", "#!/bin/sh\n[ \"$(./greet.sh dirk)\" = 'hello, dirk' ] && echo 'tests passed'\n", permissions=0o755)
        )
        cache = client.cache_volume("example-runs")
        build = (
            client.container()
            .from_(IMAGE)
            .with_mounted_directory("/src", source)
            .with_mounted_cache("/runs", cache)
            .with_workdir("/src")
            .with_exec(["sh", "-c", "./test.sh && date >> /runs/log && wc -l < /runs/log"])
        )
        out = await build.stdout()
        tests, runs = out.split("\n")[0], out.split("\n")[1].strip()
        print(tests)
        print(f"this pipeline has run {runs} time(s) on this engine")
        artifact = await build.with_exec(["sh", "-c", "./greet.sh world > /out.txt"]).file("/out.txt").contents()
        print(f"artifact: {artifact.strip()}")


anyio.run(main)
