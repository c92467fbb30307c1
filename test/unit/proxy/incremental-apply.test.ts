// Route changes flow control -> worker as deltas and are compiled incrementally: the result must be
// what a full snapshot compiled from scratch gives, at every step of random change sequences.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { IncomingHttpHeaders } from "node:http";
import { ConfigController } from "../../../src/control/config-controller.js";
import type { Snapshot } from "../../../src/ir/types.js";
import { AccessLog } from "../../../src/observe/access-log.js";
import { ControlMetrics } from "../../../src/observe/control-metrics.js";
import { configureLog } from "../../../src/observe/log.js";
import { CompileCache, compileSnapshot, NeedsFullSnapshot, type CompiledSnapshot } from "../../../src/proxy/compile.js";
import { applyDelta, makeDelta } from "../../../src/proxy/snapshot-delta.js";
import { EndpointRegistry } from "../../../src/proxy/upstream/cluster.js";
import type { K8sObject } from "../../../src/resources/types.js";
import { CONTROLLER_NAME, translate } from "../../../src/translator/index.js";

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

const base: K8sObject[] = [
  { apiVersion: "gateway.networking.k8s.io/v1", kind: "GatewayClass", metadata: { name: "sluice" }, spec: { controllerName: CONTROLLER_NAME } },
  {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "Gateway",
    metadata: { name: "gw", namespace: "default" },
    spec: { gatewayClassName: "sluice", listeners: [{ name: "a", port: 8080, protocol: "HTTP" }, { name: "b", port: 8081, protocol: "HTTP", hostname: "*.example.com" }] },
  },
  { apiVersion: "sluice.dev/v1alpha1", kind: "Backend", metadata: { name: "one", namespace: "default" }, spec: { endpoints: [{ ip: { address: "127.0.0.1", port: 9 } }] } },
  { apiVersion: "sluice.dev/v1alpha1", kind: "Backend", metadata: { name: "two", namespace: "default" }, spec: { endpoints: [{ ip: { address: "127.0.0.2", port: 9 } }] } },
];

function route(name: string, host: string, prefix: string, backend: string, header?: string): K8sObject {
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name, namespace: "default" },
    spec: {
      parentRefs: [{ name: "gw" }],
      hostnames: [host],
      rules: [
        {
          matches: [{ path: { type: "PathPrefix", value: prefix }, ...(header ? { headers: [{ name: "x-v", value: header }] } : {}) }],
          backendRefs: [{ group: "sluice.dev", kind: "Backend", name: backend }],
          filters: [{ type: "ResponseHeaderModifier", responseHeaderModifier: { set: [{ name: "x-route", value: name }] } }],
        },
      ],
    },
  };
}

/** Where each probe request goes: gateway listener, route name and backend cluster, per port. */
function routing(c: CompiledSnapshot, probes: { port: number; host: string; path: string; headers: IncomingHttpHeaders }[]): string[] {
  return probes.map((p) => {
    const l = c.listeners.find((x) => x.port === p.port);
    const g = l?.gateways.lookup(p.host);
    const table = g?.vhosts.lookup(p.host);
    const r = table?.match("GET", p.path, "", p.headers);
    if (!r) return `${p.port} ${p.host}${p.path}: none`;
    const picks = r.backends.pick();
    return `${p.port} ${p.host}${p.path}: ${g!.name} ${r.name} -> ${picks?.cluster?.name ?? "?"} ${picks?.cluster?.endpoints.map((e) => e.key).join(",")}`;
  });
}

