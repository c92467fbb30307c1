// canonicalJson() and configHash() of translator output, with what is computed for objects the
// translator hands out again unchanged (memo.ts) kept by identity: a config where one route changed is
// hashed mostly from digests computed before. hash() does not build the config's text: pieces go to
// sha256 as they come, and a long array (thousands of virtual hosts) contributes its chunks' digests,
// each kept with the chunk's elements, so a change digests the chunk or two it touched.
import { createHash, type Hash } from "node:crypto";
import { CHUNKED_ARRAY, chunkDigest, endsChunk, MAX_CHUNK, objectJson, sha256Hex } from "../util/canonical-json.js";
import { ArrayCopies } from "../util/changed-stretch.js";

/** canonical() matches arrays at least this long with the one it met in the same order last time. */
const LONG_ARRAY = 32;

/** A chunk of a long array, kept by its first element; valid wherever the same elements come again. */
interface Chunk {
  /** Shared objects and primitives only: neither changes. */
  elems: unknown[];
  /** Ended by the chunk rule, not by its array's end: elsewhere it is a whole chunk only if more follow too. */
  closed: boolean;
  digest: string;
}

/** Where text goes: to sha256 (HashSink) or into a string (TextSink). */
interface Sink {
  push(s: string): void;
}

/** Collects text pieces and hands them to the hash in blocks (one native call per block, not per piece). */
class HashSink implements Sink {
  private readonly hash: Hash = createHash("sha256");
  private buf = "";

  push(s: string): void {
    this.buf += s;
    if (this.buf.length >= 1 << 16) {
      this.hash.update(this.buf);
      this.buf = "";
    }
  }

  digest(): string {
    if (this.buf) this.hash.update(this.buf);
    return this.hash.digest("hex");
  }
}

class TextSink implements Sink {
  text = "";

  push(s: string): void {
    this.text += s;
  }
}

export class CanonicalTextCache {
  /** Canonical JSON of shared objects. */
  private readonly texts = new WeakMap<object, string>();
  /** hashText (canonical-json.ts) of shared objects met outside long arrays. */
  private readonly hashTexts = new WeakMap<object, string>();
  /** sha256 of the canonical JSON of shared objects met as elements of long arrays. */
  private readonly digests = new WeakMap<object, string>();
  /** Chunks of long arrays by their first element. */
  private readonly chunks = new WeakMap<object, Chunk>();
  /** canonical()'s long arrays, matched with last time's by the order it met them (see copy). */
  private readonly arrayCopies = new ArrayCopies();

  /**
   * shared(o): o is an object the translator hands out again while its inputs are unchanged; it is
   * canonical already (sorted keys, no undefined members) and never changed, so its text is cached.
   */
  constructor(private readonly shared: (o: object) => boolean) {}

  /** The canonical form of v (keys sorted, undefined members dropped); shared objects are taken as they are. */
  canonical<T>(v: T): T {
    return this.arrayCopies.pass(() => this.copy(v) as T);
  }

  private readonly copyOf = (x: unknown): unknown => this.copy(x);
  /** copy(x) is x itself for these (shared objects are never changed). */
  private readonly isKept = (x: unknown): boolean => x === null || typeof x !== "object" || this.shared(x);

