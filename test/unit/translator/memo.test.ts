// A memoised translate() must give exactly what a plain translate() gives, whatever happened before.
import { test } from "node:test";
import assert from "node:assert/strict";
import { CONTROLLER_NAME, translate, TranslateMemo } from "../../../src/translator/index.js";
import type { K8sObject } from "../../../src/resources/types.js";
import { goldenCases, loadCase } from "./golden-cases.js";

const cases = goldenCases();

const plain = (objects: K8sObject[]): string => JSON.stringify(translate(objects, { controllerName: CONTROLLER_NAME }));
const memoised = (objects: K8sObject[], memo: TranslateMemo): string => JSON.stringify(translate(objects, { controllerName: CONTROLLER_NAME, memo }));

/** Deterministic PRNG (failures must reproduce). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const isRoute = (o: K8sObject): boolean => o.kind === "HTTPRoute";

test("every golden case: a memoised translate equals a plain one, cold and warm", () => {
  for (const name of cases) {
    const objects = loadCase(name);
    const memo = new TranslateMemo();
    const want = plain(objects);
    assert.equal(memoised(objects, memo), want, `${name}: cold`);
    assert.equal(memoised(objects, memo), want, `${name}: warm`);
    const routes = objects.filter(isRoute).length;
    assert.equal(memo.stats.routesTranslated, 0, `${name}: warm run translated no route again`);
    assert.ok(memo.stats.routesReused <= routes);
  }
});

test("one memo carried across every golden case in turn equals plain translations", () => {
  const memo = new TranslateMemo();
  for (const pass of [0, 1]) {
    for (const name of pass === 0 ? cases : [...cases].reverse()) {
      const objects = loadCase(name);
      assert.equal(memoised(objects, memo), plain(objects), `${name} (pass ${pass})`);
    }
  }
});

/** Route churn on each golden case: routes removed, put back, replaced by copies or edited; environment copies. */
test("random route and environment changes on every golden case: memoised equals plain at every step", () => {
  let patched = 0;
  for (const name of cases) {
    const base = loadCase(name);
    const rand = rng(name.length * 7919 + 17);
    const memo = new TranslateMemo();
    let current = [...base];
    const removed: K8sObject[] = [];
    for (let step = 0; step < 40; step++) {
      const routes = current.filter(isRoute);
      const r = rand();
      if (r < 0.25 && routes.length > 0) {
        const victim = routes[Math.floor(rand() * routes.length)]!;
        current = current.filter((o) => o !== victim);
        removed.push(victim);
      } else if (r < 0.45 && removed.length > 0) {
        current.push(removed.splice(Math.floor(rand() * removed.length), 1)[0]!);
      } else if (r < 0.6 && routes.length > 0) {
        // Same content, new object: translated again, same output.
        const i = current.indexOf(routes[Math.floor(rand() * routes.length)]!);
        current[i] = structuredClone(current[i]!);
      } else if (r < 0.8 && routes.length > 0) {
        // An edit: another hostname, or the rules of another route.
        const i = current.indexOf(routes[Math.floor(rand() * routes.length)]!);
        const copy = structuredClone(current[i]!) as K8sObject & { spec?: { hostnames?: string[]; rules?: unknown[] } };
        copy.spec ??= {};
        if (rand() < 0.5) copy.spec.hostnames = [...(copy.spec.hostnames ?? []), `h${step}.example.com`];
        else {
          const other = structuredClone(routes[Math.floor(rand() * routes.length)]!) as typeof copy;
          copy.spec.rules = other.spec?.rules ?? [];
        }
        current[i] = copy;
      } else if (r < 0.9) {
        // An environment object replaced by an equal copy: still "unchanged".
        const env = current.filter((o) => !isRoute(o));
        if (env.length > 0) {
          const i = current.indexOf(env[Math.floor(rand() * env.length)]!);
          current[i] = structuredClone(current[i]!);
        }
      } else {
        // An environment change: back to the case's original objects except routes (content may differ).
        const env = current.filter((o) => !isRoute(o));
        if (env.length > 0) {
          const i = current.indexOf(env[Math.floor(rand() * env.length)]!);
          const copy = structuredClone(current[i]!);
          copy.metadata = { ...copy.metadata, labels: { ...(copy.metadata.labels ?? {}), touched: String(step) } };
          current[i] = copy;
        }
      }
      assert.equal(memoised(current, memo), plain(current), `${name}, step ${step}`);
      if (memo.stats.indexPatched) patched++;
    }
  }
  assert.ok(patched > 100, `route-only steps patched the resource index (${patched})`);
});

