/** The one stretch where `next` differs from `prev`: prev[from, prevEnd) became next[from, nextEnd). */
export interface ChangedStretch {
  from: number;
  prevEnd: number;
  nextEnd: number;
}

/**
 * Compares two lists by identity from both ends: everything before `from` and after the ends is
 * the same objects in the same places. A change of one file (or one object) in a long list is one
 * short stretch, so callers patch it instead of walking the whole list; `size` says how long it is.
 */
export function changedStretch<T>(prev: readonly T[], next: readonly T[]): ChangedStretch & { size: number } {
  const pl = prev.length;
  const nl = next.length;
  const min = Math.min(pl, nl);
  let from = 0;
  while (from < min && prev[from] === next[from]) from++;
  let tail = 0;
  while (tail < min - from && prev[pl - 1 - tail] === next[nl - 1 - tail]) tail++;
  return { from, prevEnd: pl - tail, nextEnd: nl - tail, size: pl - tail - from + (nl - tail - from) };
}

/** A list mapped element by element, kept to map its next version (mapReusing). */
export interface MappedList<T, U> {
  input: readonly T[];
  output: U[];
  /** 1 where output[i] is what map(input[i]) gives every time (so an identical element may take it). */
  reusable: Uint8Array;
}

/** Look-ahead for an element that left, and misses allowed before the rest is mapped plainly. */
const LOOK = 8;
const MAX_MISSES = 64;

/**
 * Where x is in `list` walking from `from`: `from` itself, or up to LOOK places on (the elements
 * in between left since); -1 when it is not there (x arrived or moved). For walking last time's
 * version of a list beside this time's.
 */
export function indexNear<T>(list: readonly T[], from: number, x: T): number {
  if (from < list.length && list[from] === x) return from;
  const end = Math.min(list.length, from + LOOK + 1);
  for (let k = from + 1; k < end; k++) if (list[k] === x) return k;
  return -1;
}

/**
 * next.map(map), with the outputs of elements that are the same objects as in `prev` (and marked
 * reusable there) taken from `prev` instead of mapped again: walking both lists side by side costs
 * an identity compare per element, where map would cost a lookup or more. Elements that arrived,
 * moved or are not reusable are mapped; after many misses the rest is mapped without the walk.
 * `reusable(x)` says whether map(x) gives the same output whenever it is called again.
 */
export function mapReusing<T, U>(prev: MappedList<T, U> | undefined, next: readonly T[], map: (x: T) => U, reusable: (x: T) => boolean): MappedList<T, U> {
  const n = next.length;
  const output = new Array<U>(n);
  const flags = new Uint8Array(n);
  let i = 0;
  if (prev !== undefined) {
    const { input, output: before, reusable: was } = prev;
    let j = 0;
    let misses = 0;
    while (i < n && misses <= MAX_MISSES) {
      const x = next[i]!;
      const at = indexNear(input, j, x);
      if (at === j) {
        if (was[j] === 1) {
          output[i] = before[j]!;
          flags[i] = 1;
        } else {
          output[i] = map(x);
          flags[i] = reusable(x) ? 1 : 0;
        }
        i++;
        j++;
        continue;
      }
      misses++;
      // Elements of prev that left: skip them when x follows shortly.
      if (at > j) {
        j = at;
        continue;
      }
      output[i] = map(x);
      flags[i] = reusable(x) ? 1 : 0;
      i++;
    }
  }
  for (; i < n; i++) {
    const x = next[i]!;
    output[i] = map(x);
    flags[i] = reusable(x) ? 1 : 0;
  }
  return { input: next.slice(), output, reusable: flags };
}

/**
 * The long arrays one pass of a recursive copy meets, each matched with the array met in the same
 * place of the order last pass (mapReusing). Across passes over a slowly changing value (the
 * snapshot) the n-th long array is usually the next version of last time's n-th.
 */
export class ArrayCopies {
  private last: MappedList<unknown, unknown>[] = [];
  private now: MappedList<unknown, unknown>[] = [];

  /** Runs one pass; what it met is kept for the next pass only when it completes. */
  pass<T>(run: () => T): T {
    this.now = [];
    const out = run();
    this.last = this.now;
    return out;
  }

  /** next mapped within the current pass (see mapReusing). */
  map(next: readonly unknown[], map: (x: unknown) => unknown, reusable: (x: unknown) => boolean): unknown[] {
    // The slot is taken before mapping: arrays met inside the elements come after this one.
    const slot = this.now.length;
    this.now.push(undefined as unknown as MappedList<unknown, unknown>);
    const mapped = mapReusing(this.last[slot], next, map, reusable);
    this.now[slot] = mapped;
    return mapped.output;
  }
}
