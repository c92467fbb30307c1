// Keeps the computed .status of every object and stamps condition lastTransitionTime the way the
// API server's controllers do: the time only moves when a condition's status or reason changes.
import type { K8sObject, StatusEntry } from "../resources/types.js";
import { refKey, refOf } from "../resources/types.js";

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
  stamps: [string, Stamp][];
}

export class StatusStore {
  private stamps = new Map<string, Stamp>();
  private items: StatusItem[] = [];
  private stamped = new Map<string, Stamped>();

  /**
   * Replaces the stored objects and statuses with those of a new translation. A status that is the
   * same object as last time (the translator hands unchanged ones out again) keeps its stamped copy.
   */
  update(objects: K8sObject[], statuses: StatusEntry[], now: Date = new Date()): void {
    const byRef = new Map<string, Record<string, unknown>>();
    for (const s of statuses) byRef.set(refKey(s.ref), s.status);
    const nextStamps = new Map<string, Stamp>();
    const nextStamped = new Map<string, Stamped>();
    const time = now.toISOString().replace(/\.\d{3}Z$/, "Z");
    const items: StatusItem[] = [];
    for (const object of objects) {
      const key = refKey(refOf(object));
      const raw = byRef.get(key);
      const item: StatusItem = { object };
      if (raw !== undefined) {
        let st = this.stamped.get(key);
        if (st === undefined || st.raw !== raw) {
          const local = new Map<string, Stamp>();
          st = { raw, status: this.stamp(raw, key, time, local) as Record<string, unknown>, stamps: [...local] };
        }
        for (const [k, v] of st.stamps) nextStamps.set(k, v);
        nextStamped.set(key, st);
        item.status = st.status;
      }
      items.push(item);
    }
    items.sort(compareItems);
    this.items = items;
    this.stamps = nextStamps;
    this.stamped = nextStamped;
  }

  list(): StatusItem[] {
    return this.items;
  }

  /** Deep copy of `value` with every conditions[] entry stamped. `path` identifies the position. */
  private stamp(value: unknown, path: string, time: string, next: Map<string, Stamp>): unknown {
    if (Array.isArray(value)) return value.map((v, i) => this.stamp(v, `${path}[${elementKey(v, i)}]`, time, next));
    if (value === null || typeof value !== "object") return value;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === "conditions" && Array.isArray(v)) {
        out[k] = v.map((c) => this.stampCondition(c, `${path}.conditions`, time, next));
      } else {
        out[k] = this.stamp(v, `${path}.${k}`, time, next);
      }
    }
    return out;
  }

  private stampCondition(c: unknown, path: string, time: string, next: Map<string, Stamp>): unknown {
    if (c === null || typeof c !== "object") return c;
    const cond = c as Record<string, unknown>;
    const key = `${path}/${String(cond.type)}`;
    const prev = this.stamps.get(key);
    const keep = prev !== undefined && prev.status === cond.status && prev.reason === cond.reason;
    const stamp: Stamp = { status: cond.status, reason: cond.reason, time: keep ? prev.time : time };
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
