// Small deterministic helpers shared by the translator modules.

/** Code-unit string comparison: stable across locales and Node versions (unlike localeCompare). */
export function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function cmpNum(a: number, b: number): number {
  return a - b;
}

/** Deep copy with object keys sorted and undefined values dropped, so JSON output is canonical. */
export function canonicalize<T>(value: T): T {
  return sortKeys(value) as T;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const src = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(src).sort(cmpStr)) {
      const v = src[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** Canonical JSON (sorted keys): used to order and deduplicate objects deterministically. */
export { canonicalJson } from "../util/canonical-json.js";
