// Hostname rules of the Gateway API: wildcard matching, listener/route intersection, specificity.
import { cmpStr } from "./util.js";

/** Lowercase and drop a trailing dot; hostnames compare case-insensitively. */
export function normalizeHostname(h: string): string {
  const l = h.toLowerCase();
  return l.endsWith(".") ? l.slice(0, -1) : l;
}

function isWildcard(h: string): boolean {
  return h.startsWith("*.");
}

/** True when `host` (exact or wildcard) falls under the wildcard `pattern` ("*.example.com"). */
function coveredBy(host: string, pattern: string): boolean {
  const suffix = pattern.slice(1); // ".example.com"
  // "*.example.com" covers any name with at least one more label, never "example.com" itself.
  return host.length > suffix.length && host.endsWith(suffix);
}

/**
 * Intersection of a listener hostname and a route hostname: the more specific of the two when one
 * covers the other, null when they do not intersect. A null listener hostname matches anything.
 */
export function intersectHostname(listener: string | null, route: string): string | null {
  if (listener === null) return route;
  if (listener === route) return route;
  const lw = isWildcard(listener);
  const rw = isWildcard(route);
  if (lw && coveredBy(route, listener)) return route;
  if (rw && coveredBy(listener, route)) return listener;
  return null;
}

/**
 * Effective hostnames of a route on a listener. Routes without hostnames take the listener's
 * (or "*" for any host). Returns an empty list when the route names hosts but none intersect.
 */
export function effectiveHostnames(listener: string | null, routeHostnames: string[]): string[] {
  if (routeHostnames.length === 0) return [listener ?? "*"];
  const out = new Set<string>();
  for (const r of routeHostnames) {
    const h = intersectHostname(listener, r);
    if (h !== null) out.add(h);
  }
  return [...out].sort(cmpStr);
}

/**
 * Most specific first: exact names (alphabetical), then wildcards with the longest suffix first,
 * then the catch-all ("*" or null) last.
 */
export function compareHostSpecificity(a: string | null, b: string | null): number {
  const rank = (h: string | null): number => (h === null || h === "*" ? 2 : isWildcard(h) ? 1 : 0);
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (a === null || b === null) return a === b ? 0 : a === null ? 1 : -1;
  if (ra === 1 && a.length !== b.length) return b.length - a.length;
  return cmpStr(a, b);
}
