// The admin API of a running gateway, and "unchanged input makes no new version".
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { utimesSync } from "node:fs";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { configHash } from "../../../src/util/canonical-json.js";
import { startEchoServer, type EchoServer } from "../../../src/demo/echo-server.js";
import { GatewayProcess, freePort } from "../../helpers/gateway.js";
import { BACKEND, CLASS_AND_GATEWAY, ROUTE, get, json, metricValue, until, type ConfigDump } from "./fixtures.js";

let gw: GatewayProcess;
let echo: EchoServer;
let port: number;

before(async () => {
  echo = await startEchoServer({ pod: "echo-a" });
  port = await freePort();
  gw = await GatewayProcess.start({
    workers: 2,
    files: {
      "gw.yaml": CLASS_AND_GATEWAY(port),
      "backends/a.yaml": BACKEND("echo-a", echo.port),
      "routes.yaml": ROUTE({ name: "r1", path: "/", backends: [{ name: "echo-a", port: echo.port }] }),
    },
  });
});

after(async () => {
  await gw?.stop();
  await echo?.close();
});

test("GET /healthz answers ok", async () => {
  const r = await fetch(gw.admin("/healthz"));
  assert.equal(r.status, 200);
  assert.equal((await r.text()).trim(), "ok");
});

test("GET /ready: every worker has the current version", async () => {
  const r = await json<{ ready: boolean; version: number; workers: { id: number; version: number }[] }>(gw.admin("/ready"));
  assert.equal(r.status, 200);
  assert.equal(r.body.ready, true);
  assert.ok(r.body.version >= 1);
  assert.equal(r.body.workers.length, 2);
  assert.deepEqual(r.body.workers.map((w) => w.id).sort(), [1, 2]);
  for (const w of r.body.workers) assert.equal(w.version, r.body.version);
  assert.equal((await get(port, "/hello")).pod, "echo-a");
});

test("GET /status: a v1 List of every resource with its status, kinds sorted", async () => {
  const r = await json<{ apiVersion: string; kind: string; items: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; status?: { addresses?: { type: string; value: string }[]; conditions?: { type: string; status: string; lastTransitionTime: string }[]; parents?: unknown[] } }[] }>(gw.admin("/status"));
  assert.equal(r.status, 200);
  assert.equal(r.body.apiVersion, "v1");
  assert.equal(r.body.kind, "List");
  const kinds = r.body.items.map((i) => i.kind);
  assert.deepEqual(kinds, [...kinds].sort());
  // The namespace "default" exists implicitly, as in a cluster.
  assert.deepEqual(kinds, ["Backend", "Gateway", "GatewayClass", "HTTPRoute", "Namespace"]);
  const gwItem = r.body.items.find((i) => i.kind === "Gateway")!;
  assert.equal(gwItem.apiVersion, "gateway.networking.k8s.io/v1");
  assert.equal(gwItem.metadata.name, "gw");
  const programmed = gwItem.status?.conditions?.find((c) => c.type === "Programmed");
  assert.equal(programmed?.status, "True");
  assert.match(programmed!.lastTransitionTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  // The harness runs with --listen-address 127.0.0.1: that is where the Gateway is reachable.
  assert.deepEqual(gwItem.status?.addresses, [{ type: "IPAddress", value: "127.0.0.1" }]);
  const route = r.body.items.find((i) => i.kind === "HTTPRoute")!;
  assert.equal(route.status?.parents?.length, 1);

  const y = await fetch(gw.admin("/status?format=yaml"));
  assert.equal(y.status, 200);
  assert.match(y.headers.get("content-type") ?? "", /yaml/);
  assert.deepEqual(parseYaml(await y.text()), r.body);
});

test("GET /config_dump: version, hash of the canonical config, diagnostics", async () => {
  const r = await json<ConfigDump>(gw.admin("/config_dump"));
  assert.equal(r.status, 200);
  assert.ok(r.body.version >= 1);
  assert.equal(r.body.hash, configHash(r.body.config));
  assert.deepEqual(r.body.diagnostics.errors, []);
  assert.ok(Array.isArray(r.body.diagnostics.warnings));
});

