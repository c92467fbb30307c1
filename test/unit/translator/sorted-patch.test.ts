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

test("walking the inputs: moves, replacements and an item given twice give what a full sort gives", () => {
  const rand = rng(11);
  const cmp = (a: It, b: It): number => a.k - b.k;
  const patch = new SortedPatch<It>();
  let tag = 0;
  let items: It[] = Array.from({ length: 200 }, () => ({ k: Math.floor(rand() * 1e6), tag: tag++ }));
  const ways = new Set<string>();
  let walks = 0;
  for (let step = 0; step < 300; step++) {
    items = items.slice();
    const r = rand();
    const at = Math.floor(rand() * items.length);
    if (r < 0.3) items.splice(at, 0, ...items.splice(Math.floor(rand() * items.length), 1 + Math.floor(rand() * 3))); // a run moves
    else if (r < 0.55) items[at] = { k: Math.floor(rand() * 1e6), tag: tag++ }; // replaced in place
    else if (r < 0.65) items.splice(at, 0, items[Math.floor(rand() * items.length)]!); // the same item twice
    else if (r < 0.75) items = items.filter((x, i, all) => all.indexOf(x) === i); // duplicates gone again
    else if (r < 0.9) items.splice(at, Math.floor(rand() * 12)); // a run leaves
    else for (let n = 1 + Math.floor(rand() * 10); n > 0; n--) items.splice(Math.floor(rand() * items.length), 0, { k: Math.floor(rand() * 1e6), tag: tag++ });
    if (items.length < 100) for (let n = 0; n < 50; n++) items.push({ k: Math.floor(rand() * 1e6), tag: tag++ });
    const want = [...items].sort(cmp);
    assert.deepEqual(patch.sort(items, cmp).map((x) => x.tag), want.map((x) => x.tag), `step ${step}`);
    ways.add(patch.lastWay);
    if (patch.lastWay === "walk") walks++;
  }
  assert.ok(ways.has("walk") && ways.has("full"), [...ways].join(","));
  assert.ok(walks > 80, `many steps patched by walking the inputs (${walks} of 300)`);
});

test("a comparator that is not a total order still gives what a full sort gives", () => {
  const patch = new SortedPatch<string>();
  const cmp = (a: string, b: string): number => a.length - b.length;
  let items = Array.from({ length: 100 }, (_, i) => `x${i}`);
  assert.deepEqual(patch.sort(items, cmp), [...items].sort(cmp));
  items = [...items, "y1", "zz99"];
  assert.deepEqual(patch.sort(items, cmp), [...items].sort(cmp));
});
