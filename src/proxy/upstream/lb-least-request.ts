// Least request, power of two choices: two distinct endpoints drawn by weight, the one with fewer
// requests in flight per unit of weight wins. O(log n) per draw, no allocation; a slow endpoint
// piles up requests in flight and so stops being chosen while another is idle.
import { cumulativeOf, slotAt } from "./lb-cumulative.js";
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
    const c = cumulativeOf(cands);
    this.index = c.index;
    this.weight = c.weight;
    this.cumulative = c.cumulative;
    this.total = c.total;
  }

  private draw(): number {
    return slotAt(this.cumulative, Math.random() * this.total);
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
