import { test } from "node:test";
import assert from "node:assert/strict";
import { StatusStore } from "../../../src/control/status-store.js";
import type { K8sObject, StatusEntry } from "../../../src/resources/types.js";

const route = (name: string, ns = "default"): K8sObject => ({ apiVersion: "gateway.networking.k8s.io/v1", kind: "HTTPRoute", metadata: { name, namespace: ns } });
const entry = (o: K8sObject, reason: string): StatusEntry => ({
  ref: { group: "gateway.networking.k8s.io", kind: "HTTPRoute", namespace: o.metadata.namespace!, name: o.metadata.name },
  status: { parents: [{ parentRef: { name: "gw" }, conditions: [{ type: "Accepted", status: reason === "Accepted" ? "True" : "False", reason }] }] },
});
const t = (s: number): Date => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
const timeOf = (store: StatusStore, name: string): string => {
  const it = store.list().find((i) => i.object.metadata.name === name)!;
  return ((it.status!.parents as { conditions: { lastTransitionTime: string }[] }[])[0]!.conditions[0]!).lastTransitionTime;
};

test("statuses: sorted by kind/namespace/name, transition times move only when a condition changes, through many updates", () => {
  const store = new StatusStore();
  const objs = Array.from({ length: 150 }, (_, i) => route(`r${(i * 37) % 150}`, i % 2 ? "a" : "b"));
  const gw: K8sObject = { apiVersion: "gateway.networking.k8s.io/v1", kind: "Gateway", metadata: { name: "gw", namespace: "default" } };
  let entries = objs.map((o) => entry(o, "Accepted"));
  store.update([...objs, gw], entries, t(1));
  const sorted = (): string[] => store.list().map((i) => `${i.object.kind}/${i.object.metadata.namespace}/${i.object.metadata.name}`);
  const expect = (): string[] => [...sorted()].sort();
  assert.deepEqual(sorted(), expect());
  assert.equal(sorted()[0], "Gateway/default/gw");
  assert.equal(store.list()[0]!.status, undefined, "no status for an object the translator gave none");
  assert.equal(timeOf(store, "r5"), "2026-01-01T00:00:01Z");

  // Same statuses as new objects with the same content: times stay.
  entries = objs.map((o) => entry(o, "Accepted"));
  store.update([...objs, gw], entries, t(2));
  assert.equal(timeOf(store, "r5"), "2026-01-01T00:00:01Z");

  // r5 is refused, one route added, one removed, input order reversed: order still sorted, r5's time moves.
  const added = route("zz-new", "a");
  const next = [added, ...objs.filter((o) => o.metadata.name !== "r9")].reverse();
  const nextEntries = next.map((o) => entries.find((e) => e.ref.name === o.metadata.name && e.ref.namespace === o.metadata.namespace) ?? entry(o, "Accepted"));
  nextEntries[next.findIndex((o) => o.metadata.name === "r5")] = entry(objs.find((o) => o.metadata.name === "r5")!, "NotAllowedByListeners");
  store.update([...next, gw], nextEntries, t(3));
  assert.deepEqual(sorted(), expect());
  assert.equal(sorted().length, 151);
  assert.ok(!sorted().includes("HTTPRoute/b/r9") && !sorted().includes("HTTPRoute/a/r9"));
  assert.equal(timeOf(store, "r5"), "2026-01-01T00:00:03Z");
  assert.equal(timeOf(store, "r6"), "2026-01-01T00:00:01Z");
  assert.equal(timeOf(store, "zz-new"), "2026-01-01T00:00:03Z");

  // Back to Accepted: moves again; a removed-and-returned object starts over.
  store.update([...objs, gw], objs.map((o) => entry(o, "Accepted")), t(4));
  assert.equal(timeOf(store, "r5"), "2026-01-01T00:00:04Z");
  assert.equal(timeOf(store, "r9"), "2026-01-01T00:00:04Z");
  assert.equal(timeOf(store, "r6"), "2026-01-01T00:00:01Z");
  assert.deepEqual(sorted(), expect());
});

test("statuses: transition times are decided at each update, also when nothing lists in between", () => {
  const objs = Array.from({ length: 80 }, (_, i) => route(`r${i}`));
  const eager = new StatusStore();
  const lazy = new StatusStore();
  const reasons = ["Accepted", "NotAllowedByListeners", "Accepted", "Accepted", "NoMatchingParent", "NoMatchingParent"];
  reasons.forEach((reason, step) => {
    // r3 changes reason at some steps; r4 goes away at step 2 and comes back at step 3.
    const present = objs.filter((o) => step !== 2 || o.metadata.name !== "r4");
    const entries = present.map((o) => entry(o, o.metadata.name === "r3" ? reason : "Accepted"));
    for (const s of [eager, lazy]) s.update(present, entries, t(step + 1));
    eager.list();
  });
  assert.deepEqual(lazy.list(), eager.list());
  assert.equal(timeOf(lazy, "r3"), "2026-01-01T00:00:05Z", "moved at the update that changed it, not at the listing");
  assert.equal(timeOf(lazy, "r4"), "2026-01-01T00:00:04Z", "came back at step 3: starts over");
  assert.equal(timeOf(lazy, "r5"), "2026-01-01T00:00:01Z");
});

test("updates patched from the last one (one changed stretch) keep exactly what full updates keep", () => {
  // `patched` gets each list in order (its updates differ from the last in one stretch); `full` gets
  // it reversed every other time, which no stretch covers, so it takes the full path.
  const patched = new StatusStore();
  const full = new StatusStore();
  const rand = ((s: number) => () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32))(7);
  let objs = Array.from({ length: 400 }, (_, i) => route(`r${String(i).padStart(3, "0")}`));
  const entries = new Map<K8sObject, StatusEntry>(objs.map((o) => [o, entry(o, "Accepted")]));
  const removed: string[] = [];
  for (let step = 0; step < 120; step++) {
    const r = rand();
    const i = Math.floor(rand() * objs.length);
    if (r < 0.3) {
      const o = route(`n${step}`);
      objs.splice(i, 0, o);
      entries.set(o, entry(o, "Accepted"));
    } else if (r < 0.5 && objs.length > 1) removed.push(objs.splice(i, 1)[0]!.metadata.name);
    else if (r < 0.8) entries.set(objs[i]!, entry(objs[i]!, rand() < 0.5 ? "Accepted" : "NotAllowedByListeners"));
    else if (r < 0.9) {
      // A removed object coming back in the same update as another change: starts over.
      const name = removed.splice(Math.floor(rand() * removed.length), 1)[0];
      const o = route(name ?? `m${step}`);
      if (!objs.some((x) => x.metadata.name === o.metadata.name)) {
        objs.splice(i, 0, o);
        entries.set(o, entry(o, "Accepted"));
      }
    } else objs = objs.slice(); // nothing changed
    const list = objs.map((o) => entries.get(o)!);
    patched.update(objs, list, t(step));
    full.update(step % 2 ? [...objs].reverse() : objs, step % 2 ? [...list].reverse() : list, t(step));
    assert.deepEqual(patched.list(), full.list(), `step ${step}`);
  }
  assert.ok(patched.patches > 100, `updates patched: ${patched.patches}`);
  assert.equal(full.patches, 0, "the other store took the full path every time");
});
