// Reload under load: 4 keep-alive clients hammer a 2-worker gateway while the folder changes 36
// times (routes added and removed, weights flipped). No request may fail, every change must land.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startEchoServer } from "../../../src/demo/echo-server.js";
import { GatewayProcess, freePort } from "../../helpers/gateway.js";
import { BACKEND, CLASS_AND_GATEWAY, ROUTE, get } from "./fixtures.js";

const CHANGES = 36;
const CLIENTS = 4;
const BUDGET_MS = 20_000;

test("reload under load: zero failed requests, every change observed", async () => {
  const a = await startEchoServer({ pod: "echo-a" });
  const b = await startEchoServer({ pod: "echo-b" });
  const port = await freePort();
  const backends = { "echo-a": a.port, "echo-b": b.port };
  const dynamic = (i: number): string => {
    const target = i % 2 === 0 ? "echo-a" : "echo-b";
    const other = target === "echo-a" ? "echo-b" : "echo-a";
    return [
      ROUTE({ name: `dyn-${i}`, path: `/v${i}`, backends: [{ name: target, port: backends[target] }] }),
      ROUTE({ name: "split", path: "/split", backends: [{ name: target, port: backends[target], weight: 100 }, { name: other, port: backends[other], weight: 0 }] }),
    ].join("---\n");
  };
  const gw = await GatewayProcess.start({
    workers: 2,
    files: {
      "gw.yaml": CLASS_AND_GATEWAY(port),
      "backends.yaml": [BACKEND("echo-a", a.port), BACKEND("echo-b", b.port)].join("---\n"),
      "base.yaml": ROUTE({ name: "base", path: "/base", backends: [{ name: "echo-a", port: a.port }] }),
      "dyn.yaml": dynamic(0),
    },
  });

  let stop = false;
  const failures: string[] = [];
  let ok = 0;
  const client = async (n: number): Promise<void> => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let i = 0; !stop && i < 1_000_000; i++) {
        const path = i % 2 === 0 ? `/base/c${n}/${i}` : `/split/c${n}/${i}`;
        try {
          const r = await get(port, path, { agent });
          const okPod = path.startsWith("/base") ? r.pod === "echo-a" : r.pod === "echo-a" || r.pod === "echo-b";
          if (r.status !== 200 || !okPod) failures.push(`${path}: ${r.status} ${r.body.slice(0, 200)}`);
          else ok++;
        } catch (err) {
          failures.push(`${path}: ${String(err)}`);
        }
      }
    } finally {
      agent.destroy();
    }
  };

  const started = Date.now();
  try {
    const v0 = (await gw.waitReady()).version;
    const clients = Array.from({ length: CLIENTS }, (_, n) => client(n));
    let observed = 0;
    try {
      for (let i = 1; i <= CHANGES; i++) {
        const left = BUDGET_MS - (Date.now() - started);
        assert.ok(left > 0, `only ${observed} of ${CHANGES} changes within ${BUDGET_MS} ms`);
        gw.write("dyn.yaml", dynamic(i));
        const ready = await gw.waitReady(v0 + i, left);
        assert.equal(ready.version, v0 + i, "one new version per change");
        const want = i % 2 === 0 ? "echo-a" : "echo-b";
        const added = await get(port, `/v${i}`);
        assert.equal(added.status, 200, `route /v${i} not served after version ${ready.version}`);
        assert.equal(added.pod, want);
        assert.equal((await get(port, `/v${i - 1}`)).status, 404, `route /v${i - 1} still served`);
        assert.equal((await get(port, "/split")).pod, want, "weights not applied");
        observed++;
      }
    } finally {
      stop = true;
      await Promise.all(clients);
    }
    assert.equal(observed, CHANGES);
    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} failed requests of ${ok + failures.length}`);
    assert.ok(ok > 100, `only ${ok} requests completed`);
  } finally {
    await gw.stop();
    await a.close();
    await b.close();
  }
});
