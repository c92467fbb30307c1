// Maglev table properties: full coverage, weighted shares, minimal disruption, determinism.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildMaglevTable, isPrime, tableShares, type MaglevBackend } from "../../../src/ebpf/maglev.js";

const M = 65537;
const backendsN = (n: number, weight = 1): MaglevBackend[] => Array.from({ length: n }, (_, i) => ({ key: `10.0.${i >> 8}.${i & 255}:8080`, weight }));

/** Share of entries whose backend key differs between two tables. */
function moved(a: Int32Array, ab: MaglevBackend[], b: Int32Array, bb: MaglevBackend[]): { moved: number; movedAmongKept: number } {
  let m = 0;
  let kept = 0;
  let keptMoved = 0;
  const bKeys = new Set(bb.map((x) => x.key));
  for (let i = 0; i < a.length; i++) {
    const ka = ab[a[i]!]!.key;
    const kb = bb[b[i]!]!.key;
    if (ka !== kb) m++;
    if (bKeys.has(ka)) {
      kept++;
      if (ka !== kb) keptMoved++;
    }
  }
  return { moved: m / a.length, movedAmongKept: keptMoved / kept };
}

test("isPrime", () => {
  assert.deepEqual([2, 3, 5, 7, 11, 13, 251, 16381, 65537].map(isPrime), Array(9).fill(true));
  assert.deepEqual([0, 1, 4, 9, 15, 255, 65536, 16383, 2.5].map(isPrime), Array(9).fill(false));
});

test("every entry is filled and equal weights get near-equal shares", () => {
  for (const n of [1, 2, 3, 7, 10, 100]) {
    const bs = backendsN(n);
    const t = buildMaglevTable(bs, M);
    assert.equal(t.length, M);
    assert.ok(t.every((v) => v >= 0 && v < n), `n=${n}: every entry names a backend`);
    const shares = tableShares(t, n);
    const ideal = M / n;
    // Maglev's guarantee: with the heaviest claiming each round, shares differ by at most a round's worth.
    for (const s of shares) assert.ok(Math.abs(s - ideal) <= 1, `n=${n}: share ${s} vs ${ideal.toFixed(1)}`);
  }
});

test("weighted shares follow the weights (integer and fractional)", () => {
  const cases: number[][] = [
    [1, 2, 3],
    [80, 20],
    [1, 1, 8],
    [0.25, 0.5, 0.25],
    [5, 0, 5], // weight 0: no share
  ];
  for (const ws of cases) {
    const bs = ws.map((w, i) => ({ key: `b${i}`, weight: w }));
    const t = buildMaglevTable(bs, 16381);
    const shares = tableShares(t, ws.length);
    const total = ws.reduce((a, b) => a + b, 0);
    ws.forEach((w, i) => {
      const want = (w / total) * t.length;
      assert.ok(Math.abs(shares[i]! - want) <= Math.max(2, want * 0.005), `weights ${ws}: backend ${i} has ${shares[i]}, want ~${want.toFixed(1)}`);
    });
  }
});

test("deterministic and independent of input order", () => {
  const bs = backendsN(9).map((b, i) => ({ ...b, weight: 1 + (i % 3) }));
  const a = buildMaglevTable(bs, 4099);
  const b = buildMaglevTable(bs, 4099);
  assert.deepEqual(a, b);
  const rev = [...bs].reverse();
  const c = buildMaglevTable(rev, 4099);
  // Same key in every entry (indices differ because the list is reversed).
  for (let i = 0; i < a.length; i++) assert.equal(bs[a[i]!]!.key, rev[c[i]!]!.key, `entry ${i}`);
});

test("removing a backend moves about its own share; surviving backends keep nearly all entries", () => {
  const before = backendsN(10);
  const t0 = buildMaglevTable(before, M);
  const after = before.filter((_, i) => i !== 4);
  const t1 = buildMaglevTable(after, M);
  const r = moved(t0, before, t1, after);
  // Entries of the removed backend (1/10) must move; the paper measures a few % extra churn.
  assert.ok(r.moved >= 0.099 && r.moved < 0.14, `moved ${r.moved}`);
  assert.ok(r.movedAmongKept < 0.02, `entries of surviving backends that moved: ${r.movedAmongKept}`);
  // The removed backend's entries are spread over the survivors, none is left pointing at it.
  assert.ok(t1.every((v) => after[v]!.key !== "10.0.0.4:8080"));
});

test("adding a backend takes about 1/(N+1) of the entries and moves little else", () => {
  const before = backendsN(10);
  const t0 = buildMaglevTable(before, M);
  const after = [...before, { key: "10.0.9.9:8080", weight: 1 }];
  const t1 = buildMaglevTable(after, M);
  const r = moved(t0, before, t1, after);
  const newShare = tableShares(t1, after.length)[10]! / M;
  assert.ok(Math.abs(newShare - 1 / 11) < 0.002, `new backend share ${newShare}`);
  assert.ok(r.moved < newShare + 0.02, `moved ${r.moved}, of which ${newShare} to the new backend`);
  // A plain modulo scheme (hash % N) would move ~10/11 of the entries: Maglev must be far below.
  assert.ok(r.moved < 0.15);
});

test("changing one backend's weight disturbs the others little", () => {
  const before = backendsN(5);
  const after = before.map((b, i) => (i === 0 ? { ...b, weight: 2 } : b));
  const t0 = buildMaglevTable(before, 16381);
  const t1 = buildMaglevTable(after, 16381);
  const shares = tableShares(t1, 5);
  assert.ok(Math.abs(shares[0]! / 16381 - 2 / 6) < 0.01, `weighted share ${shares[0]}`);
  const r = moved(t0, before, t1, after);
  assert.ok(r.moved < 0.3, `moved ${r.moved}`);
});

test("no live backend -> every entry is -1; bad sizes and duplicate keys are refused", () => {
  assert.ok(buildMaglevTable([], 7).every((v) => v === -1));
  assert.ok(buildMaglevTable([{ key: "a", weight: 0 }], 7).every((v) => v === -1));
  assert.throws(() => buildMaglevTable(backendsN(2), 1000), /not prime/);
  assert.throws(() => buildMaglevTable(backendsN(8), 7), /smaller than/);
  assert.throws(() => buildMaglevTable([{ key: "a", weight: 1 }, { key: "a", weight: 2 }], 7), /twice/);
});

test("a 65537 table builds quickly", () => {
  const t0 = performance.now();
  buildMaglevTable(backendsN(200), M);
  const ms = performance.now() - t0;
  assert.ok(ms < 2000, `${ms} ms`);
});
