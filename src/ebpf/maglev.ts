// Maglev consistent hashing (Eisenbud et al., NSDI 2016): a lookup table of prime size M whose
// entries name backends. Each backend walks its own permutation of 0..M-1 (offset + j*skip mod M,
// both derived from the backend's key only) and claims the next free entry of its permutation in
// turn. Because a backend's preferences do not depend on the others, adding or removing one moves
// only about 1/N of the entries, so a flow hashed to an entry usually keeps its backend.
//
// Weights: each round a backend earns weight/maxWeight credit and claims one entry per whole
// credit, so entry counts come out proportional to weights (fractional weights allowed).
// Pure and deterministic: same backends (keys and weights) and size -> the same table.
import { fnv1a } from "../util/fnv.js";

export interface MaglevBackend {
  /** Stable identity of the backend (e.g. "10.0.0.1:8080"); its permutation derives from it. */
  key: string;
  /** > 0; entries with weight <= 0 get no share. */
  weight: number;
}

/** Table sizes must be prime so that every skip value walks all entries. */
export const DEFAULT_TABLE_SIZE = 16381;

export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n % 2 === 0) return n === 2;
  for (let d = 3; d * d <= n; d += 2) if (n % d === 0) return false;
  return true;
}

/** 32-bit FNV-1a with a final avalanche, seeded; stable across processes and platforms. */
export function hash32(s: string, seed: number): number {
  let h = fnv1a(s, 0x811c9dc5 ^ seed);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

const OFFSET_SEED = 0x2545f491;
const SKIP_SEED = 0x9e3779b9;

/**
 * Builds the table: entry i holds the index (into `backends`) of the backend owning it, or -1 when
 * no backend has a positive weight. Throws when `size` is not prime or is smaller than the number
 * of backends with weight.
 */
export function buildMaglevTable(backends: readonly MaglevBackend[], size: number = DEFAULT_TABLE_SIZE): Int32Array {
  if (!isPrime(size)) throw new Error(`Maglev table size ${size} is not prime`);
  const table = new Int32Array(size).fill(-1);
  const live: number[] = [];
  backends.forEach((b, i) => {
    if (b.weight > 0 && Number.isFinite(b.weight)) live.push(i);
  });
  // Claim turns go in key order, so the table depends on the set of backends, not their order.
  live.sort((a, b) => (backends[a]!.key < backends[b]!.key ? -1 : backends[a]!.key > backends[b]!.key ? 1 : 0));
  if (live.length === 0) return table;
  if (live.length > size) throw new Error(`Maglev table size ${size} is smaller than the ${live.length} backends`);
  const seen = new Set<string>();
  for (const i of live) {
    const k = backends[i]!.key;
    if (seen.has(k)) throw new Error(`Maglev backend key ${k} appears twice`);
    seen.add(k);
  }
  const n = live.length;
  const offset = new Float64Array(n);
  const skip = new Float64Array(n);
  const next = new Float64Array(n); // j: how far along its permutation each backend is
  const credit = new Float64Array(n);
  const share = new Float64Array(n);
  const maxWeight = Math.max(...live.map((i) => backends[i]!.weight));
  live.forEach((bi, x) => {
    const b = backends[bi]!;
    offset[x] = hash32(b.key, OFFSET_SEED) % size;
    skip[x] = (hash32(b.key, SKIP_SEED) % (size - 1)) + 1;
    share[x] = b.weight / maxWeight;
  });
  let filled = 0;
  // Each round, every backend with a whole credit claims one entry; the heaviest claims every round,
  // so the loop ends within about size rounds.
  while (filled < size) {
    for (let x = 0; x < n && filled < size; x++) {
      credit[x]! += share[x]!;
      if (credit[x]! < 1 - 1e-9) continue;
      credit[x]! -= 1;
      // Walk this backend's permutation to its next free entry. Entries are (offset + j*skip) mod M,
      // computed in doubles: offset, skip < M <= 2^31 and j < M keep every product exact.
      let c = (offset[x]! + next[x]! * skip[x]!) % size;
      while (table[c] !== -1) {
        next[x]!++;
        c = (offset[x]! + next[x]! * skip[x]!) % size;
      }
      table[c] = live[x]!;
      next[x]!++;
      filled++;
    }
  }
  return table;
}

/** How many entries each backend index owns (for checks and `sluice doctor`). */
export function tableShares(table: Int32Array, backends: number): number[] {
  const counts = new Array<number>(backends).fill(0);
  for (const v of table) if (v >= 0) counts[v]!++;
  return counts;
}