function syntheticCase(routes: number): K8sObject[] {
  const objs: K8sObject[] = [
    { apiVersion: "gateway.networking.k8s.io/v1", kind: "GatewayClass", metadata: { name: "sluice" }, spec: { controllerName: CONTROLLER_NAME } },
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "Gateway",
      metadata: { name: "gw", namespace: "default" },
      spec: { gatewayClassName: "sluice", listeners: [{ name: "http", port: 80, protocol: "HTTP", allowedRoutes: { namespaces: { from: "All" } } }, { name: "wild", port: 81, protocol: "HTTP", hostname: "*.example.com" }] },
    },
    { apiVersion: "sluice.dev/v1alpha1", kind: "Backend", metadata: { name: "b", namespace: "default" }, spec: { endpoints: [{ ip: { address: "127.0.0.1", port: 9 } }] } },
    { apiVersion: "v1", kind: "Service", metadata: { name: "s", namespace: "default" }, spec: { ports: [{ port: 80 }] } },
  ];
  for (let i = 0; i < routes; i++) objs.push(route(i, i % 7 === 0 ? "shared.example.com" : `r${i}.example.com`));
  return objs;
}

function route(i: number, host: string, extra = 0): K8sObject {
  return {
    apiVersion: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    metadata: { name: `r${i}`, namespace: i % 3 === 0 ? "other" : "default", creationTimestamp: `2024-01-01T00:00:${String(i % 60).padStart(2, "0")}Z` },
    spec: {
      parentRefs: [{ name: "gw", namespace: "default" }],
      hostnames: [host],
      rules: [
        {
          matches: [{ path: { type: "PathPrefix", value: `/p${i % 11}${"x".repeat(extra)}` } }],
          backendRefs: i % 5 === 0 ? [{ name: "s", port: 80 }] : [{ group: "sluice.dev", kind: "Backend", name: "b" }],
          ...(i % 4 === 0 ? { filters: [{ type: "RequestHeaderModifier", requestHeaderModifier: { set: [{ name: "x-r", value: String(i) }] } }] } : {}),
        },
      ],
    },
  };
}

test("many routes (host order patched, shared virtual hosts): memoised equals plain through adds, edits and removals", () => {
  const memo = new TranslateMemo();
  let current = syntheticCase(200);
  assert.equal(memoised(current, memo), plain(current));
  const rand = rng(99);
  for (let step = 0; step < 30; step++) {
    const k = Math.floor(rand() * 4);
    if (k === 0) current.push(route(1000 + step, rand() < 0.3 ? "shared.example.com" : `n${step}.example.com`));
    else if (k === 1) current.splice(4 + Math.floor(rand() * (current.length - 4)), 1);
    else if (k === 2) {
      const i = 4 + Math.floor(rand() * (current.length - 4));
      current[i] = route(5000 + step, `e${step}.example.com`, step);
    } else current = [...current].reverse();
    assert.equal(memoised(current, memo), plain(current), `step ${step}`);
    assert.ok(memo.stats.routesReused >= current.length - 4 - 1, `step ${step}: unchanged routes reused (${JSON.stringify(memo.stats)})`);
    assert.ok(memo.stats.vhostsReused > 0, `step ${step}: virtual hosts reused`);
    // Only routes changed: last time's resource index was patched, not rebuilt.
    assert.equal(memo.stats.indexPatched, true, `step ${step}: index patched`);
  }
});

test("routes that tie in age order (namespace left out vs default) keep the plain order through changes", () => {
  const memo = new TranslateMemo();
  const current = syntheticCase(120);
  const twin = (ns: string | undefined, host: string): K8sObject => {
    const r = route(7, host);
    r.metadata = { ...r.metadata, ...(ns === undefined ? { namespace: undefined } : { namespace: ns }) };
    if (ns === undefined) delete (r.metadata as { namespace?: string }).namespace;
    return r;
  };
  current.push(twin(undefined, "twin.example.com"), twin("default", "twin.example.com"));
  assert.equal(memoised(current, memo), plain(current));
  for (let step = 0; step < 6; step++) {
    current.push(route(3000 + step, `t${step}.example.com`));
    if (step % 2 === 1) current.reverse();
    assert.equal(memoised(current, memo), plain(current), `step ${step}`);
  }
});

