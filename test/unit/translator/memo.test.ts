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
