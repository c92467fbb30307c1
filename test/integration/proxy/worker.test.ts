// The worker entry over real IPC, plus metrics and the access log.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fork } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { register } from "prom-client";
import { ProxyDataPlane } from "../../../src/proxy/data-plane.js";
import { startEchoServer } from "../../../src/demo/echo-server.js";
import type { FromWorker, ToWorker } from "../../../src/control/messages.js";
import { freePort, ROOT } from "../../helpers/gateway.js";
import { agent, cluster, forward, gateway, listener, request, route, snapshot } from "./helpers.js";

test("worker: init, snapshot -> applied, bad snapshot -> apply-failed and old one serves, shutdown exits 0", async () => {
  const echo = await startEchoServer({ pod: "w" });
  const dir = mkdtempSync(join(tmpdir(), "sluice-worker-"));
  const logPath = join(dir, "access.log");
  const child = fork(join(ROOT, "src/proxy/worker-main.ts"), [], { execArgv: ["--import", "tsx"], stdio: ["ignore", "pipe", "pipe", "ipc"] });
  const exited = once(child, "exit");
  const messages: FromWorker[] = [];
  const waitMsg = async (): Promise<FromWorker> => {
    const deadline = Date.now() + 15_000;
    while (messages.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    const m = messages.shift();
    assert.ok(m, "no message from worker");
    return m;
  };
  child.on("message", (m) => messages.push(m as FromWorker));
  const send = (m: ToWorker): void => void child.send(m);
  try {
    const port = await freePort();
    // Messages sent before the worker listens would be lost: it says when it does.
    assert.deepEqual(await waitMsg(), { type: "ready" });
    send({ type: "init", init: { listenAddress: "127.0.0.1", accessLog: logPath } });
    const good = snapshot([listener(port, [gateway([route({}, forward("c"))])])], [cluster("c", [echo])]);
    send({ type: "snapshot", snapshot: good });
    assert.deepEqual(await waitMsg(), { type: "applied", version: good.version, listeners: [{ name: `http-${port}`, port, ok: true }] });
    const r = await request(port, "/via-worker", { headers: { "x-request-id": "rid-1" } });
    assert.equal(r.status, 200);
    const bad = snapshot([listener(port, [gateway([route({}, forward("nope"))])])], []);
    send({ type: "snapshot", snapshot: bad });
    const failed = await waitMsg();
    assert.equal(failed.type, "apply-failed");
    assert.equal(failed.version, bad.version);
    assert.equal((await request(port, "/still")).status, 200);
    agent.destroy();
    send({ type: "shutdown" });
    const [code] = await exited;
    assert.equal(code, 0);
    const lines = readFileSync(logPath, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    const first = lines.find((l) => l.path === "/via-worker");
    assert.ok(first, "access log line");
    assert.equal(first.status, 200);
    assert.equal(first.requestId, "rid-1");
    assert.equal(first.upstreamStatus, 200);
    assert.match(first.backend, /^127\.0\.0\.1:\d+$/);
  } finally {
    if (child.exitCode === null) child.kill();
    await echo.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("metrics are counted per listener/route/backend/code on the default registry", async () => {
  const echo = await startEchoServer();
  const port = await freePort();
  const dp = new ProxyDataPlane({ accessLog: "off", listenAddress: "127.0.0.1" });
  const rt = route({}, forward("c"));
  await dp.apply(snapshot([listener(port, [gateway([rt], null, "*", "ns/gw/metrics")])], [cluster("c", [echo])]));
  await request(port, "/");
  await request(port, "/", { headers: { "x-echo-status": "503" } });
  const text = await register.metrics();
  assert.ok(text.includes(`sluice_http_requests_total{listener="ns/gw/metrics",route="${rt.name}",backend="c",code="200"} 1`), text);
  assert.ok(text.includes(`sluice_http_requests_total{listener="ns/gw/metrics",route="${rt.name}",backend="c",code="503"} 1`));
  assert.ok(text.includes(`sluice_http_request_duration_seconds_count{route="${rt.name}"} 2`));
  await dp.close();
  agent.destroy();
  await echo.close();
});
