// IR L4 listener -> what a connection needs at accept time: a backend picker per route and, for
// TLS, an SNI -> route lookup (most specific hostname first, as the translator ordered them).
import type { IrL4Listener } from "../ir/types.js";
import { compileHostname, type HostTest } from "../proxy/hostname.js";
import { BackendPicker } from "./pick.js";

export interface CompiledL4Route {
  name: string;
  picker: BackendPicker;
}

export interface CompiledL4Listener {
  name: string;
  port: number;
  protocol: "TCP" | "TLS" | "UDP";
  /** TCP/UDP: the route serving every connection (null: none attached -> refuse). */
  route: CompiledL4Route | null;
  /** TLS: route for a ClientHello's server name (null = no SNI sent). */
  routeForSni(serverName: string | null): CompiledL4Route | null;
}

export function compileL4Listener(l: IrL4Listener): CompiledL4Listener {
  const exact = new Map<string, CompiledL4Route>();
  const wildcards: { length: number; matches: HostTest; route: CompiledL4Route }[] = [];
  let any: CompiledL4Route | null = null;
  const compiled = l.routes.map((r) => ({ ir: r, c: { name: r.name, picker: new BackendPicker(r.backends) } }));
  for (const { ir, c } of compiled) {
    const h = ir.hostname;
    if (h === null || h === "*") any ??= c;
    else if (h.startsWith("*.")) wildcards.push({ length: h.length, matches: compileHostname(h), route: c });
    else if (!exact.has(h)) exact.set(h, c);
  }
  // Longest suffix first, so "*.a.example.com" wins over "*.example.com".
  wildcards.sort((a, b) => b.length - a.length);
  return {
    name: l.name,
    port: l.port,
    protocol: l.protocol,
    route: compiled[0]?.c ?? null,
    routeForSni(serverName) {
      if (serverName === null) return any;
      const e = exact.get(serverName);
      if (e) return e;
      for (const w of wildcards) if (w.matches(serverName)) return w.route;
      return any;
    },
  };
}