  private copy(v: unknown): unknown {
    if (this.isKept(v)) return v;
    if (Array.isArray(v)) {
      if (v.length < LONG_ARRAY) return v.map((x) => this.copy(x));
      // A long array (thousands of virtual hosts) is matched with the one met in the same order last
      // time: an element that is the same shared object takes an identity compare, not a lookup.
      return this.arrayCopies.map(v, this.copyOf, this.isKept);
    }
    const o = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(o).sort()) if (o[k] !== undefined) out[k] = this.copy(o[k]);
    return out;
  }

  /** configHash(v) (src/util/canonical-json.ts). */
  hash(v: unknown): string {
    const sink = new HashSink();
    this.write(v, sink);
    return sink.digest();
  }

  /** hashText(v) into the sink: canonical JSON with long arrays as their chunks' digests. */
  private write(v: unknown, sink: Sink): void {
    if (v === null || typeof v !== "object") return sink.push(JSON.stringify(v) ?? "null");
    if (this.shared(v)) {
      let t = this.hashTexts.get(v);
      if (t === undefined) {
        const inner = new TextSink();
        this.writeParts(v, inner);
        t = inner.text;
        this.hashTexts.set(v, t);
      }
      return sink.push(t);
    }
    this.writeParts(v, sink);
  }

  private writeParts(v: object, sink: Sink): void {
    if (Array.isArray(v)) {
      if (v.length >= CHUNKED_ARRAY) return this.writeChunks(v, sink);
      sink.push("[");
      for (let i = 0; i < v.length; i++) {
        if (i > 0) sink.push(",");
        this.write(v[i], sink);
      }
      return sink.push("]");
    }
    const o = v as Record<string, unknown>;
    sink.push("{");
    let first = true;
    for (const k of Object.keys(o).sort()) {
      if (o[k] === undefined) continue;
      sink.push(first ? `${JSON.stringify(k)}:` : `,${JSON.stringify(k)}:`);
      first = false;
      this.write(o[k], sink);
    }
    sink.push("}");
  }

  private isSharedObject(x: unknown): x is object {
    return x !== null && typeof x === "object" && this.shared(x);
  }

  /** sha256 of x's canonical JSON, kept for a shared object. */
  private elementDigest(x: unknown): string {
    if (x === null || typeof x !== "object") return sha256Hex(JSON.stringify(x) ?? "null");
    let d = this.digests.get(x);
    if (d === undefined) {
      d = sha256Hex(this.text(x));
      if (this.shared(x)) this.digests.set(x, d);
    }
    return d;
  }

  /** Whether a kept chunk starting at v[i] is the chunk the rule cuts there now. */
  private fits(c: Chunk, v: unknown[], i: number): boolean {
    const n = c.elems.length;
    if (n > v.length - i || (!c.closed && i + n !== v.length)) return false;
    for (let k = 0; k < n; k++) if (c.elems[k] !== v[i + k]) return false;
    return true;
  }

  /** A long array as the JSON array of its chunks' digests, chunks taken from (or into) the chunk cache. */
  private writeChunks(v: unknown[], sink: Sink): void {
    sink.push("[");
    let i = 0;
    while (i < v.length) {
      if (i > 0) sink.push(",");
      const x = v[i];
      const first = this.isSharedObject(x) ? x : null;
      const kept = first === null ? undefined : this.chunks.get(first);
      if (kept !== undefined && this.fits(kept, v, i)) {
        sink.push(`"${kept.digest}"`);
        i += kept.elems.length;
        continue;
      }
      const start = i;
      const digests: string[] = [];
      let keep = true;
      let ruled = false;
      while (i < v.length) {
        const e = v[i++];
        if (e !== null && typeof e === "object" && !this.shared(e)) keep = false;
        const d = this.elementDigest(e);
        digests.push(d);
        if (endsChunk(d) || digests.length === MAX_CHUNK) {
          ruled = true;
          break;
        }
      }
      const digest = chunkDigest(digests);
      if (keep && first !== null) this.chunks.set(first, { elems: v.slice(start, i), closed: ruled, digest });
      sink.push(`"${digest}"`);
    }
    sink.push("]");
  }

  private readonly textOf = (x: unknown): string => this.text(x);

  /** Byte-identical to canonicalJson(v). */
  text(v: unknown): string {
    if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
    const hit = this.texts.get(v);
    if (hit !== undefined) return hit;
    let out: string;
    if (Array.isArray(v)) out = `[${v.map(this.textOf).join(",")}]`;
    else out = objectJson(v as Record<string, unknown>, this.textOf);
    if (this.shared(v)) this.texts.set(v, out);
    return out;
  }
}
