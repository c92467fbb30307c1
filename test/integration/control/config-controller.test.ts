// The control loop's decisions, driven with a stand-in translator (the real one is exercised by
// the end-to-end tests next to this file).
import { test } from "node:test";
import assert from "node:assert/strict";
import { pino } from "pino";
import { ConfigController } from "../../../src/control/config-controller.js";
import type { LoadResult } from "../../../src/resources/index.js";
import { canonicalJson, configHash } from "../../../src/util/canonical-json.js";
import { ControlMetrics } from "../../../src/observe/control-metrics.js";
import type { Snapshot } from "../../../src/ir/types.js";
import type { Diagnostic, K8sObject, LoadedObject, StatusEntry } from "../../../src/resources/types.js";
import type { TranslateResult } from "../../../src/translator/api.js";

const quiet = pino({ level: "silent" });

function loaded(object: K8sObject, line: number): LoadedObject {
  return {
    object,
    source: { file: "routes.yaml", line, column: 1 },
    locate: (field: string) => ({ file: "routes.yaml", line: line + field.split(".").length, column: 3 }),
  };
}

function route(name: string, port: number): K8sObject {
  return { apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", metadata: { name, namespace: "default" }, spec: { port } };
}

/** Stand-in translator: one cluster per route; key order varies with the input order on purpose. */
function fakeTranslate(objects: K8sObject[], extraDiags: Diagnostic[] = [], accepted = "True"): TranslateResult {
  const clusters = objects.map((o) => {
    const port = (o.spec as { port: number }).port;
    return o.metadata.name < "m"
      ? { name: `backend/default/${o.metadata.name}/${port}`, protocol: "http1" as const, endpoints: [{ address: "127.0.0.1", port, weight: 1 }] }
      : { endpoints: [{ weight: 1, port, address: "127.0.0.1" }], protocol: "http1" as const, name: `backend/default/${o.metadata.name}/${port}` };
  });
  clusters.sort((a, b) => (a.name < b.name ? -1 : 1));
  const statuses: StatusEntry[] = objects.map((o) => ({
    ref: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", namespace: "default", name: o.metadata.name },
    status: { parents: [{ parentRef: { name: "gw" }, controllerName: "sluice.dev/gateway-controller", conditions: [{ type: "Accepted", status: accepted, reason: accepted === "True" ? "Accepted" : "NotAllowedByListeners", message: "" }] }] },
  }));
  return { config: { listeners: [], clusters }, statuses, diagnostics: extraDiags };
}

function setup(translate: (o: K8sObject[]) => TranslateResult = (o) => fakeTranslate(o)) {
  const published: Snapshot[] = [];
  const metrics = new ControlMetrics();
  const c = new ConfigController({ translate, metrics, log: quiet, publish: (s) => published.push(s) });
  return { c, published, metrics };
}

test("a new config gets version 1 and its configHash", () => {
  const { c, published } = setup();
  c.onLoad({ objects: [loaded(route("a", 1), 1)], diagnostics: [] });
  assert.equal(published.length, 1);
  assert.equal(published[0]!.version, 1);
  assert.equal(published[0]!.hash, configHash(published[0]!.config));
  assert.equal(canonicalJson(published[0]!.config), JSON.stringify(published[0]!.config));
});

test("an equal config (even with keys in another order) makes no new version", async () => {
  const { c, published, metrics } = setup();
  const objs = [loaded(route("a", 1), 1), loaded(route("z", 2), 10)];
  c.onLoad({ objects: objs, diagnostics: [] });
  c.onLoad({ objects: [...objs].reverse(), diagnostics: [] });
  c.onLoad({ objects: objs, diagnostics: [] });
  assert.equal(published.length, 1);
  assert.equal(c.snapshot?.version, 1);
  const text = await metrics.text();
  assert.match(text, /sluice_config_reloads_total\{result="unchanged"\} 2/);
  assert.match(text, /sluice_config_reloads_total\{result="success"\} 1/);
});

test("a changed config gets the next version", () => {
  const { c, published } = setup();
  c.onLoad({ objects: [loaded(route("a", 1), 1)], diagnostics: [] });
  c.onLoad({ objects: [loaded(route("a", 2), 1)], diagnostics: [] });
  assert.deepEqual(published.map((s) => s.version), [1, 2]);
  assert.notEqual(published[0]!.hash, published[1]!.hash);
});

test("a load with errors keeps the last good snapshot and reports the errors", async () => {
  const { c, published, metrics } = setup();
  c.onLoad({ objects: [loaded(route("a", 1), 1)], diagnostics: [] });
  const bad: LoadResult = {
    objects: [],
    diagnostics: [{ severity: "error", source: { file: "bad.yaml", line: 7, column: 5 }, message: "bad indentation", expected: "valid YAML" }],
  };
  c.onLoad(bad);
  assert.equal(published.length, 1);
  assert.equal(c.snapshot?.version, 1);
  assert.equal(c.errors.length, 1);
  const text = await metrics.text();
  assert.match(text, /sluice_config_reloads_total\{result="error"\} 1/);
  assert.match(text, /sluice_config_errors 1/);
  assert.match(text, /sluice_config_version 1/);
  // Fixing the folder back to the same content clears the errors without a new version.
  c.onLoad({ objects: [loaded(route("a", 1), 1)], diagnostics: [] });
  assert.equal(c.errors.length, 0);
  assert.equal(published.length, 1);
});

test("a translator that throws is reported as an error, not a crash", () => {
  const { c, published } = setup(() => {
    throw new Error("boom");
  });
  c.onLoad({ objects: [loaded(route("a", 1), 1)], diagnostics: [] });
  assert.equal(published.length, 0);
  assert.match(c.errors[0]!.message, /boom/);
});

test("translator diagnostics get the file and line of their field", () => {
  const diag: Diagnostic = {
    severity: "warning",
    ref: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", namespace: "default", name: "a" },
    field: "spec.rules[0].backendRefs[0]",
    message: "backend not found",
  };
  const { c } = setup((o) => fakeTranslate(o, [diag]));
  c.onLoad({ objects: [loaded(route("a", 1), 20)], diagnostics: [] });
  assert.deepEqual(c.diagnostics[0]!.source, { file: "routes.yaml", line: 23, column: 3 });
});

test("lastTransitionTime moves only when a condition's status or reason changes", async () => {
  let accepted = "True";
  const { c } = setup((o) => fakeTranslate(o, [], accepted));
  const time = (): string => {
    const st = c.statuses.list()[0]!.status as { parents: { conditions: { lastTransitionTime: string }[] }[] };
    return st.parents[0]!.conditions[0]!.lastTransitionTime;
  };
  c.onLoad({ objects: [loaded(route("a", 1), 1)], diagnostics: [] });
  const t1 = time();
  assert.match(t1, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  await new Promise((r) => setTimeout(r, 1100));
  c.onLoad({ objects: [loaded(route("a", 2), 1)], diagnostics: [] });
  assert.equal(time(), t1, "unchanged condition keeps its time");
  accepted = "False";
  c.onLoad({ objects: [loaded(route("a", 3), 1)], diagnostics: [] });
  assert.notEqual(time(), t1, "changed condition gets a new time");
});

test("warmUp runs the change path again on the last load without publishing; a new load or a failed one stops it", async () => {
  let calls = 0;
  const sizes: number[] = [];
  const { c, published } = setup((o) => {
    calls++;
    sizes.push(o.length);
    return fakeTranslate(o);
  });
  const load: LoadResult = { objects: [loaded(route("a", 1), 1), loaded(route("b", 2), 2)], diagnostics: [] };
  c.onLoad(load);
  const statuses = JSON.stringify(c.statuses.list());
  assert.equal(calls, 1);
  assert.equal(await c.warmUp(3), 3);
  // Each run is a change and its undoing: the load without its last route, then the load itself.
  assert.deepEqual(sizes, [2, 1, 2, 1, 2, 1, 2]);
  assert.equal(published.length, 1, "the same load publishes nothing");
  assert.equal(c.snapshot!.version, 1);
  assert.equal(JSON.stringify(c.statuses.list()), statuses, "statuses as they were");
  // A real load before the first run: the warm-up ends without running.
  const pending = c.warmUp(50);
  c.onLoad({ objects: [loaded(route("a", 1), 1), loaded(route("c", 3), 2)], diagnostics: [] });
  assert.equal(await pending, 0);
  assert.equal(published.length, 2);
  // After a load with errors there is nothing to warm up with.
  c.onLoad({ objects: [], diagnostics: [{ severity: "error", message: "broken", source: { file: "routes.yaml", line: 1, column: 1 } }] });
  assert.equal(await c.warmUp(3), 0);
});

test("warmUp with a fresh copy: each addition but the last brings the copy's new objects, the dropped route is the one it renews", async () => {
  const seen: K8sObject[][] = [];
  const { c, published } = setup((o) => {
    seen.push(o);
    return fakeTranslate(o);
  });
  const load: LoadResult = { objects: [loaded(route("a", 1), 1), loaded(route("b", 2), 2)], diagnostics: [] };
  c.onLoad(load);
  const statuses = JSON.stringify(c.statuses.list());
  let copies = 0;
  // As the file provider's rehearsal: route "a" parsed anew (an equal, new object), "b" as it was.
  const fresh = (): LoadResult => {
    copies++;
    return { objects: [{ ...load.objects[0]!, object: structuredClone(load.objects[0]!.object) }, load.objects[1]!], diagnostics: [] };
  };
  assert.equal(await c.warmUp(3, fresh), 3);
  // Drops "a" (the renewed one), not the last route.
  assert.deepEqual(seen.slice(1).map((l) => l.map((o) => o.metadata.name).join(",")), ["b", "a,b", "b", "a,b", "b", "a,b"]);
  const a = load.objects[0]!.object;
  assert.deepEqual(seen.slice(1).filter((_, i) => i % 2 === 1).map((l) => l[0] !== a), [true, true, false], "new objects, then the load's own");
  assert.equal(copies, 2, "one copy per addition but the last");
  assert.equal(published.length, 1);
  assert.equal(JSON.stringify(c.statuses.list()), statuses, "statuses as they were");
});
