// Keeps the API-server-maintained metadata stable across reloads of a folder:
// generation (+1 whenever anything but metadata/status changes), creationTimestamp and uid.
import { randomBytes } from "node:crypto";
import { refKey, refOf, type K8sObject, type LoadedObject } from "../../resources/types.js";
import { canonicalJson, sha256Hex } from "../../util/canonical-json.js";

interface Seen {
  /** canonicalObject().spec; the same string instance on every load of an unchanged object, so comparing is cheap. */
  spec: string;
  generation: number;
  uid: string;
  creationTimestamp: string;
}

export class GenerationTracker {
  private readonly seen = new Map<string, Seen>();
  /** Distinguishes uids between runs; within a run an object keeps its uid while it exists. */
  private readonly runId = randomBytes(8).toString("hex");
  private incarnations = 0;
  /** The stamped copy last made of each loaded object: an unchanged object keeps its identity. */
  private readonly stamped = new WeakMap<K8sObject, { seen: Seen; generation: number; object: K8sObject }>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  /**
   * Replaces each objects[i] with a copy that carries generation, uid and creationTimestamp; the
   * loaded objects themselves are not written to (they may be shared with the parse cache).
   * specJson[i], when given, is canonicalObject().spec of objects[i] (the caller already computed it).
   */
  stamp(objects: LoadedObject[], specJson?: readonly string[]): void {
    const alive = new Set<string>();
    for (let i = 0; i < objects.length; i++) {
      const o = objects[i]!;
      const key = refKey(refOf(o.object));
      alive.add(key);
      const spec = specJson?.[i] ?? canonicalObject(o.object).spec;
      let s = this.seen.get(key);
      if (!s) {
        s = {
          spec,
          generation: 1,
          uid: o.object.metadata.uid ?? this.makeUid(key),
          creationTimestamp: o.object.metadata.creationTimestamp ?? this.now().toISOString(),
        };
        this.seen.set(key, s);
      } else if (s.spec !== spec) {
        s.spec = spec;
        s.generation++;
      }
      const prev = this.stamped.get(o.object);
      if (prev && prev.seen === s && prev.generation === s.generation) {
        objects[i] = { ...o, object: prev.object };
        continue;
      }
      const meta = o.object.metadata;
      const object: K8sObject = {
        ...o.object,
        metadata: { ...meta, generation: s.generation, uid: meta.uid ?? s.uid, creationTimestamp: meta.creationTimestamp ?? s.creationTimestamp },
      };
      this.stamped.set(o.object, { seen: s, generation: s.generation, object });
      objects[i] = { ...o, object };
    }
    // A deleted object that comes back is a new object, as in a cluster.
    for (const key of [...this.seen.keys()]) if (!alive.has(key)) this.seen.delete(key);
  }

  private makeUid(key: string): string {
    const h = sha256Hex(`${this.runId}\0${key}\0${this.incarnations++}`);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
  }
}

/**
 * canonicalJson of the whole object, and of it without metadata and status (what a generation
 * counts), built from one pass over its fields.
 */
export function canonicalObject(obj: object): { full: string; spec: string } {
  const o = obj as Record<string, unknown>;
  const all: string[] = [];
  const spec: string[] = [];
  for (const k of Object.keys(o).sort()) {
    if (o[k] === undefined) continue;
    const part = `${JSON.stringify(k)}:${canonicalJson(o[k])}`;
    all.push(part);
    if (k !== "metadata" && k !== "status") spec.push(part);
  }
  return { full: `{${all.join(",")}}`, spec: `{${spec.join(",")}}` };
}
