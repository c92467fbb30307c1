/** First index in `sorted` (ascending by `cmp`) whose item does not come before `probe`: where `probe` would be inserted. */
export function lowerBound<T>(sorted: readonly T[], probe: T, cmp: (a: T, b: T) => number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp(sorted[mid]!, probe) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
