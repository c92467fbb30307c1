// canonicalJson() of translator output, with the text of objects the translator hands out again
// unchanged (memo.ts) kept by identity: a config where one route changed is serialised (and hashed)
// mostly by concatenating texts computed before.
export class CanonicalTextCache {
  private readonly texts = new WeakMap<object, string>();

  /**
   * shared(o): o is an object the translator hands out again while its inputs are unchanged; it is
   * canonical already (sorted keys, no undefined members) and never changed, so its text is cached.
   */
  constructor(private readonly shared: (o: object) => boolean) {}

  /** The canonical form of v (keys sorted, undefined members dropped); shared objects are taken as they are. */
  canonical<T>(v: T): T {
    return this.copy(v) as T;
  }

  private copy(v: unknown): unknown {
    if (v === null || typeof v !== "object" || this.shared(v)) return v;
    if (Array.isArray(v)) return v.map((x) => this.copy(x));
    const o = v as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(o).sort()) if (o[k] !== undefined) out[k] = this.copy(o[k]);
    return out;
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
