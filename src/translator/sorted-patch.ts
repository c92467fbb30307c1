// Keeps a sorted list across calls and patches it when the items barely changed: last time's order
// minus what left, plus binary insertion of what arrived. Patching is only done on a list known to be
// strictly increasing under cmp and keeps it so (each arrival is checked against its neighbours), so
// the result is the one sorted order, what a full sort gives; otherwise (ties, many arrivals) the
// list is sorted in full. A change costs O(n) identity checks and O(k log n) comparisons instead of
// O(n log n) comparisons. cmp must be a consistent order (as Array.prototype.sort needs too).
export class SortedPatch<T> {
  private prev: T[] | null = null;
  /** prev is strictly increasing under the comparator it was sorted with. */
  private strict = false;

  /** Items sorted by cmp (a new array; callers may change it). Items are compared by identity for the patch. */
  sort(items: readonly T[], cmp: (a: T, b: T) => number): T[] {
    let out = this.patch(items, cmp);
    if (out) this.strict = true;
    else {
      out = [...items].sort(cmp);
      this.strict = isStrict(out, cmp);
    }
    this.prev = out.slice();
    return out;
  }

  private patch(items: readonly T[], cmp: (a: T, b: T) => number): T[] | null {
    const prev = this.prev;
    // A strictly increasing list stays so when items leave; arrivals are checked against their neighbours.
    if (!prev || !this.strict || items.length < 64) return null;
    const want = new Set(items);
    if (want.size !== items.length) return null;
    const out = prev.filter((x) => want.has(x));
    const added = items.length - out.length;
    if (added > 16) return null;
    if (added > 0) {
      const have = new Set(out);
      for (const x of items) {
        if (have.has(x)) continue;
        let lo = 0;
        let hi = out.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (cmp(out[mid]!, x) < 0) lo = mid + 1;
          else hi = mid;
        }
        // Equal to its successor: a tie, which only a full (stable) sort decides.
        if (lo < out.length && cmp(x, out[lo]!) >= 0) return null;
        out.splice(lo, 0, x);
      }
    }
    return out;
  }
}

function isStrict<T>(list: readonly T[], cmp: (a: T, b: T) => number): boolean {
  for (let i = 1; i < list.length; i++) if (cmp(list[i - 1]!, list[i]!) >= 0) return false;
  return true;
}
