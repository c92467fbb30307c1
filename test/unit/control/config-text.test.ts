import { test } from "node:test";
import assert from "node:assert/strict";
import { CanonicalTextCache } from "../../../src/control/config-text.js";
import { canonicalJson, CHUNKED_ARRAY, configHash, sha256Hex } from "../../../src/util/canonical-json.js";

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

test("hash() equals configHash through inserts, removals, reorders and growth of long arrays of shared objects, with the chunk cache warm", () => {
  const rand = rng(11);
  const shared = new WeakSet<object>();
  const c = new CanonicalTextCache((o) => shared.has(o));
  const make = (i: number): Record<string, unknown> => {
    const o = c.canonical({ hostname: `h${i}`, routes: [{ name: `r${i}`, w: i % 3 }], z: i % 5 === 0 ? undefined : "x" });
    if (rand() < 0.9) shared.add(o); // most virtual hosts are shared; a few are new each time
    return o;
  };
  // Non-object elements too (a string, null), which have no identity to keep a chunk by.
  let list: unknown[] = Array.from({ length: 400 }, (_, i) => make(i));
  let next = 400;
  // A shared object holding a long array: its text for the hash has the array's chunk digests.
  const holder = c.canonical({ name: "holder", items: Array.from({ length: 50 }, (_, i) => ({ i })) });
  shared.add(holder);
  for (let step = 0; step < 80; step++) {
    const r = rand();
    if (r < 0.35) list.splice(Math.floor(rand() * list.length), 0, make(next++));
    else if (r < 0.6) list.splice(Math.floor(rand() * list.length), 1);
    else if (r < 0.7) list = [...list].reverse();
    else if (r < 0.8) list = list.slice(0, 40);
    // Growth at the end: the last chunk, cut by the array's end before, goes on.
    else if (r < 0.9) list.push(make(next++));
    else list.push(make(next++), "tail", null);
    const config = { listeners: [{ name: "l", virtualHosts: [...list] }], clusters: [], extra: undefined, holder };
    assert.equal(c.hash(config), configHash(config), `step ${step}`);
    assert.equal(c.text(config), canonicalJson(config), `step ${step}`);
  }
});

test("configHash: equal content hashes alike whatever was shared or cached before; short arrays hash as plain canonical JSON", () => {
  const rand = rng(7);
  const build = (n: number, changed: number): unknown => ({ vhosts: Array.from({ length: n }, (_, i) => ({ hostname: `h${i}`, w: i === changed ? "new" : i % 4 })) });
  const a = new CanonicalTextCache(() => false);
  const sharedB = new WeakSet<object>();
  const b = new CanonicalTextCache((o) => sharedB.has(o));
  for (let step = 0; step < 20; step++) {
    const n = 20 + Math.floor(rand() * 300);
    const changed = Math.floor(rand() * n);
    const x = b.canonical(build(n, changed)) as { vhosts: object[] };
    for (const vh of x.vhosts) if (rand() < 0.7) sharedB.add(vh);
    const want = configHash(build(n, changed));
    assert.equal(a.hash(build(n, changed)), want, `step ${step}: nothing shared`);
    assert.equal(b.hash(x), want, `step ${step}: some shared`);
    assert.equal(b.hash(x), want, `step ${step}: again, from the caches`);
    if (n < CHUNKED_ARRAY) assert.equal(want, sha256Hex(canonicalJson(x)));
    else assert.notEqual(want, sha256Hex(canonicalJson(x)));
  }
  // Different content, different hash; a change in one element of a long array changes the hash.
  assert.notEqual(configHash(build(100, 5)), configHash(build(100, 6)));
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
