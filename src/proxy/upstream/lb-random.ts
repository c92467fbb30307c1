// Weighted random: a binary search over cumulative weights.
import { WeightedPicker } from "../weighted.js";
import type { Candidate, Picker } from "./lb-picker.js";

export class RandomPicker implements Picker {
  private readonly inner: WeightedPicker<number>;

  constructor(cands: Candidate[]) {
    this.inner = new WeightedPicker(cands.map((c) => ({ item: c.index, weight: c.weight })));
  }

  pick(): number {
    return this.inner.pickAt(Math.random()) ?? -1;
  }
}
