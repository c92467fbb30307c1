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
