// Keeps a sorted list across calls and patches it when the items barely changed: last time's order
// minus what left, plus binary insertion of what arrived. Patching is only done on a list known to be
// strictly increasing under cmp and keeps it so (each arrival is checked against its neighbours), so
// the result is the one sorted order, what a full sort gives; otherwise (ties, many arrivals) the
// list is sorted in full. A change costs O(n) identity checks and O(k log n) comparisons instead of
// O(n log n) comparisons. cmp must be a consistent order (as Array.prototype.sort needs too).

import { lowerBound } from "../util/lower-bound.js";

export class SortedPatch<T> {
  private prev: T[] | null = null;
  /** The items as last given (input order): most callers build their list in a stable order, so a walk along both finds the changes. */
  private input: readonly T[] | null = null;
  /** How the last call went, for tests: "walk" (changes found by walking the inputs), "set", or "full". */
  lastWay: "walk" | "set" | "full" = "full";
  /** prev is strictly increasing under the comparator it was sorted with. */
  private strict = false;

  /** Items sorted by cmp (a new array; callers may change it). Items are compared by identity for the patch. */
  sort(items: readonly T[], cmp: (a: T, b: T) => number): T[] {
    let out = this.walkPatch(items, cmp);
    this.lastWay = "walk";
    if (!out) {
      out = this.patch(items, cmp);
      this.lastWay = "set";
    }
    if (out) this.strict = true;
    else {
      out = [...items].sort(cmp);
      this.strict = isStrict(out, cmp);
      this.lastWay = "full";
    }
    this.prev = out.slice();
    this.input = items.slice();
    return out;
  }

  /**
   * The changes found by walking last time's input and this one side by side (identity compares,
   * a short look-ahead for a run that left or arrived), then applied to last time's output. Each
   * item given is either matched with one of last time's or counted as arriving, and each of last
   * time's either matched or counted as leaving, so the result holds exactly the items given.
   */
  private walkPatch(items: readonly T[], cmp: (a: T, b: T) => number): T[] | null {
    const prev = this.prev;
    const last = this.input;
    if (!prev || !last || !this.strict || items.length < 64) return null;
    const LOOK = 8;
    const LIMIT = 32;
    const left: T[] = [];
    const arrived: T[] = [];
    let i = 0;
    let j = 0;
    const n = items.length;
    const m = last.length;
    while (i < n && j < m) {
      if (items[i] === last[j]) {
        i++;
        j++;
        continue;
      }
      let k = 1;
      while (k <= LOOK && j + k < m && last[j + k] !== items[i]) k++;
      if (k <= LOOK && j + k < m) {
        for (let t = 0; t < k; t++) left.push(last[j + t]!);
        j += k;
      } else {
        k = 1;
        while (k <= LOOK && i + k < n && items[i + k] !== last[j]) k++;
        if (k <= LOOK && i + k < n) {
          for (let t = 0; t < k; t++) arrived.push(items[i + t]!);
          i += k;
        } else {
          left.push(last[j++]!);
          arrived.push(items[i++]!);
        }
      }
      if (left.length + arrived.length > LIMIT) return null;
    }
    while (j < m) left.push(last[j++]!);
    while (i < n) arrived.push(items[i++]!);
    if (left.length + arrived.length > LIMIT) return null;
    let out: T[];
    if (left.length === 0) out = prev.slice();
    else {
      const gone = new Set(left);
      if (gone.size !== left.length) return null; // an item listed twice: leave it to a sort
      out = prev.filter((x) => !gone.has(x));
      if (out.length !== prev.length - left.length) return null;
    }
    return insertAll(out, arrived, cmp);
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
    if (added === 0) return out;
    const have = new Set(out);
    return insertAll(out, items.filter((x) => !have.has(x)), cmp);
  }
}

/** Binary insertion of each item into a strictly increasing list; null on a tie (only a full stable sort decides those). */
function insertAll<T>(out: T[], arriving: readonly T[], cmp: (a: T, b: T) => number): T[] | null {
  for (const x of arriving) {
    const lo = lowerBound(out, x, cmp);
    if (lo < out.length && cmp(x, out[lo]!) >= 0) return null;
    out.splice(lo, 0, x);
  }
  return out;
}

function isStrict<T>(list: readonly T[], cmp: (a: T, b: T) => number): boolean {
  for (let i = 1; i < list.length; i++) if (cmp(list[i - 1]!, list[i]!) >= 0) return false;
  return true;
}
