// What the kernel L4 load balancer serves, derived from an IR snapshot (pure): one service per TCP/UDP
// L4 listener (its VIPs are the gateway's addresses at the listener port) and per Service cluster
// IP port. Backends carry effective weights: route backend weight x the endpoint's share within it,
// so a connection balanced in the kernel lands where the userspace proxy would have sent it.
import type { IrConfig, IrEndpoint, IrL4Listener, IrServiceVip } from "../ir/types.js";
import { parseCidr, type Family } from "./cidr.js";

export type LbProto = "TCP" | "UDP";

export interface LbAddr {
  family: Family;
  /** Canonical text (as parsed); bytes come from parseCidr. */
  address: string;
  port: number;
}

export interface LbBackend extends LbAddr {
  weight: number;
}

export interface LbService {
  /** "listener/<name>" or the IR service VIP name. */
  name: string;
  proto: LbProto;
  vips: LbAddr[];
  /** Sorted by key; weights > 0. */
  backends: LbBackend[];
  /** Share of unresolved backends (connect/sendmsg refused), in the same unit as weights. */
  refuseWeight: number;
}

export interface LbSkip {
  name: string;
  reason: string;
}

export interface LbModel {
  /** Sorted by name. */
  services: LbService[];
  /** Listeners and VIPs left to the userspace proxy, with why. */
  skipped: LbSkip[];
}

export function addrKey(a: LbAddr): string {
  return a.family === 4 ? `${a.address}:${a.port}` : `[${a.address}]:${a.port}`;
}

function familyOf(address: string): Family | undefined {
  const p = parseCidr(address);
  return typeof p === "string" || address.includes("/") ? undefined : p.family;
}

type Resolved = { backends: LbBackend[]; refuseWeight: number } | { error: string };

/** Weighted groups of endpoints -> effective per-endpoint weights, all of one family. */
function resolve(groups: { weight: number; endpoints: IrEndpoint[] | null }[]): Resolved {
  const byKey = new Map<string, LbBackend>();
  let refuseWeight = 0;
  let family: Family | undefined;
  for (const g of groups) {
    if (!(g.weight > 0)) continue;
    const eps = (g.endpoints ?? []).filter((e) => e.weight > 0);
    const total = eps.reduce((s, e) => s + e.weight, 0);
    if (eps.length === 0 || total <= 0) {
      refuseWeight += g.weight;
      continue;
    }
    for (const e of eps) {
      if (!("address" in e)) return { error: `endpoint ${e.path} is a unix socket` };
      const f = familyOf(e.address);
      if (!f) return { error: `endpoint ${e.address}:${e.port} is not an IP address` };
      if (family && f !== family) return { error: "endpoints mix IPv4 and IPv6" };
      family = f;
      const b: LbBackend = { family: f, address: e.address, port: e.port, weight: 0 };
      const k = addrKey(b);
      const prev = byKey.get(k) ?? b;
      prev.weight += (g.weight * e.weight) / total;
      byKey.set(k, prev);
    }
  }
  const backends = [...byKey.values()].sort((a, b) => (addrKey(a) < addrKey(b) ? -1 : addrKey(a) > addrKey(b) ? 1 : 0));
  return { backends, refuseWeight };
}

function listenerService(l: IrL4Listener, addresses: string[]): LbService | LbSkip {
  const name = `listener/${l.name}`;
  if (l.protocol === "TLS") return { name, reason: "TLS passthrough routes by SNI, which only the proxy can read" };
  const route = l.routes[0];
  if (!route) return { name, reason: "no route attached" };
  const r = resolve(route.backends.map((b) => ({ weight: b.weight, endpoints: b.name === null ? null : b.endpoints })));
  if ("error" in r) return { name, reason: r.error };
  return finish(name, l.protocol, addresses, l.port, r);
}

function vipService(v: IrServiceVip): LbService | LbSkip {
  const r = resolve([{ weight: 1, endpoints: v.endpoints }]);
  if ("error" in r) return { name: v.name, reason: r.error };
  return finish(v.name, v.protocol, v.addresses, v.port, r);
}

function finish(name: string, proto: LbProto, addresses: string[], port: number, r: { backends: LbBackend[]; refuseWeight: number }): LbService | LbSkip {
  const backendFamily = r.backends[0]?.family;
  const vips: LbAddr[] = [];
  for (const a of addresses) {
    const f = familyOf(a);
    // A connect4 hook cannot hand an IPv4 socket an IPv6 backend (nor the reverse).
    if (f && (backendFamily === undefined || f === backendFamily)) vips.push({ family: f, address: a, port });
  }
  if (vips.length === 0) return { name, reason: `no address of the backends' family (IPv${backendFamily ?? "?"}) to serve` };
  return { name, proto, vips, backends: r.backends, refuseWeight: r.refuseWeight };
}

/**
 * The model for a snapshot. `gatewayAddresses` are the addresses the gateway's listeners are
 * reachable on (its --listen-address, or every interface address); each TCP/UDP listener's VIPs
 * are those addresses at its port. A VIP claimed twice keeps its first service (listeners first).
 */
export function lbModel(config: Pick<IrConfig, "l4Listeners" | "serviceVips">, gatewayAddresses: string[]): LbModel {
  const services: LbService[] = [];
  const skipped: LbSkip[] = [];
  const claimed = new Map<string, string>();
  const candidates = [...(config.l4Listeners ?? []).map((l) => listenerService(l, gatewayAddresses)), ...(config.serviceVips ?? []).map(vipService)];
  for (const c of candidates) {
    if ("reason" in c) {
      skipped.push(c);
      continue;
    }
    const vips = c.vips.filter((v) => {
      const k = `${c.proto}/${addrKey(v)}`;
      const owner = claimed.get(k);
      if (owner) {
        skipped.push({ name: c.name, reason: `${c.proto} ${addrKey(v)} is already served by ${owner}` });
        return false;
      }
      claimed.set(k, c.name);
      return true;
    });
    if (vips.length > 0) services.push({ ...c, vips });
  }
  services.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { services, skipped };
}