test("a route moving between hostnames (shared, its own, listed twice) regroups like a plain translation", () => {
  const memo = new TranslateMemo();
  const current = syntheticCase(150);
  assert.equal(memoised(current, memo), plain(current));
  const rand = rng(5);
  const hostsFor = [["shared.example.com"], ["own.example.com"], ["shared.example.com", "own.example.com"], ["dup.example.com", "dup.example.com"], ["r3.example.com", "shared.example.com"]];
  for (let step = 0; step < 25; step++) {
    const i = 4 + Math.floor(rand() * (current.length - 4));
    const copy = structuredClone(current[i]!) as K8sObject & { spec: { hostnames: string[] } };
    copy.spec.hostnames = hostsFor[Math.floor(rand() * hostsFor.length)]!;
    current[i] = copy;
    assert.equal(memoised(current, memo), plain(current), `step ${step}`);
    assert.ok(memo.stats.vhostsReused > 100, `step ${step}: unchanged virtual hosts reused (${JSON.stringify(memo.stats)})`);
  }
});

test("a Gateway repeating a listener name: memoised equals plain through route changes", () => {
  const memo = new TranslateMemo();
  const current = syntheticCase(80);
  const gw = current[1]! as K8sObject & { spec: { listeners: unknown[] } };
  current[1] = {
    ...gw,
    spec: {
      ...gw.spec,
      listeners: [
        { name: "dup", port: 80, protocol: "HTTP", allowedRoutes: { namespaces: { from: "All" } } },
        { name: "dup", port: 81, protocol: "HTTP", hostname: "*.example.com" },
      ],
    },
  } as K8sObject;
  assert.equal(memoised(current, memo), plain(current));
  const rand = rng(3);
  for (let step = 0; step < 12; step++) {
    const i = 4 + Math.floor(rand() * (current.length - 4));
    current[i] = route(7000 + step, rand() < 0.5 ? "shared.example.com" : `d${step}.example.com`);
    assert.equal(memoised(current, memo), plain(current), `step ${step}`);
  }
});

/** Equal texts; on a difference, where it starts (assert.equal's diff of two large texts takes minutes). */
function sameText(got: string, want: string, what: string): void {
  if (got === want) return;
  let i = 0;
  while (i < got.length && got[i] === want[i]) i++;
  assert.fail(`${what}: differs at ${i}: got ...${got.slice(Math.max(0, i - 80), i + 80)}... want ...${want.slice(Math.max(0, i - 80), i + 80)}...`);
}

/** A second Gateway (one listener) and a GRPCRoute in the environment, so kept Gateway states serve several Gateways and kinds. */
function richCase(routes: number): K8sObject[] {
  const objs = syntheticCase(routes);
  objs.splice(
    2,
    0,
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "Gateway",
      metadata: { name: "gw2", namespace: "other" },
      spec: { gatewayClassName: "sluice", listeners: [{ name: "h", port: 82, protocol: "HTTP", allowedRoutes: { namespaces: { from: "All" } } }] },
    },
    {
      apiVersion: "gateway.networking.k8s.io/v1",
      kind: "GRPCRoute",
      metadata: { name: "g", namespace: "default" },
      spec: { parentRefs: [{ name: "gw", namespace: "default" }], hostnames: ["grpc.example.com"], rules: [{ backendRefs: [{ group: "sluice.dev", kind: "Backend", name: "b" }] }] },
    },
  );
  return objs;
}

