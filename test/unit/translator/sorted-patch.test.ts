import { test } from "node:test";
import assert from "node:assert/strict";
import { SortedPatch } from "../../../src/translator/sorted-patch.js";

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

interface It {
  k: number;
  tag: number;
}

test("patched order equals a full stable sort through random adds, removals and reorders, ties included", () => {
  const rand = rng(7);
  const cmp = (a: It, b: It): number => a.k - b.k;
  const patch = new SortedPatch<It>();
  let items: It[] = [];
  let tag = 0;
  // Few distinct keys early on (ties: the full sort must decide), then mostly distinct ones.
  for (let i = 0; i < 300; i++) items.push({ k: i < 40 ? i % 5 : Math.floor(rand() * 1e6), tag: tag++ });
  let patched = 0;
  for (let step = 0; step < 200; step++) {
    const r = rand();
    if (r < 0.35) for (let n = Math.floor(rand() * 20); n > 0; n--) items.push({ k: Math.floor(rand() * 1e6), tag: tag++ });
    else if (r < 0.7) for (let n = Math.floor(rand() * 5); n > 0 && items.length > 70; n--) items.splice(Math.floor(rand() * items.length), 1);
    else if (r < 0.8) items = [...items].reverse();
    else if (r < 0.85) items.push({ k: items[0]!.k, tag: tag++ }); // a tie with an existing item
    if (step === 100) items = items.filter((x) => x.tag >= 40); // the early ties leave
    const want = [...items].sort(cmp);
    const got = patch.sort(items, cmp);
    assert.deepEqual(got.map((x) => x.tag), want.map((x) => x.tag), `step ${step}`);
    got.reverse(); // callers may change what they get
    if (step > 100) patched++;
  }
  assert.ok(patched > 0);
});

test("a comparator that is not a total order still gives what a full sort gives", () => {
  const patch = new SortedPatch<string>();
  const cmp = (a: string, b: string): number => a.length - b.length;
  let items = Array.from({ length: 100 }, (_, i) => `x${i}`);
  assert.deepEqual(patch.sort(items, cmp), [...items].sort(cmp));
  items = [...items, "y1", "zz99"];
  assert.deepEqual(patch.sort(items, cmp), [...items].sort(cmp));
});