test("GET /metrics: control metrics and the workers' metrics", async () => {
  await get(port, "/metrics-probe");
  const r = await fetch(gw.admin("/metrics"));
  assert.equal(r.status, 200);
  const text = await r.text();
  for (const name of ["sluice_config_reloads_total", "sluice_config_version", "sluice_config_errors", "sluice_config_last_reload_success_timestamp_seconds"]) {
    assert.match(text, new RegExp(`^# TYPE ${name} `, "m"), name);
  }
  assert.ok(metricValue(text, "sluice_config_version") >= 1);
  assert.equal(metricValue(text, "sluice_config_errors"), 0);
  assert.doesNotMatch(text, /worker metrics unavailable/);
  // Worker metrics come from the workers' default registries (e.g. process metrics or request counters).
  assert.match(text, /^# TYPE sluice_(?!config_)\w+ /m, "no data-plane metric in:\n" + text.slice(0, 2000));
});

test("GET /metrics: the workers' Node.js runtime metrics, once each, over both workers", async () => {
  for (let i = 0; i < 20; i++) await get(port, "/runtime-probe");
  const text = await (await fetch(gw.admin("/metrics"))).text();
  for (const name of ["nodejs_eventloop_lag_max_seconds", "nodejs_gc_duration_seconds", "nodejs_heap_size_used_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes"]) {
    assert.equal(text.match(new RegExp(`^# TYPE ${name} `, "gm"))?.length, 1, `${name} once in:\n${text.slice(0, 1500)}`);
  }
  // Two workers, each tens of MiB: the sum is well over one worker's share, and a CPU time was counted.
  assert.ok(metricValue(text, "process_resident_memory_bytes") > 40 * 1024 * 1024, "resident memory summed over workers");
  assert.ok(metricValue(text, "process_cpu_seconds_total") > 0);
  const lagMax = metricValue(text, "nodejs_eventloop_lag_max_seconds");
  assert.ok(lagMax > 0 && lagMax < 5, `event-loop delay max ${lagMax} s`);
});

test("unknown admin paths are 404", async () => {
  assert.equal((await fetch(gw.admin("/nope"))).status, 404);
});

test("unchanged input makes no new version: a touch, the same bytes, a comment", async () => {
  const before = await json<ConfigDump>(gw.admin("/config_dump"));
  const unchanged = async (): Promise<number> => metricValue(await (await fetch(gw.admin("/metrics"))).text(), 'sluice_config_reloads_total{result="unchanged"}');
  const u0 = await unchanged();
  const routes = ROUTE({ name: "r1", path: "/", backends: [{ name: "echo-a", port: echo.port }] });
  const t = new Date();
  utimesSync(join(gw.configDir, "routes.yaml"), t, t);
  gw.write("routes.yaml", routes);
  // A comment moves every line: the objects' positions change, the resulting config does not.
  gw.write("routes.yaml", `# a comment that changes nothing\n${routes}`);
  await until("a reload that found the config unchanged", 10_000, async () => (await unchanged()) > u0);
  const afterDump = await json<ConfigDump>(gw.admin("/config_dump"));
  assert.equal(afterDump.body.version, before.body.version);
  assert.equal(afterDump.body.hash, before.body.hash);
  assert.equal((await gw.readyState())?.version, before.body.version);
  // A real change afterwards is exactly one version later: nothing in between made one.
  gw.write("routes.yaml", ROUTE({ name: "r1", path: "/other", backends: [{ name: "echo-a", port: echo.port }] }));
  const ready = await gw.waitReady(before.body.version + 1, 10_000);
  assert.equal(ready.version, before.body.version + 1);
  assert.equal((await get(port, "/other")).pod, "echo-a");
});

test("GET /ready?after=N&wait=MS answers once every worker serves a version after N, without polling", async () => {
  assert.equal((await fetch(gw.admin("/ready?wait=soon"))).status, 400);
  assert.equal((await fetch(gw.admin("/ready?after=-1&wait=10"))).status, 400);
  const now = await json<{ version: number }>(gw.admin("/ready"));
  const v = now.body.version;
  // Already served: at once.
  const t0 = performance.now();
  const served = await json<{ ready: boolean; version: number }>(gw.admin(`/ready?after=${v - 1}&wait=10000`));
  assert.equal(served.body.version, v);
  assert.ok(performance.now() - t0 < 2_000);
  // Nothing changes: it answers the current state when the wait is over.
  const t1 = performance.now();
  const idle = await json<{ ready: boolean; version: number }>(gw.admin(`/ready?after=${v}&wait=300`));
  assert.ok(performance.now() - t1 >= 250, "answered before its wait was over");
  assert.equal(idle.status, 200);
  assert.equal(idle.body.version, v);
  // A change made while the request waits: answered with the new version, every worker on it.
  let answered = false;
  const waiting = json<{ ready: boolean; version: number; servedAt?: string; workers: { version: number; appliedAt?: string }[] }>(gw.admin(`/ready?after=${v}&wait=20000`)).then((r) => {
    answered = true;
    return r;
  });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(answered, false, "answered before anything changed");
  const written = performance.now();
  const writtenAt = Date.now();
  gw.write("routes.yaml", ROUTE({ name: "r1", path: "/waited", backends: [{ name: "echo-a", port: echo.port }] }));
  const r = await waiting;
  const answeredAt = Date.now();
  // Answered by the workers' reports, not by its 20 s running out.
  assert.ok(performance.now() - written < 10_000, `answered ${Math.round(performance.now() - written)} ms after the change`);
  assert.equal(r.status, 200);
  assert.equal(r.body.ready, true);
  assert.equal(r.body.version, v + 1);
  for (const w of r.body.workers) assert.equal(w.version, v + 1);
  // servedAt: when the last worker's report of the new version came in, after the write and before the answer.
  const servedAt = Date.parse(r.body.servedAt ?? "");
  assert.ok(servedAt >= writtenAt && servedAt <= answeredAt, `servedAt ${r.body.servedAt} outside ${new Date(writtenAt).toISOString()}..${new Date(answeredAt).toISOString()}`);
  assert.equal(servedAt, Math.max(...r.body.workers.map((w) => Date.parse(w.appliedAt ?? ""))));
  assert.equal((await get(port, "/waited")).pod, "echo-a");
});
