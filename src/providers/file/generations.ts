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
  /** Number of the last stamp() that saw the object: older ones are gone. */
  mark: number;
}

export class GenerationTracker {
  private readonly seen = new Map<string, Seen>();
  /** Distinguishes uids between runs; within a run an object keeps its uid while it exists. */
  private readonly runId = randomBytes(8).toString("hex");
  private incarnations = 0;
  private stamps = 0;
  /** refKey of each loaded object, computed once per object (loaded objects are not changed). */
  private readonly keys = new WeakMap<K8sObject, string>();
  /**
   * The stamped copy last made of each loaded object: an unchanged object keeps its identity, and its
   * LoadedObject while that is the same one (`from`) too.
   */
  private readonly stamped = new WeakMap<K8sObject, { seen: Seen; generation: number; from: LoadedObject; loaded: LoadedObject }>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  /**
   * Replaces each objects[i] with a copy that carries generation, uid and creationTimestamp; the
   * loaded objects themselves are not written to (they may be shared with the parse cache).
   * specJson, when given, is canonicalObject().spec of objects[i] (the caller already has it), by
   * position or as a function. An object stamped before and unchanged costs a few lookups.
   */
  stamp(objects: LoadedObject[], specJson?: readonly string[] | ((o: LoadedObject) => string)): void {
    const mark = ++this.stamps;
    let marked = 0;
    for (let i = 0; i < objects.length; i++) {
      const o = objects[i]!;
      // The same object as last time, stamped in the last stamp(): its record is the current one for its
      // key (records not seen in a stamp are dropped at its end), so one lookup settles it.
      const last = this.stamped.get(o.object);
      if (last !== undefined && last.seen.mark === mark - 1 && last.generation === last.seen.generation) {
        last.seen.mark = mark;
        marked++;
        objects[i] = this.reuse(last, o);
        continue;
      }
      let key = this.keys.get(o.object);
      if (key === undefined) {
        key = refKey(refOf(o.object));
        this.keys.set(o.object, key);
      }
      let s = this.seen.get(key);
      if (s === undefined || s.mark !== mark) marked++;
      const prev = last;
      // The same object as last time has the same spec: no need to look at it.
      if (s !== undefined && prev !== undefined && prev.seen === s && prev.generation === s.generation && s.mark === mark - 1) {
        s.mark = mark;
        objects[i] = this.reuse(prev, o);
        continue;
      }
      const spec = typeof specJson === "function" ? specJson(o) : (specJson?.[i] ?? canonicalObject(o.object).spec);
      if (!s) {
        s = {
          spec,
          generation: 1,
          uid: o.object.metadata.uid ?? this.makeUid(key),
          creationTimestamp: o.object.metadata.creationTimestamp ?? this.now().toISOString(),
          mark,
        };
        this.seen.set(key, s);
      } else if (s.mark === mark) {
        // A second object with this key in one load (a duplicate): counted as before, by spec.
        if (s.spec !== spec) {
          s.spec = spec;
          s.generation++;
        }
      } else {
        s.mark = mark;
        if (s.spec !== spec) {
          s.spec = spec;
          s.generation++;
        }
      }
      if (prev && prev.seen === s && prev.generation === s.generation) {
        objects[i] = this.reuse(prev, o);
        continue;
      }
      const meta = o.object.metadata;
      const object: K8sObject = {
        ...o.object,
        metadata: { ...meta, generation: s.generation, uid: meta.uid ?? s.uid, creationTimestamp: meta.creationTimestamp ?? s.creationTimestamp },
      };
      const loaded = { ...o, object };
      this.stamped.set(o.object, { seen: s, generation: s.generation, from: o, loaded });
      objects[i] = loaded;
    }
    // A deleted object that comes back is a new object, as in a cluster.
    if (marked < this.seen.size) for (const [key, s] of this.seen) if (s.mark !== mark) this.seen.delete(key);
  }

  /** Last time's stamped object, in last time's LoadedObject when `o` is the same one (an object can move, e.g. a made-up Namespace). */
  private reuse(prev: { from: LoadedObject; loaded: LoadedObject }, o: LoadedObject): LoadedObject {
    if (prev.from !== o) {
      prev.from = o;
      prev.loaded = { ...o, object: prev.loaded.object };
    }
    return prev.loaded;
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
