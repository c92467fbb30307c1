// Weighted choice precomputed at snapshot time: a smooth weighted round-robin sequence when the
// (gcd-reduced) total weight is small, weighted random over cumulative weights otherwise.
import { slotAt } from "./upstream/lb-cumulative.js";

const MAX_SEQUENCE = 4096;

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

export class WeightedPicker<T> {
  private readonly seq: T[] | null = null;
  private readonly items: T[];
  /** Null for fewer than two items (nothing to search): most routes have one backend. */
  private readonly cumulative: Float64Array | null = null;
  private readonly total: number;
  private next = 0;

  constructor(entries: { item: T; weight: number }[]) {
    const live = entries.filter((e) => e.weight > 0);
    this.items = live.map((e) => e.item);
    this.total = live.reduce((t, e) => t + e.weight, 0);
    if (live.length <= 1) {
      // One item: the sequence is the items list itself.
      if (live.length === 1) this.seq = this.items;
      return;
    }
    const cumulative = new Float64Array(live.length);
    let t = 0;
    live.forEach((e, i) => {
      t += e.weight;
      cumulative[i] = t;
    });
    this.cumulative = cumulative;
    const ints = live.every((e) => Number.isInteger(e.weight));
    if (!ints) return;
    const g = live.reduce((acc, e) => gcd(acc, e.weight), 0);
    const weights = live.map((e) => e.weight / g);
    const sum = weights.reduce((a, b) => a + b, 0);
    if (sum > MAX_SEQUENCE) return;
    // Smooth weighted round robin (nginx's): interleaves picks instead of bursts per item.
    const current = weights.map(() => 0);
    const seq: T[] = [];
    for (let n = 0; n < sum; n++) {
      let best = 0;
      for (let i = 0; i < weights.length; i++) {
        current[i]! += weights[i]!;
        if (current[i]! > current[best]!) best = i;
      }
      current[best]! -= sum;
      seq.push(live[best]!.item);
    }
    this.seq = seq;
  }

  get size(): number {
    return this.items.length;
  }

  pick(): T | null {
    const seq = this.seq;
    if (seq !== null) {
      const v = seq[this.next]!;
      this.next = this.next + 1 === seq.length ? 0 : this.next + 1;
      return v;
    }
    return this.pickAt(Math.random());
  }

  /** The item at `r` (0..1) of the cumulative weights: weighted random, or a stable choice for a hash. */
  pickAt(unit: number): T | null {
    const c = this.cumulative;
    if (c === null) return this.items.length === 0 ? null : this.items[0]!;
    return this.items[slotAt(c, unit * this.total)]!;
  }
}
