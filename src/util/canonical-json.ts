// Canonical JSON: object keys sorted at every level and undefined members dropped, so equal values
// give byte-identical text (and the same hash) whatever order they were built in. Used for config
// hashes, unchanged-content checks and deterministic ordering.
//
// The config hash (configHash) is a sha256 of the canonical JSON in which long arrays (thousands of
// virtual hosts or clusters) stand as the digests of their chunks: chunk boundaries depend on the
// elements' content alone, so a route change re-hashes one chunk, and equal configs hash alike
// whatever order they were built in. src/control/config-text.ts computes the same hash incrementally.
import { createHash } from "node:crypto";

/** Same text as JSON.stringify of a key-sorted deep copy, built without making the copy. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  return objectJson(v as Record<string, unknown>, canonicalJson);
}

/** An object's JSON with its members in key order, undefined ones left out, each value written by `value`. */
export function objectJson(o: Record<string, unknown>, value: (v: unknown) => string): string {
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${value(o[k])}`)
    .join(",")}}`;
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Arrays at least this long are hashed as chunks. */
export const CHUNKED_ARRAY = 32;
/** A chunk ends after at most this many elements. */
export const MAX_CHUNK = 64;

/** Whether the element with this digest (sha256 hex of its canonical JSON) ends its chunk: about 1 in 32 do. */
export function endsChunk(elementDigest: string): boolean {
  return elementDigest.charCodeAt(0) === 48 /* "0" */ && elementDigest.charCodeAt(1) < 56 /* "8" */;
}

/** A chunk's digest: sha256 of its elements' digests joined by commas. */
export function chunkDigest(elementDigests: readonly string[]): string {
  return sha256Hex(elementDigests.join(","));
}

/**
 * The hash of a configuration: sha256 of hashText(v), which is canonicalJson(v) except that an array of
 * CHUNKED_ARRAY or more elements is written as the JSON array of its chunks' digests. Its elements, in
 * order, are cut into chunks: a chunk ends after an element that endsChunk(), after MAX_CHUNK elements,
 * or at the array's end. Inside a chunked array the elements are digested as plain canonical JSON.
 */
export function configHash(v: unknown): string {
  return sha256Hex(hashText(v));
}

function hashText(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
  if (Array.isArray(v)) {
    if (v.length < CHUNKED_ARRAY) return `[${v.map(hashText).join(",")}]`;
    const chunks: string[] = [];
    let chunk: string[] = [];
    for (let i = 0; i < v.length; i++) {
      const d = sha256Hex(canonicalJson(v[i]));
      chunk.push(d);
      if (endsChunk(d) || chunk.length === MAX_CHUNK || i === v.length - 1) {
        chunks.push(chunkDigest(chunk));
        chunk = [];
      }
    }
    return JSON.stringify(chunks);
  }
  return objectJson(v as Record<string, unknown>, hashText);
}
