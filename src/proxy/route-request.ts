// The routing decision every request goes through, whatever answers it (an ordinary exchange or an
// Upgrade pipe): listener isolation by Host, 421 on SNI/Host mismatch, virtual host, route, and
// for a forward the backendRef picked (which may itself redirect or be unresolved).
import { ACTION_DIRECT, ACTION_REDIRECT, type CompiledBackendRef, type CompiledListener, type CompiledRoute } from "./compiled.js";
import type { HeaderEdit } from "./filters/header-mods.js";
import type { CompiledRedirect } from "./filters/request-redirect.js";
import type { IncomingHttpHeaders } from "node:http";
import type { RequestCounters } from "../observe/proxy-metrics.js";

export type RouteDecision =
  /** The gateway answers with a plain text status (no listener, 421, no route, unresolved backend). */
  | { kind: "reply"; status: number; body: string; route: CompiledRoute | null; backendLabel: string | null; counters: RequestCounters }
  | { kind: "redirect"; route: CompiledRoute; redirect: CompiledRedirect; edit: HeaderEdit | null }
  | { kind: "direct"; route: CompiledRoute }
  | { kind: "forward"; route: CompiledRoute; backend: CompiledBackendRef };

export interface RoutedRequest {
  host: string;
  path: string;
  query: string;
  decision: RouteDecision;
}

/** `host` is hostOf(authority); `sni` the TLS server name, if any. */
export function routeRequest(L: CompiledListener, host: string, sni: string | undefined, method: string, url: string, headers: IncomingHttpHeaders): RoutedRequest {
  const q = url.indexOf("?");
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? "" : url.slice(q + 1);
  return { host, path, query, decision: decide(L, host, sni, method, path, query, headers) };
}

function decide(L: CompiledListener, host: string, sni: string | undefined, method: string, path: string, query: string, headers: IncomingHttpHeaders): RouteDecision {
  const gw = L.gateways.lookup(host);
  if (gw === null) return { kind: "reply", status: 404, body: "no listener for this host\n", route: null, backendLabel: null, counters: L.notFound };
  if (L.tls !== null && typeof sni === "string" && sni.length > 0) {
    const sniGw = L.gateways.lookup(sni.toLowerCase());
    if (sniGw !== null && sniGw !== gw) return { kind: "reply", status: 421, body: "misdirected request\n", route: null, backendLabel: null, counters: gw.notFound };
  }
  const table = gw.vhosts.lookup(host);
  const r = table === null ? null : table.match(method, path, query, headers);
  if (r === null) return { kind: "reply", status: 404, body: "no route\n", route: null, backendLabel: null, counters: gw.notFound };
  if (r.action === ACTION_REDIRECT) return { kind: "redirect", route: r, redirect: r.redirect!, edit: r.responseEdit };
  if (r.action === ACTION_DIRECT) return { kind: "direct", route: r };
  // A live session names its endpoint: the backend holding it wins over the weighted pick.
  const backend = (r.sticky !== null ? sessionBackend(r.sticky, headers) : null) ?? r.backends.pick();
  if (backend === null || backend.cluster === null) {
    // No backends, or this share's backendRef did not resolve: 500 as the spec says.
    const counters = backend?.counters ?? r.counters;
    counters.error("unresolved");
    return { kind: "reply", status: 500, body: "backend not resolved\n", route: r, backendLabel: backend?.label ?? null, counters };
  }
  if (backend.redirect !== null) return { kind: "redirect", route: r, redirect: backend.redirect, edit: backend.responseEdit };
  return { kind: "forward", route: r, backend };
}

function sessionBackend(backends: CompiledBackendRef[], headers: IncomingHttpHeaders): CompiledBackendRef | null {
  const req = { headers };
  for (const b of backends) if (b.cluster!.holdsSession(req)) return b;
  return null;
}
