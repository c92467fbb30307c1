import { test } from "node:test";
import assert from "node:assert/strict";
import { canonicalObject, GenerationTracker } from "../../../src/providers/file/generations.js";
import { canonicalJson } from "../../../src/util/canonical-json.js";
import type { LoadedObject } from "../../../src/resources/types.js";

const objects: Record<string, unknown>[] = [
  { kind: "HTTPRoute", apiVersion: "gateway.networking.k8s.io/v1", metadata: { name: "r", namespace: "x", labels: { b: "1", a: "2" } }, spec: { rules: [{ z: 1, a: [null, "s"] }] }, status: { parents: [] } },
  { metadata: { name: "n" }, apiVersion: "v1", kind: "Namespace", extra: undefined },
  { apiVersion: "v1", kind: "Service", metadata: { name: "s" }, spec: { "quote\"key": "é\n", ports: [{ port: 80, name: undefined }] }, data: 3 },
];

test("canonicalObject is canonicalJson of the object, and of it without metadata and status", () => {
  for (const o of objects) {
    const { metadata: _m, status: _s, ...rest } = o;
    assert.deepEqual(canonicalObject(o), { full: canonicalJson(o), spec: canonicalJson(rest) });
  }
});

test("generations counted from precomputed spec JSON equal those computed by the tracker itself", () => {
  const load = (port: number): LoadedObject[] =>
    objects.map((o, i) => {
      const object = structuredClone({ ...o, spec: i === 2 ? { ports: [{ port }] } : o.spec }) as unknown as LoadedObject["object"];
      return { object, source: { file: "f", line: 1, column: 1 }, locate: () => ({ file: "f", line: 1, column: 1 }) };
    });
  const a = new GenerationTracker();
  const b = new GenerationTracker();
  for (const port of [80, 80, 81, 82, 82]) {
    const la = load(port);
    const lb = load(port);
    a.stamp(la);
    b.stamp(lb, lb.map((o) => canonicalObject(o.object).spec));
    assert.deepEqual(la.map((o) => o.object.metadata.generation), lb.map((o) => o.object.metadata.generation));
  }
  const last = load(82);
  b.stamp(last, last.map((o) => canonicalObject(o.object).spec));
  assert.deepEqual(last.map((o) => o.object.metadata.generation), [1, 1, 3]);
});

test("canonicalJson equals JSON.stringify of a key-sorted copy, undefined members dropped", () => {
  const sorted = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(sorted) : v !== null && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().filter((k) => (v as Record<string, unknown>)[k] !== undefined).map((k) => [k, sorted((v as Record<string, unknown>)[k])])) : v;
  for (const v of [null, 1, "x", [3, undefined, { b: 1, a: [null, "é"] }], { z: { y: undefined, x: NaN }, a: true, "k\"q": [] }]) {
    assert.equal(canonicalJson(v), JSON.stringify(sorted(v)));
  }
});
