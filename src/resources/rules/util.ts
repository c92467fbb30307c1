// Defensive accessors: rules run on objects the schema may already have rejected.
export type Obj = Record<string, unknown>;

export function asObj(v: unknown): Obj | undefined {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Obj) : undefined;
}

export function asArr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function asStr(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

export function has(o: Obj | undefined, key: string): boolean {
  return o !== undefined && o[key] !== undefined && o[key] !== null;
}

const DURATION_PART = /(\d{1,5})(h|ms|m|s)/g;

/** Milliseconds of a Gateway API Duration ("1h2m3s", "500ms"), or undefined when malformed. */
export function parseDuration(s: string): number | undefined {
  if (!/^(\d{1,5}(h|m|s|ms)){1,4}$/.test(s)) return undefined;
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let total = 0;
  for (const m of s.matchAll(DURATION_PART)) total += Number(m[1]) * unit[m[2]];
  return total;
}
