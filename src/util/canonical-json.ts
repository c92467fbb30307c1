// Canonical JSON: object keys sorted at every level and undefined members dropped, so equal values
// give byte-identical text (and the same hash) whatever order they were built in. Used for config
// hashes, unchanged-content checks and deterministic ordering.
import { createHash } from "node:crypto";

/** Same text as JSON.stringify of a key-sorted deep copy, built without making the copy. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(",")}}`;
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
