// The worker entry over real IPC, plus metrics and the access log.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { register } from "prom-client";
import { ProxyDataPlane } from "../../../src/proxy/data-plane.js";
import { startEchoServer } from "../../../src/demo/echo-server.js";
import { makeDelta, type SnapshotDelta } from "../../../src/proxy/snapshot-delta.js";
import { freePort } from "../../helpers/gateway.js";
import { agent, cluster, forward, gateway, listener, request, route, snapshot } from "./helpers.js";
import { forkWorker } from "./worker-process.js";

test("worker: init, snapshot -> applied, bad snapshot -> apply-failed and old one serves, shutdown exits 0", async () => {
  const echo = await startEchoServer({ pod: "w" });
  const dir = mkdtempSync(join(tmpdir(), "sluice-worker-"));
  const logPath = join(dir, "access.log");
  const { child, exited, waitMsg, send } = forkWorker();
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

test("worker: deltas apply against its compact base; a reference it cannot rebuild gets resync and the old snapshot keeps serving", async () => {
  const a = await startEchoServer({ pod: "a" });
  const b = await startEchoServer({ pod: "b" });
  const { child, exited, waitMsg, send } = forkWorker();
  const pod = async (host: string): Promise<string> => {
    const r = await request(port, "/x", { host });
    return r.status === 200 ? r.json<{ pod: string }>().pod : String(r.status);
  };
  const port = await freePort();
  try {
    assert.deepEqual(await waitMsg(), { type: "ready" });
    send({ type: "init", init: { listenAddress: "127.0.0.1", accessLog: "off" } });
    const hosts = ["a.test", "b.test", "c.test"].map((hostname) => ({ hostname, routes: [route({}, forward("c"))] }));
    const l1 = listener(port, [{ ...gateway([]), virtualHosts: hosts }]);
    const v1 = snapshot([l1], [cluster("c", [a])]);
    send({ type: "snapshot", snapshot: v1 });
    assert.equal((await waitMsg()).type, "applied");
    assert.equal(await pod("b.test"), "a");
    // Cluster c moves to b, but the delta still names the virtual hosts by position: the worker
    // holds no routes to compile them against the new cluster, so it asks for the full snapshot.
    const v2 = snapshot([l1], [cluster("c", [b])]);
    const stale: SnapshotDelta = { version: v2.version, hash: v2.hash, base: { version: v1.version, hash: v1.hash }, listeners: [{ ...l1, gatewayListeners: [{ ...l1.gatewayListeners[0]!, virtualHosts: [0, 1, 2] }] }], clusters: [v2.config.clusters[0]!], rest: {} };
    send({ type: "snapshot-delta", delta: stale });
    assert.deepEqual(await waitMsg(), { type: "resync", version: v2.version });
    assert.equal(await pod("b.test"), "a", "the old snapshot still serves");
    // makeDelta would have sent them whole: v1 -> v2 is no delta at all (every host uses c).
    assert.equal(makeDelta(v1, v2), null);
    send({ type: "snapshot", snapshot: v2 });
    assert.equal((await waitMsg()).type, "applied");
    assert.equal(await pod("b.test"), "b");
    // A route added: a delta the worker rebuilds from its compact base, the others reused.
    const l3 = listener(port, [{ ...l1.gatewayListeners[0]!, virtualHosts: [...hosts, { hostname: "d.test", routes: [route({}, forward("c"))] }] }]);
    const v3 = snapshot([l3], v2.config.clusters);
    const d3 = makeDelta(v2, v3);
    assert.ok(d3);
    assert.deepEqual(d3.listeners[0]!.gatewayListeners[0]!.virtualHosts.slice(0, 3), [0, 1, 2]);
    send({ type: "snapshot-delta", delta: d3 });
    assert.equal((await waitMsg()).type, "applied");
    assert.deepEqual([await pod("a.test"), await pod("d.test"), await pod("e.test")], ["b", "b", "404"]);
    agent.destroy();
    send({ type: "shutdown" });
    assert.equal((await exited)[0], 0);
  } finally {
    if (child.exitCode === null) child.kill();
    await a.close();
    await b.close();
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