test("a long random sequence of changes applied to one memo gives exactly what a fresh translate gives, at every step", () => {
  const memo = new TranslateMemo();
  let current = richCase(300);
  sameText(memoised(current, memo), plain(current), "cold");
  const rand = rng(2024);
  const pick = (): number => {
    const routes = current.map((o, i) => (isRoute(o) ? i : -1)).filter((i) => i >= 0);
    return routes[Math.floor(rand() * routes.length)]!;
  };
  let routeOnly = 0;
  let reusedGateways = 0;
  let patched = 0;
  let lastEnvChanged = false;
  for (let step = 0; step < 160; step++) {
    const r = rand();
    let envChanged = false;
    if (r < 0.2) current.splice(Math.floor(rand() * (current.length + 1)), 0, route(10000 + step, rand() < 0.3 ? "shared.example.com" : `a${step}.example.com`));
    else if (r < 0.35) current.splice(pick(), 1);
    else if (r < 0.55) {
      // A rewrite in place: another rule, another hostname, or a second parent.
      const i = pick();
      const copy = structuredClone(current[i]!) as K8sObject & { spec: { hostnames: string[]; parentRefs: unknown[]; rules: unknown[] } };
      const k = Math.floor(rand() * 3);
      if (k === 0) copy.spec.hostnames = [`w${step}.example.com`];
      else if (k === 1) copy.spec.parentRefs = [...copy.spec.parentRefs, { name: "gw2", namespace: "other" }];
      else copy.spec.rules = [{ matches: [{ path: { type: "Exact", value: `/x${step}` } }], backendRefs: [{ name: "missing", port: 80 }] }];
      current[i] = copy;
    } else if (r < 0.65) {
      // Several scattered route changes at once (more than one changed stretch).
      for (let n = 0; n < 3; n++) current[pick()] = route(20000 + step * 10 + n, `s${step}-${n}.example.com`);
    } else if (r < 0.72) {
      // The same object twice: left to the full path, same output.
      current.push(current[pick()]!);
    } else if (r < 0.8) {
      // Copies of routes or of the environment with the same content: unchanged output.
      const i = rand() < 0.5 ? pick() : Math.floor(rand() * 4);
      current[i] = structuredClone(current[i]!);
    } else if (r < 0.88) {
      // An environment change: the second Gateway's listener hostname, or the Service's ports.
      envChanged = true;
      const i = current.findIndex((o) => (rand() < 0.5 ? o.kind === "Gateway" && o.metadata.name === "gw2" : o.kind === "Service"));
      const copy = structuredClone(current[i]!) as K8sObject & { spec: Record<string, unknown> };
      if (copy.kind === "Gateway") (copy.spec.listeners as { hostname?: string }[])[0]!.hostname = rand() < 0.5 ? `*.example.com` : `h${step}.example.com`;
      else copy.spec.ports = [{ port: 80 + (step % 3) }];
      current[i] = copy;
    } else if (r < 0.94) current = [...current].reverse();
    else {
      // Duplicates left over from earlier steps go away (their first copies stay).
      current = current.filter((o, i) => current.indexOf(o) === i);
    }
    sameText(memoised(current, memo), plain(current), `step ${step}`);
    // Steps after an environment change or while an object is listed twice start over by design.
    if (!envChanged && r < 0.65 && !lastEnvChanged && new Set(current).size === current.length) {
      routeOnly++;
      if (memo.stats.gatewaysReused) reusedGateways++;
      if (memo.stats.indexPatched) patched++;
    }
    lastEnvChanged = envChanged;
  }
  assert.ok(routeOnly > 30, `route-only steps: ${routeOnly}`);
  assert.ok(reusedGateways > routeOnly * 0.9, `Gateway states kept on ${reusedGateways} of ${routeOnly} route-only steps`);
  assert.ok(patched > routeOnly * 0.9, `index patched on ${patched} of ${routeOnly} route-only steps`);
});

test("route-only changes that move the last route off a cluster, or onto a new one: the cluster list follows, as a plain translation", () => {
  const memo = new TranslateMemo();
  const current = syntheticCase(200);
  // Backends only some routes use (the environment stays the same objects throughout).
  for (let b = 0; b < 6; b++) current.push({ apiVersion: "sluice.dev/v1alpha1", kind: "Backend", metadata: { name: `only${b}`, namespace: "default" }, spec: { endpoints: [{ ip: { address: "127.0.0.1", port: 100 + b } }] } });
  const clusterNames = (text: string): string => (JSON.parse(text) as { config: { clusters: { name: string }[] } }).config.clusters.map((c) => c.name).join(",");
  const onBackend = (i: number, host: string, backend: string): K8sObject => {
    const r = route(i, host) as K8sObject & { spec: { rules: { backendRefs: unknown[] }[] } };
    r.spec.rules[0]!.backendRefs = [{ group: "sluice.dev", kind: "Backend", name: backend }];
    return r;
  };
  assert.equal(memoised(current, memo), plain(current));
  const rand = rng(77);
  const seen = new Set<string>();
  for (let step = 0; step < 40; step++) {
    const routes = current.map((o, i) => (isRoute(o) ? i : -1)).filter((i) => i >= 0);
    const i = routes[Math.floor(rand() * routes.length)]!;
    const k = rand();
    const host = rand() < 0.3 ? "shared.example.com" : `c${step}.example.com`;
    // Rewritten onto a rare backend, back onto the common one, or removed; or a new route on a rare one.
    if (k < 0.35) current[i] = onBackend(3000 + step, host, `only${Math.floor(rand() * 6)}`);
    else if (k < 0.6) current[i] = route(4000 + step, host);
    else if (k < 0.8) current.splice(i, 1);
    else current.splice(i, 0, onBackend(6000 + step, host, `only${Math.floor(rand() * 6)}`));
    const got = memoised(current, memo);
    sameText(got, plain(current), `step ${step}`);
    assert.equal(memo.stats.gatewaysReused, true, `step ${step}: a route-only change`);
    seen.add(clusterNames(got));
  }
  assert.ok(seen.size >= 5, `the cluster list changed along the way (${seen.size} distinct lists)`);
});
