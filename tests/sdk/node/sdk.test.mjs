// The official Node SDK drives dirk unchanged: containers, directories, caches, exec errors, sync.
// It sends enum arguments as integers (0.6.x), which dirk accepts where the schema has an enum.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { connect, CacheSharingMode } from "@dagger.io/dagger";

const here = path.dirname(fileURLToPath(import.meta.url));
const BUSYBOX = "127.0.0.1:5000/busybox:latest";
process.env._EXPERIMENTAL_DAGGER_CLI_BIN ??= path.resolve(here, "../../../target/debug/dirk");

const run = (fn) => connect(fn, { LogOutput: undefined });

test("container exec, env and stdout", async () => {
  await run(async (client) => {
    const out = await client
      .container()
      .from(BUSYBOX)
      .withEnvVariable("GREETING", "hello from node")
      .withExec(["sh", "-c", "echo $GREETING"])
      .stdout();
    assert.equal(out, "hello from node\n");
  });
});

test("directories: new files, mounts and entries", async () => {
  await run(async (client) => {
    const dir = client.directory().withNewFile("a.txt", "A").withNewDirectory("sub").withNewFile("sub/b.txt", "B");
    assert.deepEqual(await dir.entries(), ["a.txt", "sub"]);
    const out = await client
      .container()
      .from(BUSYBOX)
      .withMountedDirectory("/mnt", dir)
      .withExec(["cat", "/mnt/a.txt", "/mnt/sub/b.txt"])
      .stdout();
    assert.equal(out, "AB");
    assert.equal(await dir.file("sub/b.txt").contents(), "B");
  });
});

test("a cache volume with an enum sharing mode sent as an integer", async () => {
  const key = `node-cache-${randomUUID()}`;
  await run(async (client) => {
    const cache = client.cacheVolume(key);
    const base = client.container().from(BUSYBOX);
    const opts = { sharing: CacheSharingMode.Locked };
    await base.withMountedCache("/cache", cache, opts).withExec(["sh", "-c", "echo one >> /cache/log"]).sync();
    const out = await base
      .withMountedCache("/cache", cache, opts)
      .withExec(["sh", "-c", "echo two >> /cache/log; cat /cache/log"])
      .stdout();
    assert.equal(out, "one\ntwo\n");
  });
});

test("a failing exec raises ExecError; sync surfaces it", async () => {
  await run(async (client) => {
    const failing = client.container().from(BUSYBOX).withExec(["sh", "-c", "echo oops >&2; exit 3"]);
    await assert.rejects(failing.stdout(), (err) => {
      assert.equal(err.name, "ExecError");
      assert.equal(err.exitCode, 3);
      assert.equal(err.stderr, "oops\n");
      return true;
    });
    await assert.rejects(failing.sync(), (err) => {
      assert.equal(err.exitCode, 3);
      return true;
    });
    const ok = await client.container().from(BUSYBOX).withExec(["true"]).sync();
    assert.ok((await ok.id()).startsWith("ctr."));
  });
});

test("services: an HTTP server bound by alias, its hostname and endpoint, and http from it", async () => {
  const marker = `node-svc-${randomUUID()}`;
  await run(async (client) => {
    const site = client.directory().withNewFile("index.html", `hello ${marker}`);
    const svc = client
      .container()
      .from(BUSYBOX)
      .withDirectory(`/srv/${marker}`, site)
      .withExec(["httpd", "-f", "-p", "8080", "-h", `/srv/${marker}`])
      .withExposedPort(8080, { description: "web" });
    const hostname = await svc.hostname();
    assert.match(hostname, /^[0-9a-v]{13}$/);
    assert.equal(await svc.endpoint({ scheme: "http" }), `http://${hostname}:8080`);
    // (The 0.6.4 Node SDK asks for exposedPorts without selecting the Port's fields, which no
    // GraphQL server accepts; the Python tests read the ports.)
    const out = await client
      .container()
      .from(BUSYBOX)
      .withServiceBinding("www", svc)
      .withExec(["sh", "-c", `wget -qO- http://www:8080/ && echo && wget -qO- http://${hostname}:8080/`])
      .stdout();
    assert.equal(out, `hello ${marker}\nhello ${marker}`);
    const fetched = await client.http(`http://${hostname}:8080/index.html`, { experimentalServiceHost: svc }).contents();
    assert.equal(fetched, `hello ${marker}`);
  });
});
