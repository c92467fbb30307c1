// Least request, power of two choices: two distinct endpoints drawn by weight, the one with fewer
// requests in flight per unit of weight wins. O(log n) per draw, no allocation; a slow endpoint
// piles up requests in flight and so stops being chosen while another is idle.
import type { Candidate, Loaded, Picker } from "./lb-picker.js";

export class LeastRequestPicker implements Picker {
  private readonly index: Int32Array;
  private readonly weight: Float64Array;
  private readonly cumulative: Float64Array;
  private readonly total: number;

  constructor(
    cands: Candidate[],
    private readonly endpoints: readonly Loaded[],
  ) {
    const n = cands.length;
    this.index = new Int32Array(n);
    this.weight = new Float64Array(n);
    this.cumulative = new Float64Array(n);
    let t = 0;
    for (let i = 0; i < n; i++) {
      this.index[i] = cands[i]!.index;
      this.weight[i] = cands[i]!.weight;
      t += cands[i]!.weight;
      this.cumulative[i] = t;
    }
    this.total = t;
  }

  private draw(): number {
    const r = Math.random() * this.total;
    const c = this.cumulative;
    let lo = 0;
    let hi = c.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (r < c[mid]!) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  pick(): number {
    const n = this.index.length;
    const a = this.draw();
    if (n === 1) return this.index[0]!;
    let b = this.draw();
    // Two distinct choices: with two endpoints the idle one is always compared with the busy one.
    for (let tries = 0; b === a && tries < 3; tries++) b = this.draw();
    if (b === a) b = (a + 1) % n;
    const la = (this.endpoints[this.index[a]!]!.active + 1) / this.weight[a]!;
    const lb = (this.endpoints[this.index[b]!]!.active + 1) / this.weight[b]!;
    return this.index[lb < la ? b : a]!;
  }
}
