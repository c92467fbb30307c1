// Weighted round robin: the smooth interleaved sequence precomputed by WeightedPicker (weighted
// random when weights are fractional, e.g. during slow start, or too large to lay out).
import { WeightedPicker } from "../weighted.js";
import type { Candidate, Picker } from "./lb-picker.js";

export class RoundRobinPicker implements Picker {
  private readonly inner: WeightedPicker<number>;

  constructor(cands: Candidate[]) {
    // Start each compiled sequence at a random offset, so workers (and rebuilt pickers) do not all
    // send their first requests to the same endpoint.
    const rot = Math.floor(Math.random() * cands.length);
    const order = cands.map((_, i) => cands[(i + rot) % cands.length]!);
    this.inner = new WeightedPicker(order.map((c) => ({ item: c.index, weight: c.weight })));
  }

  pick(): number {
    return this.inner.pick() ?? -1;
  }
}
