// Keeps a sorted list across calls and patches it when the items barely changed: last time's order
// minus what left, plus binary insertion of what arrived. The result is checked to be strictly
// increasing under cmp, so it is the one sorted order (what a full sort gives); when it is not (ties,
// many arrivals, an order that is not total) the list is sorted in full. A change costs about
// O(n) identity checks instead of O(n log n) comparisons.
export class SortedPatch<T> {
  private prev: T[] | null = null;

  /** Items sorted by cmp (a new array; callers may change it). Items are compared by identity for the patch. */
  sort(items: readonly T[], cmp: (a: T, b: T) => number): T[] {
    const out = this.patch(items, cmp) ?? [...items].sort(cmp);
    this.prev = out.slice();
    return out;
  }

  private patch(items: readonly T[], cmp: (a: T, b: T) => number): T[] | null {
    const prev = this.prev;
    if (!prev || items.length < 64) return null;
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
        out.splice(lo, 0, x);
      }
    }
    // Strictly increasing: the unique sorted order (equal items would leave it to input order).
    for (let i = 1; i < out.length; i++) if (cmp(out[i - 1]!, out[i]!) >= 0) return null;
    return out;
  }
}
