import { test } from "node:test";
import assert from "node:assert/strict";
import { CanonicalTextCache } from "../../../src/control/config-text.js";
import { canonicalJson, sha256Hex } from "../../../src/util/canonical-json.js";

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

function value(rand: () => number, depth: number): unknown {
  const r = rand();
  if (depth > 3 || r < 0.3) return [null, 0, -1.5, "a\"b", "ü", true, false, undefined, 1e21][Math.floor(rand() * 9)];
  if (r < 0.6) return Array.from({ length: Math.floor(rand() * 4) }, () => value(rand, depth + 1));
  const o: Record<string, unknown> = {};
  for (let i = Math.floor(rand() * 5); i > 0; i--) o[["b", "a", "ab", "Z", "é", "a1", "_"][Math.floor(rand() * 7)]!] = value(rand, depth + 1);
  return o;
}

test("cached canonical text equals canonicalJson, with and without shared parts, on every call", () => {
  const rand = rng(5);
  for (let i = 0; i < 300; i++) {
    const v = { v: value(rand, 0) };
    const shared = new WeakSet<object>();
    // Mark some nested canonical objects as shared, the way the translator's memo does.
    const c = new CanonicalTextCache((o) => shared.has(o));
    const canon = c.canonical(v);
    const walk = (x: unknown): void => {
      if (x && typeof x === "object") {
        if (rand() < 0.3) shared.add(x);
        for (const y of Object.values(x)) walk(y);
      }
    };
    walk(canon);
    const want = canonicalJson(v);
    assert.equal(c.text(canon), want);
    assert.equal(c.text(canon), want, "second call, from the cache");
    // (Integer-like keys would be reordered by any JS object; the IR has none.)
    assert.equal(JSON.stringify(canon), want, "canonical() has sorted keys and no undefined members");
  }
});

test("a shared object is taken as it is: its text is cached by identity", () => {
  const shared = { b: 1, a: 2 };
  const c = new CanonicalTextCache((o) => o === shared);
  assert.equal(c.canonical({ x: shared }).x, shared);
  assert.equal(c.text({ x: shared }), '{"x":{"a":2,"b":1}}');
  shared.b = 5; // a shared object must never change; if it does, the cached text shows it
  assert.equal(c.text({ x: shared }), '{"x":{"a":2,"b":1}}');
});

test("hash() equals sha256 of canonicalJson through inserts, removals and reorders of a long array of shared objects", () => {
  const rand = rng(11);
  const shared = new WeakSet<object>();
  const c = new CanonicalTextCache((o) => shared.has(o));
  const make = (i: number): Record<string, unknown> => {
    const o = c.canonical({ hostname: `h${i}`, routes: [{ name: `r${i}`, w: i % 3 }], z: i % 5 === 0 ? undefined : "x" });
    if (rand() < 0.9) shared.add(o); // most virtual hosts are shared; a few are new each time
    return o;
  };
  // Non-object elements too (a string, null), which are fed as they are between runs.
  let list: unknown[] = Array.from({ length: 400 }, (_, i) => make(i));
  let next = 400;
  for (let step = 0; step < 60; step++) {
    const r = rand();
    if (r < 0.4) list.splice(Math.floor(rand() * list.length), 0, make(next++));
    else if (r < 0.7) list.splice(Math.floor(rand() * list.length), 1);
    else if (r < 0.8) list = [...list].reverse();
    else if (r < 0.9) list = list.slice(0, 40);
    else list.push(make(next++), "tail", null);
    const config = { listeners: [{ name: "l", virtualHosts: [...list] }], clusters: [], extra: undefined };
    assert.equal(c.hash(config), sha256Hex(canonicalJson(config)), `step ${step}`);
    assert.equal(c.text(config), canonicalJson(config), `step ${step}`);
  }
});

test("canonical() of a long array across calls: shared elements kept by identity, the rest copied fresh, through inserts, removals, replacements, reorders and in-place changes", () => {
  const rand = rng(23);
  const shared = new WeakSet<object>();
  const c = new CanonicalTextCache((o) => shared.has(o));
  const make = (i: number): Record<string, unknown> => {
    const o = { z: i % 3, hostname: `h${i}`, gone: undefined };
    if (rand() < 0.8) shared.add(o); // shared objects are canonical already in real use; these are not, which shows a copy
    return o;
  };
  let list: unknown[] = Array.from({ length: 300 }, (_, i) => make(i));
  let next = 300;
  let kept = 0;
  for (let step = 0; step < 80; step++) {
    const r = rand();
    if (r < 0.25) list.splice(Math.floor(rand() * list.length), 0, make(next++));
    else if (r < 0.45) list.splice(Math.floor(rand() * list.length), 1);
    else if (r < 0.6) list[Math.floor(rand() * list.length)] = make(next++);
    else if (r < 0.7) {
      // An element that is not shared may change between calls (the same object): it is copied again.
      const i = list.findIndex((x) => x !== null && typeof x === "object" && !shared.has(x));
      if (i >= 0) (list[i] as Record<string, unknown>).z = `changed ${step}`;
    } else if (r < 0.75) list = [...list].reverse();
    else if (r < 0.8) list = list.slice(0, 70);
    else if (r < 0.85) list.push(...Array.from({ length: 200 }, () => make(next++)));
    else list.push(make(next++), "tail", null, 7);
    const input = [...list];
    const out = c.canonical({ b: input, a: [...input] }) as { a: unknown[]; b: unknown[] };
    for (const got of [out.a, out.b]) {
      assert.equal(got.length, input.length, `step ${step}`);
      input.forEach((x, i) => {
        if (x !== null && typeof x === "object" && shared.has(x)) {
          assert.equal(got[i], x, `step ${step}: shared element ${i} taken as it is`);
          kept++;
        } else assert.equal(JSON.stringify(got[i]), canonicalJson(x), `step ${step}: element ${i} copied in canonical form`);
      });
    }
  }
  assert.ok(kept > 10000, `shared elements seen: ${kept}`);
});
