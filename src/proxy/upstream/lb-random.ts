// Weighted random: a binary search over cumulative weights.
import { cumulativeOf, slotAt } from "./lb-cumulative.js";
import type { Candidate, Picker } from "./lb-picker.js";

export class RandomPicker implements Picker {
  private readonly index: Int32Array;
  private readonly cumulative: Float64Array;
  private readonly total: number;

  constructor(cands: Candidate[]) {
    const c = cumulativeOf(cands);
    this.index = c.index;
    this.cumulative = c.cumulative;
    this.total = c.total;
  }

  pick(): number {
    return this.index[slotAt(this.cumulative, Math.random() * this.total)]!;
  }
}
