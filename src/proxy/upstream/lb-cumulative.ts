// Cumulative weights of a picker's candidates and the slot a point of 0..total falls in (binary
// search). Small enough for V8 to inline, so the random double stays unboxed in the callers.
import type { Candidate } from "./lb-picker.js";

export interface Cumulative {
  /** Slot -> endpoint index. */
  index: Int32Array;
  /** Slot -> weight. */
  weight: Float64Array;
  /** Slot -> sum of the weights up to and including it. */
  cumulative: Float64Array;
  total: number;
}

export function cumulativeOf(cands: Candidate[]): Cumulative {
  const n = cands.length;
  const index = new Int32Array(n);
  const weight = new Float64Array(n);
  const cumulative = new Float64Array(n);
  let t = 0;
  for (let i = 0; i < n; i++) {
    index[i] = cands[i]!.index;
    weight[i] = cands[i]!.weight;
    t += cands[i]!.weight;
    cumulative[i] = t;
  }
  return { index, weight, cumulative, total: t };
}

/** The first slot whose cumulative weight exceeds r (the last one when none does). */
export function slotAt(c: Float64Array, r: number): number {
  let lo = 0;
  let hi = c.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (r < c[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
