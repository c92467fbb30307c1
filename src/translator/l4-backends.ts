// backendRefs of TCPRoute / TLSRoute / UDPRoute -> weighted endpoint sets. Unlike HTTP clusters the
// Service port's appProtocol does not matter (bytes are relayed as they are), but its transport must
// match the route's: TCP for TCPRoute and TLSRoute, UDP for UDPRoute.
import type { IBackendRef } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/BackendRef";
import type { IrEndpoint, IrL4Backend } from "../ir/types.js";
import type { Context } from "./context.js";
import { backendTls } from "./backend-tls.js";
import { checkBackendRef, compareEndpoints } from "./backends.js";

export interface L4RefProblem {
  reason: "BackendNotFound" | "InvalidKind" | "RefNotPermitted" | "UnsupportedProtocol";
  message: string;
  expected: string;
}

export type L4Resolution = { ok: true; backend: IrL4Backend } | ({ ok: false } & L4RefProblem);

interface SliceLike {
  endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[];
  ports?: { name?: string; port?: number; protocol?: string }[];
}

export function resolveL4BackendRef(ctx: Context, routeKind: string, routeNs: string, ref: IBackendRef): L4Resolution {
  const transport = routeKind === "UDPRoute" ? "UDP" : "TCP";
  const weight = ref.weight ?? 1;
  const t = checkBackendRef(ctx, routeKind, routeNs, ref);
  if (!t.ok) return t;
  const { ns, id, isService } = t;
  if (!isService) {
    const be = ctx.index.backends.get(id);
    if (!be) return { ok: false, reason: "BackendNotFound", message: `Backend ${id} not found`, expected: "an existing Backend" };
    const endpoints: IrEndpoint[] = [];
    for (const e of be.typed.spec?.endpoints ?? []) {
      const w = e.weight ?? 1;
      if (e.ip) endpoints.push({ address: e.ip.address, port: e.ip.port, weight: w });
      else if (e.fqdn) endpoints.push({ address: e.fqdn.hostname.toLowerCase(), port: e.fqdn.port, weight: w });
      else if (e.unix && transport === "TCP") endpoints.push({ path: e.unix.path, weight: w });
    }
    const backend: IrL4Backend = { name: `backend/${id}`, weight, endpoints: endpoints.sort(compareEndpoints) };
    if (routeKind === "TLSRoute") withTls(backend, backendTls(ctx, "Backend", ns, be.name, undefined));
    return { ok: true, backend };
  }
  const svc = ctx.index.services.get(id);
  if (!svc) return { ok: false, reason: "BackendNotFound", message: `Service ${id} not found`, expected: "an existing Service" };
  if (ref.port === undefined) return { ok: false, reason: "BackendNotFound", message: `backendRef to Service ${id} has no port`, expected: "the port of the Service to use" };
  const spec = svc.typed.spec ?? {};
  const sp = (spec.ports ?? []).find((p) => p.port === ref.port && (p.protocol ?? "TCP") === transport);
  if (spec.type === "ExternalName" && spec.externalName) {
    const backend: IrL4Backend = { name: `service/${id}/${ref.port}`, weight, endpoints: [{ address: spec.externalName, port: ref.port, weight: 1 }] };
    if (routeKind === "TLSRoute") withTls(backend, backendTls(ctx, "Service", ns, svc.name, sp?.name));
    return { ok: true, backend };
  }
  if (!sp) {
    const other = (spec.ports ?? []).find((p) => p.port === ref.port);
    if (other) {
      return { ok: false, reason: "UnsupportedProtocol", message: `Service ${id} port ${ref.port} is ${other.protocol ?? "TCP"}, a ${routeKind} needs ${transport}`, expected: `a ${transport} port` };
    }
    return { ok: false, reason: "BackendNotFound", message: `Service ${id} has no port ${ref.port}`, expected: "one of its ports" };
  }
  const wanted = sp.name ?? "";
  const seen = new Set<string>();
  const endpoints: IrEndpoint[] = [];
  for (const s of ctx.index.endpointSlices.get(id) ?? []) {
    const typed = s.typed as SliceLike;
    const port = (typed.ports ?? []).find((p) => (p.name ?? "") === wanted && (p.protocol ?? "TCP") === transport);
    if (!port || port.port === undefined) continue;
    for (const ep of typed.endpoints ?? []) {
      if (ep.conditions?.ready === false) continue;
      for (const address of ep.addresses ?? []) {
        const key = `${address}|${port.port}`;
        if (seen.has(key)) continue;
        seen.add(key);
        endpoints.push({ address, port: port.port, weight: 1 });
      }
    }
  }
  const backend: IrL4Backend = { name: `service/${id}/${ref.port}`, weight, endpoints: endpoints.sort(compareEndpoints) };
  if (routeKind === "TLSRoute") withTls(backend, backendTls(ctx, "Service", ns, svc.name, sp.name));
  return { ok: true, backend };
}

/**
 * BackendTLSPolicy applies to TLSRoute backends only: a TCPRoute relays opaque bytes, and a
 * policy there would turn them into TLS the client never asked for.
 */
function withTls(backend: IrL4Backend, tls: IrL4Backend["tls"]): void {
  if (tls !== undefined) backend.tls = tls;
}