test("deltas rebuilt on the worker side and compiled with the cache route exactly like full snapshots", async () => {
  configureLog("silent");
  const rand = rng(3);
  const published: Snapshot[] = [];
  const controller = new ConfigController({
    translate: (objects, memo) => translate(objects, { controllerName: CONTROLLER_NAME, memo }),
    metrics: new ControlMetrics(),
    log: configureLog("silent"),
    publish: (s) => published.push(s),
  });
  const routes = new Map<string, K8sObject>();
  for (let i = 0; i < 120; i++) routes.set(`r${i}`, route(`r${i}`, `h${i % 90}.example.com`, `/p${i % 5}`, i % 2 ? "one" : "two"));
  const registry = new EndpointRegistry();
  const log = new AccessLog("off");
  const cache = new CompileCache();
  let worker: Snapshot | null = null; // the worker's delta base
  let workerFull: Snapshot | null = null; // the same snapshot as received over IPC (JSON)
  let resyncs = 0;
  let deltas = 0;
  let reused = 0;
  try {
    for (let step = 0; step < 40; step++) {
      const k = rand();
      const n = routes.size;
      if (k < 0.3) routes.set(`n${step}`, route(`n${step}`, `n${step % 7}.example.com`, `/q${step % 3}`, "one"));
      else if (k < 0.5 && n > 0) routes.delete([...routes.keys()][Math.floor(rand() * n)]!);
      else if (k < 0.8 && n > 0) {
        const name = [...routes.keys()][Math.floor(rand() * n)]!;
        routes.set(name, route(name, `h${Math.floor(rand() * 90)}.example.com`, `/p${step % 5}`, rand() < 0.5 ? "one" : "two", rand() < 0.5 ? "v" : undefined));
      } else {
        // A backend change: every route using it is affected, the cache must not keep old runtimes.
        const i = base.findIndex((o) => o.metadata.name === "two");
        base[i] = { ...base[i]!, spec: { endpoints: [{ ip: { address: `127.0.0.${2 + (step % 3)}`, port: 9 } }] } };
      }
      const before = published.length;
      controller.onLoad({ objects: [...base, ...routes.values()].map((object) => ({ object, source: { file: "x", line: 1, column: 1 }, locate: () => ({ file: "x", line: 1, column: 1 }) })), diagnostics: [] });
      if (published.length === before) continue;
      const next = published[published.length - 1]!;
      const prev = published.length > 1 ? published[published.length - 2]! : null;
      const delta = prev ? makeDelta(prev, next) : null;
      const wire = (): Snapshot => JSON.parse(JSON.stringify(next)) as Snapshot;
      if (delta && workerFull) assert.deepEqual(applyDelta(workerFull, JSON.parse(JSON.stringify(delta))), wire(), `step ${step}: rebuilt snapshot equals the full one`);
      // The worker rebuilds against its compact base (compiled virtual hosts, no routes).
      let received: Snapshot = delta && worker ? applyDelta(worker, JSON.parse(JSON.stringify(delta))) : wire();
      if (delta) deltas++;
      let incremental: CompiledSnapshot;
      try {
        incremental = compileSnapshot(received, registry, log, cache);
      } catch (err) {
        if (!(err instanceof NeedsFullSnapshot)) throw err;
        resyncs++;
        received = wire();
        incremental = compileSnapshot(received, registry, log, cache);
      }
      incremental.commit();
      reused += cache.stats.vhostsReused;
      const full = compileSnapshot(wire(), new EndpointRegistry(), log);
      const probes = [];
      for (let i = 0; i < 90; i += 3) for (const path of ["/p1/x", "/q2", "/p3"]) for (const port of [8080, 8081]) probes.push({ port, host: `h${i}.example.com`, path, headers: i % 2 ? { "x-v": "v" } : {} });
      for (let i = 0; i < 7; i++) probes.push({ port: 8080, host: `n${i}.example.com`, path: `/q${i % 3}`, headers: {} });
      assert.deepEqual(routing(incremental, probes), routing(full, probes), `step ${step}`);
      worker = incremental.deltaBase();
      workerFull = wire();
      // The compact base holds no route IR.
      for (const l of worker.config.listeners) for (const g of l.gatewayListeners) for (const vh of g.virtualHosts) assert.equal(vh.routes.length, 0);
    }
    // makeDelta sends whole what a worker could not reuse (backend changes included).
    assert.equal(resyncs, 0);
    assert.ok(deltas >= 20, `most changes went as deltas (${deltas})`);
    assert.ok(reused > 1000, `compiled virtual hosts were reused (${reused})`);
  } finally {
    await registry.closeAll();
    await log.close();
  }
});

