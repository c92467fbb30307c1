// Routing tables compiled at snapshot time: gateway listener by Host (isolation), virtual host by
// most specific hostname, then the first route (in the given precedence order) whose match succeeds.
import type { IncomingHttpHeaders } from "node:http";
import { compileHostname, type HostTest } from "./hostname.js";
import { firstSegmentOf, firstSegmentOfMatch, requestMatches, type CompiledMatch } from "./router-match.js";

export interface Routable {
  match: CompiledMatch;
}

const EMPTY = new Int32Array(0);
const NO_BUCKETS = new Map<string, Int32Array>();
const NO_ROUTES: never[] = [];

/** Up to this many routes a table is scanned in order: buckets would cost more memory than they save time. */
export const SCAN_LIMIT = 4;

/**
 * Routes of one virtual host. Candidates are narrowed by the request's first path segment: a route
 * whose match pins the first segment sits in that segment's bucket, the others in `wild`; merging
 * the two index lists in ascending order keeps the configured precedence exactly. Small tables
 * (most virtual hosts have one or two routes) are scanned in order instead, and a one-route table
 * holds its route without an array (thousands of virtual hosts, one route each, are the common
 * large configuration).
 */
export class RouteTable<R extends Routable> {
  private readonly only: R | null = null;
  /** Two or more routes in precedence order (empty for zero or one). */
  private readonly list: R[] = NO_ROUTES;
  private readonly buckets: Map<string, Int32Array> = NO_BUCKETS;
  /** null: scan `list` in order. */
  private readonly wild: Int32Array | null = null;

  constructor(routes: R[]) {
    if (routes.length === 1) {
      this.only = routes[0]!;
      return;
    }
    this.list = routes;
    if (routes.length <= SCAN_LIMIT) return;
    this.buckets = new Map();
    const tmp = new Map<string, number[]>();
    const wild: number[] = [];
    routes.forEach((r, i) => {
      const seg = firstSegmentOfMatch(r.match);
      if (seg === null) wild.push(i);
      else {
        let l = tmp.get(seg);
        if (!l) tmp.set(seg, (l = []));
        l.push(i);
      }
    });
    for (const [k, v] of tmp) this.buckets.set(k, Int32Array.from(v));
    this.wild = Int32Array.from(wild);
  }

  match(method: string, path: string, query: string, headers: IncomingHttpHeaders): R | null {
    const only = this.only;
    if (only !== null) return requestMatches(only.match, method, path, query, headers) ? only : null;
    const routes = this.list;
    if (this.wild === null) {
      for (let k = 0; k < routes.length; k++) if (requestMatches(routes[k]!.match, method, path, query, headers)) return routes[k]!;
      return null;
    }
    const bucket = this.buckets.size === 0 ? EMPTY : this.buckets.get(firstSegmentOf(path)) ?? EMPTY;
    const wild = this.wild;
    let i = 0;
    let j = 0;
    while (i < bucket.length || j < wild.length) {
      let idx: number;
      if (j >= wild.length || (i < bucket.length && bucket[i]! < wild[j]!)) idx = bucket[i++]!;
      else idx = wild[j++]!;
      const r = routes[idx]!;
      if (requestMatches(r.match, method, path, query, headers)) return r;
    }
    return null;
  }
}

interface HostEntry<T> {
  test: HostTest;
  value: T;
}

/**
 * Picks the first entry (in the given most-specific-first order) whose hostname matches; exact
 * names are looked up in a Map first, which gives the same answer because exact names come first.
 */
export class HostTable<T> {
  private readonly exact = new Map<string, T>();
  private readonly patterns: HostEntry<T>[] = [];

  constructor(entries: { hostname: string | null; value: T }[]) {
    let sawPattern = false;
    for (const e of entries) {
      const h = e.hostname;
      const isExact = h !== null && h !== "" && h !== "*" && !h.startsWith("*.");
      if (isExact && !sawPattern) {
        const k = h.toLowerCase();
        if (!this.exact.has(k)) this.exact.set(k, e.value);
      } else {
        // An exact name after a pattern (not expected from the translator) stays in order.
        sawPattern = true;
        this.patterns.push({ test: compileHostname(h), value: e.value });
      }
    }
  }

  lookup(host: string): T | null {
    const v = this.exact.get(host);
    if (v !== undefined) return v;
    const ps = this.patterns;
    for (let i = 0; i < ps.length; i++) if (ps[i]!.test(host)) return ps[i]!.value;
    return null;
  }
}
