// IR L4 listener -> what a connection needs at accept time: a backend picker per route (with its
// counters bound) and, for TLS, an SNI -> (Gateway listener, route) lookup: the most specific
// listener hostname first (listener isolation), then the most specific route hostname. A Gateway
// listener in mode Terminate carries the secure contexts to complete the handshake with.
import type { IrL4GatewayListener, IrL4Listener, IrL4Route } from "../ir/types.js";
import { L4ListenerStats, L4RouteStats } from "../observe/l4-metrics.js";
import { compileHostname, type HostTest } from "../proxy/hostname.js";
import { TlsSelector } from "../proxy/tls.js";
import { BackendPicker } from "./pick.js";

export interface CompiledL4Route {
  name: string;
  picker: BackendPicker;
  stats: L4RouteStats;
}

/** What the SNI of a TLS connection selects. */
export interface SniMatch {
  /** How the Gateway listener the SNI selected serves it; null: no listener matched. */
  mode: "passthrough" | "terminate" | null;
  route: CompiledL4Route | null;
  /** mode Terminate: the certificates to answer with; null: passthrough. */
  terminate: TlsSelector | null;
}

export interface CompiledL4Listener {
  name: string;
  port: number;
  protocol: "TCP" | "TLS" | "UDP";
  stats: L4ListenerStats;
  /** TCP/UDP: the route serving every connection (null: none attached -> refuse). */
  route: CompiledL4Route | null;
  /** TLS: Gateway listener and route for a ClientHello's server name (null = no SNI sent). */
  forSni(serverName: string | null): SniMatch;
  /** Passthrough route lookup by SNI alone (kept for callers that know no Terminate). */
  routeForSni(serverName: string | null): CompiledL4Route | null;
}

/** SNI -> route among one Gateway listener's routes: exact, then longest wildcard, then any. */
class RouteTable {
  private readonly exact = new Map<string, CompiledL4Route>();
  private readonly wildcards: { length: number; matches: HostTest; route: CompiledL4Route }[] = [];
  private any: CompiledL4Route | null = null;

  constructor(routes: { ir: IrL4Route; c: CompiledL4Route }[]) {
    for (const { ir, c } of routes) {
      const h = ir.hostname;
      if (h === null || h === "*") this.any ??= c;
      else if (h.startsWith("*.")) this.wildcards.push({ length: h.length, matches: compileHostname(h), route: c });
      else if (!this.exact.has(h)) this.exact.set(h, c);
    }
    // Longest suffix first, so "*.a.example.com" wins over "*.example.com".
    this.wildcards.sort((a, b) => b.length - a.length);
  }

  lookup(serverName: string | null): CompiledL4Route | null {
    if (serverName === null) return this.any;
    const e = this.exact.get(serverName);
    if (e) return e;
    for (const w of this.wildcards) if (w.matches(serverName)) return w.route;
    return this.any;
  }
}

interface CompiledGatewayListener {
  /** null: matches any SNI and connections without one. */
  matches: HostTest | null;
  table: RouteTable;
  terminate: TlsSelector | null;
}

const NO_MATCH: SniMatch = { mode: null, route: null, terminate: null };

export function compileL4Listener(l: IrL4Listener): CompiledL4Listener {
  // One compiled route (picker + counters) per route name, shared by the flat and per-listener views.
  const byName = new Map<string, CompiledL4Route>();
  const compileRoute = (r: IrL4Route): { ir: IrL4Route; c: CompiledL4Route } => {
    let c = byName.get(r.name);
    if (!c) {
      const stats = new L4RouteStats(l.name, r.name);
      c = { name: r.name, picker: new BackendPicker(r.backends, stats), stats };
      byName.set(r.name, c);
    }
    return { ir: r, c };
  };
  const flat = l.routes.map(compileRoute);
  const flatTable = new RouteTable(flat);
  const gateways: CompiledGatewayListener[] = (l.gatewayListeners ?? []).map((g) => compileGatewayListener(g, compileRoute));
  const forSni =
    l.gatewayListeners === undefined
      ? (serverName: string | null): SniMatch => ({ mode: "passthrough", route: flatTable.lookup(serverName), terminate: null })
      : (serverName: string | null): SniMatch => {
          for (const g of gateways) {
            if (g.matches === null || (serverName !== null && g.matches(serverName))) {
              return { mode: g.terminate ? "terminate" : "passthrough", route: g.table.lookup(serverName), terminate: g.terminate };
            }
          }
          return NO_MATCH;
        };
  return {
    name: l.name,
    port: l.port,
    protocol: l.protocol,
    stats: new L4ListenerStats(l.name),
    route: flat[0]?.c ?? null,
    forSni,
    routeForSni: (serverName) => flatTable.lookup(serverName),
  };
}

function compileGatewayListener(g: IrL4GatewayListener, compileRoute: (r: IrL4Route) => { ir: IrL4Route; c: CompiledL4Route }): CompiledGatewayListener {
  let terminate: TlsSelector | null = null;
  if (g.tls !== null) {
    // The listener hostname was matched already: the selector only chooses among its certificates.
    // Throws on an unusable certificate, which makes the whole snapshot fail to apply.
    terminate = new TlsSelector([{ name: g.name, hostname: null, tls: g.tls, virtualHosts: [] }], new Set());
  }
  // A Terminate listener without a certificate (never programmed by the translator) refuses
  // everything rather than passing bytes through.
  const routes = g.tls !== null && terminate?.defaultPem == null ? [] : g.routes;
  return {
    matches: g.hostname === null ? null : compileHostname(g.hostname),
    table: new RouteTable(routes.map(compileRoute)),
    terminate,
  };
}