test("a delta against another base is refused, and a delta names only what changed", () => {
  const mk = (version: number, hosts: string[]): Snapshot => ({
    version,
    hash: `h${version}`,
    config: {
      clusters: [{ name: "c", protocol: "http1", endpoints: [] }],
      listeners: [{ name: "http-80", port: 80, protocol: "HTTP", gatewayListeners: [{ name: "g", hostname: null, tls: null, virtualHosts: hosts.map((hostname) => ({ hostname, routes: [] })) }] }],
    },
  });
  const a = mk(1, ["a", "b", "c", "d"]);
  const b: Snapshot = { ...mk(2, []), config: { ...a.config, listeners: [{ ...a.config.listeners[0]!, gatewayListeners: [{ ...a.config.listeners[0]!.gatewayListeners[0]!, virtualHosts: [...a.config.listeners[0]!.gatewayListeners[0]!.virtualHosts.slice(0, 3), { hostname: "e", routes: [] }] }] }] } };
  const d = makeDelta(a, b);
  assert.ok(d);
  assert.deepEqual(d.listeners[0]!.gatewayListeners[0]!.virtualHosts, [0, 1, 2, { hostname: "e", routes: [] }]);
  assert.deepEqual(d.clusters, [0]);
  assert.deepEqual(applyDelta(a, d), b);
  assert.throws(() => applyDelta(mk(1, ["x"]), { ...d, base: { version: 7, hash: "h7" } }), /delta is against version 7/);
  // Everything new: not worth a delta.
  assert.equal(makeDelta(a, mk(3, ["p", "q", "r", "s"])), null);
});

test("a compact base stands in for the routes: a changed cluster sends its virtual hosts whole, and a stale reference asks for the full snapshot", async () => {
  const objects = (addr: string): K8sObject[] => [
    ...base.slice(0, 3),
    { apiVersion: "sluice.dev/v1alpha1", kind: "Backend", metadata: { name: "two", namespace: "default" }, spec: { endpoints: [{ ip: { address: addr, port: 9 } }] } },
    route("a", "a.example.com", "/a", "one"),
    route("b", "b.example.com", "/b", "two"),
    route("c", "c.example.com", "/c", "one"),
  ];
  const s1: Snapshot = { version: 1, hash: "1", config: translate(objects("127.0.0.2"), { controllerName: CONTROLLER_NAME }).config };
  // The same virtual host objects, only backend "two" moved.
  const moved = translate(objects("127.0.0.9"), { controllerName: CONTROLLER_NAME }).config;
  const s2: Snapshot = { version: 2, hash: "2", config: { ...s1.config, clusters: moved.clusters } };
  const registry = new EndpointRegistry();
  const log = new AccessLog("off");
  try {
    const cache = new CompileCache();
    const c1 = compileSnapshot(JSON.parse(JSON.stringify(s1)), registry, log, cache);
    c1.commit();
    const compact = c1.deltaBase();
    const hosts = (s: Snapshot) => s.config.listeners.find((l) => l.port === 8080)!.gatewayListeners[0]!.virtualHosts;
    assert.deepEqual(hosts(compact).map((vh) => [vh.hostname, vh.routes.length]), [["a.example.com", 0], ["b.example.com", 0], ["c.example.com", 0]]);
    const d = makeDelta(s1, s2);
    assert.ok(d);
    const refs = d.listeners.find((l) => l.port === 8080)!.gatewayListeners[0]!.virtualHosts;
    assert.deepEqual(refs.map((v) => typeof v === "number" ? v : v.hostname), [0, "b.example.com", 2], "the host using the moved backend goes whole");
    const c2 = compileSnapshot(applyDelta(compact, JSON.parse(JSON.stringify(d))), registry, log, cache);
    // Both Gateway listeners (8080, 8081) have the three hosts.
    assert.deepEqual(cache.stats, { vhostsReused: 4, vhostsCompiled: 2, clustersReused: 1, clustersBuilt: 1 });
    const table = c2.listeners.find((l) => l.port === 8080)!.gateways.lookup("b.example.com")!.vhosts.lookup("b.example.com")!;
    assert.deepEqual(table.match("GET", "/b", "", {})!.backends.pick()!.cluster!.endpoints.map((e) => e.key), ["http1|127.0.0.9|9"]);
    // A reference the delta should not have made: the worker cannot rebuild it and says so.
    const stale = { ...d, listeners: d.listeners.map((l) => ({ ...l, gatewayListeners: l.gatewayListeners.map((g) => ({ ...g, virtualHosts: g.virtualHosts.map((_, i) => i) })) })) };
    assert.throws(() => compileSnapshot(applyDelta(compact, stale), registry, log, cache), NeedsFullSnapshot);
  } finally {
    await registry.closeAll();
    await log.close();
  }
});
