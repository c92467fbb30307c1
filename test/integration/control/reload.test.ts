// Bad input at start and while running, fixing it, and a clean stop.
import { test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { startEchoServer } from "../../../src/demo/echo-server.js";
import { GatewayProcess, freePort } from "../../helpers/gateway.js";
import { BACKEND, CLASS_AND_GATEWAY, ROUTE, alive, get, json, until, type ConfigDump } from "./fixtures.js";

// Line 13 holds an invalid path type.
const BAD_ROUTE = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: r1
  namespace: default
spec:
  parentRefs:
    - name: gw
  rules:
    - matches:
        - path:
            value: /
            type: Prefix
`;

interface Ready {
  ready: boolean;
  version: number;
  reason?: string;
  workers: { id: number; version: number; pid: number | null }[];
}

test("a folder with errors at start: admin up, 503 with the reason, serves once fixed", async () => {
  const echo = await startEchoServer({ pod: "echo-a" });
  const port = await freePort();
  const gw = await GatewayProcess.start({
    waitReady: false,
    files: { "gw.yaml": CLASS_AND_GATEWAY(port), "b.yaml": BACKEND("echo-a", echo.port), "routes.yaml": BAD_ROUTE },
  });
  try {
    const r = await until("admin /ready answering after the first load", 10_000, async () => {
      const res = await fetch(gw.admin("/ready"));
      const body = (await res.json()) as Ready;
      return body.reason === "configuration not loaded yet" ? null : { status: res.status, body };
    });
    assert.equal(r.status, 503);
    assert.equal(r.body.ready, false);
    assert.match(r.body.reason ?? "", /routes\.yaml:13:/);
    assert.match(r.body.reason ?? "", /spec\.rules\[0\]\.matches\[0\]\.path\.type/);
    assert.equal((await fetch(gw.admin("/healthz"))).status, 200);
    // Nothing is served from a folder that cannot be trusted.
    await assert.rejects(get(port, "/"));

    gw.write("routes.yaml", ROUTE({ name: "r1", path: "/", backends: [{ name: "echo-a", port: echo.port }] }));
    await gw.waitReady(1, 10_000);
    const reply = await get(port, "/fixed");
    assert.equal(reply.status, 200);
    assert.equal(reply.pod, "echo-a");
  } finally {
    await gw.stop();
    await echo.close();
  }
});

test("a bad edit while running: the last good config keeps serving, the error is reported", async () => {
  const echo = await startEchoServer({ pod: "echo-a" });
  const port = await freePort();
  const gw = await GatewayProcess.start({
    files: {
      "gw.yaml": CLASS_AND_GATEWAY(port),
      "b.yaml": BACKEND("echo-a", echo.port),
      "routes.yaml": ROUTE({ name: "r1", path: "/", backends: [{ name: "echo-a", port: echo.port }] }),
    },
  });
  try {
    const good = await json<ConfigDump>(gw.admin("/config_dump"));
    gw.write("routes.yaml", BAD_ROUTE);
    const dump = await until("the error in /config_dump", 10_000, async () => {
      const d = await json<ConfigDump>(gw.admin("/config_dump"));
      return d.body.diagnostics.errors.length > 0 ? d.body : null;
    });
    assert.equal(dump.version, good.body.version);
    assert.equal(dump.hash, good.body.hash);
    const e = dump.diagnostics.errors.find((x) => x.source?.file.endsWith("routes.yaml"));
    assert.ok(e, JSON.stringify(dump.diagnostics));
    assert.equal(e.source?.line, 13);
    assert.match(e.text, /routes\.yaml:13:\d+ HTTPRoute default\/r1: spec\.rules\[0\]\.matches\[0\]\.path\.type: /);
    // Still serving, still ready.
    for (let i = 0; i < 5; i++) assert.equal((await get(port, `/still-${i}`)).pod, "echo-a");
    assert.equal((await fetch(gw.admin("/ready"))).status, 200);
    assert.match(gw.stderr, /routes\.yaml:13/);
  } finally {
    await gw.stop();
    await echo.close();
  }
});

test("SIGTERM stops the gateway with exit 0 and leaves no worker behind", async () => {
  const port = await freePort();
  const gw = await GatewayProcess.start({ workers: 2, files: { "gw.yaml": CLASS_AND_GATEWAY(port) } });
  const ready = (await json<Ready>(gw.admin("/ready"))).body;
  const pids = ready.workers.map((w) => w.pid).filter((p): p is number => typeof p === "number");
  assert.equal(pids.length, 2);
  for (const pid of pids) assert.ok(alive(pid));
  const code = await gw.stop();
  assert.equal(code, 0, gw.stderr);
  for (const pid of pids) assert.equal(alive(pid), false, `worker ${pid} left running`);
  await assert.rejects(fetch(gw.admin("/healthz")));
});

test("a worker that dies is re-forked and serves the current snapshot again", async () => {
  const echo = await startEchoServer({ pod: "echo-a" });
  const port = await freePort();
  const gw = await GatewayProcess.start({
    workers: 2,
    files: {
      "gw.yaml": CLASS_AND_GATEWAY(port),
      "b.yaml": BACKEND("echo-a", echo.port),
      "routes.yaml": ROUTE({ name: "r1", path: "/", backends: [{ name: "echo-a", port: echo.port }] }),
    },
  });
  try {
    const before = (await json<Ready>(gw.admin("/ready"))).body;
    const victim = before.workers[0]!.pid!;
    process.kill(victim, "SIGKILL");
    const after = await until("a new worker at the current version", 15_000, async () => {
      const r = (await json<Ready>(gw.admin("/ready"))).body;
      const w = r.workers.find((x) => x.id === before.workers[0]!.id);
      return r.ready && w && w.pid !== victim && w.version === before.version ? r : null;
    });
    assert.equal(after.version, before.version);
    assert.equal(after.workers.length, 2);
    for (let i = 0; i < 6; i++) assert.equal((await get(port, `/after-${i}`, { agent: new http.Agent() })).pod, "echo-a");
  } finally {
    await gw.stop();
    await echo.close();
  }
});
