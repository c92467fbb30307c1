/**
 * Calls `step(0)`, `step(1)`, ... up to `count` times, one call per macrotask (setImmediate), so
 * that work arriving meanwhile (a load, an apply) runs between calls; stops at the first call that
 * returns false. Resolves with how many calls returned true. For optional work done while idle.
 */
export function inTurns(count: number, step: (i: number) => boolean): Promise<number> {
  return new Promise((resolve) => {
    let i = 0;
    const next = (): void => {
      if (i >= count || !step(i)) return resolve(i);
      i++;
      setImmediate(next);
    };
    setImmediate(next);
  });
}
