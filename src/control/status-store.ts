// Keeps the computed .status of every object and stamps condition lastTransitionTime the way the
// API server's controllers do: the time only moves when a condition's status or reason changes.
import type { K8sObject, StatusEntry } from "../resources/types.js";
import { refKey, refOf } from "../resources/types.js";
import { SortedPatch } from "../translator/sorted-patch.js";

interface Stamp {
  status: unknown;
  reason: unknown;
  time: string;
}

export interface StatusItem {
  object: K8sObject;
  status?: Record<string, unknown>;
}

/** The stamped status of one object and the condition stamps it used, reused while `raw` is the same object. */
interface Stamped {
  raw: Record<string, unknown>;
  status: Record<string, unknown>;
  /** Condition stamps by position; every position starts with the object's key, so they are per object. */
  stamps: Map<string, Stamp>;
  /** Number of the last update() that had a status for the object. */
  mark: number;
}

export class StatusStore {
  private items: StatusItem[] = [];
  private stamped = new Map<string, Stamped>();
  /** Last listing's item of each object: the same item (and sort position) while object and status are the same. */
  private itemOf = new Map<K8sObject, StatusItem>();
  private readonly order = new SortedPatch<StatusItem>();
  /** refKey of objects and status refs, computed once per object (neither is changed after it is handed over). */
  private readonly keys = new WeakMap<object, string>();
  private updates = 0;
  /** The objects of the last update(), when list() has not turned them into items yet. */
  private pending: K8sObject[] | null = null;

  /**
   * Replaces the stored objects and statuses with those of a new translation. A status that is the
   * same object as last time (the translator hands unchanged ones out again) keeps its stamped copy:
   * an update costs a lookup per status and the changed part. Transition times are decided here, at
   * the time of the update; the sorted list is made when list() asks for it.
   */
  update(objects: K8sObject[], statuses: StatusEntry[], now: Date = new Date()): void {
    const mark = ++this.updates;
    let time: string | null = null;
    let marked = 0;
    for (const s of statuses) {
      const key = this.keyOf(s, () => refKey(s.ref));
      let st = this.stamped.get(key);
      if (st === undefined || st.raw !== s.status) {
        const local = new Map<string, Stamp>();
        time ??= now.toISOString().replace(/\.\d{3}Z$/, "Z");
        st = { raw: s.status, status: this.stamp(s.status, key, time, st?.stamps, local) as Record<string, unknown>, stamps: local, mark: 0 };
        this.stamped.set(key, st);
      }
      if (st.mark !== mark) marked++;
      st.mark = mark;
    }
    // A status missing from this update is forgotten: an object that comes back starts over.
    if (marked < this.stamped.size) for (const [key, st] of this.stamped) if (st.mark !== mark) this.stamped.delete(key);
    this.pending = objects;
  }

  private keyOf(o: object, make: () => string): string {
    let k = this.keys.get(o);
    if (k === undefined) {
      k = make();
      this.keys.set(o, k);
    }
    return k;
  }

  /** Every object with its stamped status (if the translator gave one), sorted by kind, namespace, name. */
  list(): StatusItem[] {
    const objects = this.pending;
    if (objects === null) return this.items;
    this.pending = null;
    const nextItemOf = new Map<K8sObject, StatusItem>();
    const items: StatusItem[] = [];
    for (const object of objects) {
      const status = this.stamped.get(this.keyOf(object, () => refKey(refOf(object))))?.status;
      const prev = this.itemOf.get(object);
      const item: StatusItem = prev !== undefined && prev.status === status ? prev : status === undefined ? { object } : { object, status };
      nextItemOf.set(object, item);
      items.push(item);
    }
    this.items = this.order.sort(items, compareItems);
    this.itemOf = nextItemOf;
    return this.items;
  }

  /** Deep copy of `value` with every conditions[] entry stamped. `path` identifies the position. */
  private stamp(value: unknown, path: string, time: string, prev: Map<string, Stamp> | undefined, next: Map<string, Stamp>): unknown {
    if (Array.isArray(value)) return value.map((v, i) => this.stamp(v, `${path}[${elementKey(v, i)}]`, time, prev, next));
    if (value === null || typeof value !== "object") return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === "conditions" && Array.isArray(v)) {
        out[k] = v.map((c) => this.stampCondition(c, `${path}.conditions`, time, prev, next));
      } else {
        out[k] = this.stamp(v, `${path}.${k}`, time, prev, next);
      }
    }
    return out;
  }

  private stampCondition(c: unknown, path: string, time: string, prev: Map<string, Stamp> | undefined, next: Map<string, Stamp>): unknown {
    if (c === null || typeof c !== "object") return c;
    const cond = c as Record<string, unknown>;
    const key = `${path}/${String(cond.type)}`;
    const before = prev?.get(key);
    const keep = before !== undefined && before.status === cond.status && before.reason === cond.reason;
    const stamp: Stamp = { status: cond.status, reason: cond.reason, time: keep ? before.time : time };
    next.set(key, stamp);
    return { ...cond, lastTransitionTime: stamp.time };
  }
}

/**
 * Array elements are identified by what names them (a listener's name, a route parent's parentRef),
 * not by index, so a reordering does not reset their transition times.
 */
function elementKey(v: unknown, i: number): string {
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (o.parentRef !== undefined) return JSON.stringify(o.parentRef);
    if (typeof o.name === "string") return o.name;
  }
  return String(i);
}

function compareItems(a: StatusItem, b: StatusItem): number {
  const ka = a.object.kind, kb = b.object.kind;
  if (ka !== kb) return ka < kb ? -1 : 1;
  const na = a.object.metadata.namespace ?? "", nb = b.object.metadata.namespace ?? "";
  if (na !== nb) return na < nb ? -1 : 1;
  const ma = a.object.metadata.name, mb = b.object.metadata.name;
  if (ma !== mb) return ma < mb ? -1 : 1;
  const ga = a.object.apiVersion, gb = b.object.apiVersion;
  return ga < gb ? -1 : ga > gb ? 1 : 0;
}
