// Weighted random: a binary search over cumulative weights (no call boundary for the random double,
// so V8 keeps it unboxed).
import type { Candidate, Picker } from "./lb-picker.js";

export class RandomPicker implements Picker {
  private readonly index: Int32Array;
  private readonly cumulative: Float64Array;
  private readonly total: number;

  constructor(cands: Candidate[]) {
    const n = cands.length;
    this.index = new Int32Array(n);
    this.cumulative = new Float64Array(n);
    let t = 0;
    for (let i = 0; i < n; i++) {
      this.index[i] = cands[i]!.index;
      t += cands[i]!.weight;
      this.cumulative[i] = t;
    }
    this.total = t;
  }

  pick(): number {
    const r = Math.random() * this.total;
    const c = this.cumulative;
    let lo = 0;
    let hi = c.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (r < c[mid]!) hi = mid;
      else lo = mid + 1;
    }
    return this.index[lo]!;
  }
}
