// canonicalJson() of translator output, with the text of objects the translator hands out again
// unchanged (memo.ts) kept by identity: a config where one route changed is serialised (and hashed)
// mostly by concatenating texts computed before. hash() does not build the text at all: pieces go
// to sha256 as they come, and long arrays of shared objects (thousands of virtual hosts) are fed as
// runs whose joined text is kept too, so a change re-joins a run or two instead of the whole array.
import { createHash, type Hash } from "node:crypto";
import { ArrayCopies } from "../util/changed-stretch.js";

/** Arrays at least this long are fed to the hash as runs of shared elements. */
const LONG_ARRAY = 32;
/** A run ends after an element whose tag is 0 (about 1 in 32) or at this length. */
const MAX_RUN = 64;

interface Run {
  elems: object[];
  /** The elements' texts joined by commas, as UTF-8: hashed as it is, with no string joined or encoded again. */
  bytes: Buffer;
}

/** Collects text pieces and hands them to the hash in blocks (one native call per block, not per piece). */
class HashSink {
  private readonly hash: Hash = createHash("sha256");
  private buf = "";

  push(s: string): void {
    this.buf += s;
    if (this.buf.length >= 1 << 16) {
      this.hash.update(this.buf);
      this.buf = "";
    }
  }

  pushBytes(b: Buffer): void {
    if (this.buf) {
      this.hash.update(this.buf);
      this.buf = "";
    }
    this.hash.update(b);
  }

  digest(): string {
    if (this.buf) this.hash.update(this.buf);
    return this.hash.digest("hex");
  }
}

export class CanonicalTextCache {
  private readonly texts = new WeakMap<object, string>();
  /** Runs of array elements by their first element; valid while the elements are the same objects. */
  private readonly runs = new WeakMap<object, Run>();
  /** Run boundaries depend on the elements only, so an insertion changes the runs next to it alone. */
  private readonly tags = new WeakMap<object, number>();
  private tagSeq = 0;
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

  /** sha256 (hex) of text(v), i.e. of canonicalJson(v). */
  hash(v: unknown): string {
    const sink = new HashSink();
    this.write(v, sink);
    return sink.digest();
  }

  private write(v: unknown, sink: HashSink): void {
    if (v === null || typeof v !== "object") return sink.push(JSON.stringify(v) ?? "null");
    const hit = this.texts.get(v);
    if (hit !== undefined) return sink.push(hit);
    if (this.shared(v)) return sink.push(this.text(v));
    if (Array.isArray(v)) {
      sink.push("[");
      if (v.length >= LONG_ARRAY) this.writeRuns(v, sink);
      else
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

  private tag(x: object): number {
    let t = this.tags.get(x);
    if (t === undefined) {
      t = (Math.imul(++this.tagSeq, 0x9e3779b1) >>> 27) & 31;
      this.tags.set(x, t);
    }
    return t;
  }

  /** The elements of a long array, runs of shared objects fed from (or into) the run cache. */
  private writeRuns(v: unknown[], sink: HashSink): void {
    let i = 0;
    while (i < v.length) {
      if (i > 0) sink.push(",");
      const x = v[i];
      if (!this.isSharedObject(x)) {
        this.write(x, sink);
        i++;
        continue;
      }
      const run = this.runs.get(x);
      if (run && run.elems.length <= v.length - i && run.elems.every((e, k) => e === v[i + k])) {
        sink.pushBytes(run.bytes);
        i += run.elems.length;
        continue;
      }
      const elems: object[] = [];
      while (i < v.length && elems.length < MAX_RUN) {
        const e = v[i];
        if (!this.isSharedObject(e)) break;
        elems.push(e);
        i++;
        if (this.tag(e) === 0) break;
      }
      const bytes = Buffer.from(elems.map((e) => this.text(e)).join(","), "utf8");
      this.runs.set(x, { elems, bytes });
      sink.pushBytes(bytes);
    }
  }

  /** Byte-identical to canonicalJson(v). */
  text(v: unknown): string {
    if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
    const hit = this.texts.get(v);
    if (hit !== undefined) return hit;
    let out: string;
    if (Array.isArray(v)) out = `[${v.map((x) => this.text(x)).join(",")}]`;
    else {
      const o = v as Record<string, unknown>;
      out = `{${Object.keys(o)
        .filter((k) => o[k] !== undefined)
        .sort()
        .map((k) => `${JSON.stringify(k)}:${this.text(o[k])}`)
        .join(",")}}`;
    }
    if (this.shared(v)) this.texts.set(v, out);
    return out;
  }
}
