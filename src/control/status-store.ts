// Keeps the computed .status of every object and stamps condition lastTransitionTime the way the
// API server's controllers do: the time only moves when a condition's status or reason changes.
import type { K8sObject, StatusEntry } from "../resources/types.js";
import { refKey, refOf } from "../resources/types.js";
import { SortedPatch } from "../translator/sorted-patch.js";
import { changedStretch } from "../util/changed-stretch.js";

/** A patched update looks at at most this many entries (old and new); more go through the full path. */
const PATCH_LIMIT = 256;

/** The update's time in the form conditions carry, made when a condition first needs it. */
class LazyTime {
  private text: string | null = null;
  constructor(private readonly now: Date) {}
  get value(): string {
    return (this.text ??= this.now.toISOString().replace(/\.\d{3}Z$/, "Z"));
  }
}

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
  /** The statuses of the last update() (a copy), when it held one per object: the next one may be a patch of it. */
  private last: StatusEntry[] | null = null;
  /** Updates that were patches of the last one (for tests). */
  patches = 0;

  /**
   * Replaces the stored objects and statuses with those of a new translation. A status that is the
   * same object as last time (the translator hands unchanged ones out again) keeps its stamped copy:
   * an update costs a lookup per status and the changed part. Transition times are decided here, at
   * the time of the update; the sorted list is made when list() asks for it.
   */
  update(objects: K8sObject[], statuses: StatusEntry[], now: Date = new Date()): void {
    const mark = ++this.updates;
    const time = new LazyTime(now);
    const last = this.last;
    this.last = null;
    if (last !== null && this.patch(last, statuses, mark, time)) {
      this.patches++;
      this.last = statuses.slice();
      this.pending = objects;
      return;
    }
    let marked = 0;
    for (const s of statuses) {
      if (this.stampOne(s, mark, time).fresh) marked++;
    }
    // A status missing from this update is forgotten: an object that comes back starts over.
    if (marked < this.stamped.size) for (const [key, st] of this.stamped) if (st.mark !== mark) this.stamped.delete(key);
    // Patching next time needs one status per object (a repeated object is left to this path).
    if (marked === statuses.length) this.last = statuses.slice();
    this.pending = objects;
  }

  /** Records one status; `fresh`: the first of its object in this update. */
  private stampOne(s: StatusEntry, mark: number, time: LazyTime): { key: string; fresh: boolean } {
    const key = this.keyOf(s, () => refKey(s.ref));
    let st = this.stamped.get(key);
    if (st === undefined || st.raw !== s.status) {
      const local = new Map<string, Stamp>();
      st = { raw: s.status, status: this.stamp(s.status, key, time.value, st?.stamps, local) as Record<string, unknown>, stamps: local, mark: 0 };
      this.stamped.set(key, st);
    }
    const fresh = st.mark !== mark;
    st.mark = mark;
    return { key, fresh };
  }

  /**
   * The update as a patch of the last one, when the two lists differ in one stretch (the same entry
   * objects before and after it): only that stretch is looked at. False, with nothing changed, when
   * the stretch is long or a status in it belongs to an object held outside it.
   */
  private patch(last: StatusEntry[], statuses: StatusEntry[], mark: number, time: LazyTime): boolean {
    const { from, prevEnd, nextEnd, size } = changedStretch(last, statuses);
    if (size > PATCH_LIMIT) return false;
    const gone = new Set<string>();
    for (let i = from; i < prevEnd; i++) gone.add(this.keyOf(last[i]!, () => refKey(last[i]!.ref)));
    const keys = new Set<string>();
    for (let i = from; i < nextEnd; i++) {
      const s = statuses[i]!;
      const key = this.keyOf(s, () => refKey(s.ref));
      // Held by an entry outside the stretch, or twice within it: the full path decides.
      if (keys.has(key) || (this.stamped.has(key) && !gone.has(key))) return false;
      keys.add(key);
    }
    for (let i = from; i < nextEnd; i++) this.stampOne(statuses[i]!, mark, time);
    for (const key of gone) if (!keys.has(key)) this.stamped.delete(key);
    return true;
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
