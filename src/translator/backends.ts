// backendRefs -> clusters. Services take their endpoints from EndpointSlices (ready endpoints of
// the slice port named like the Service port); our Backend kind lists static endpoints.
import type { IBackendObjectReference } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/BackendObjectReference";
import type { IServicePort } from "kubernetes-models/v1/ServicePort";
import type { IrCluster, IrEndpoint } from "../ir/types.js";
import { backendTls } from "./backend-tls.js";
import { sliceWeights, weightOf } from "./endpoint-weights.js";
import type { Context } from "./context.js";
import { GW_GROUP, SLUICE_GROUP, type BackendSpec, type Item } from "./kinds.js";
import { referencePermitted } from "./reference-grants.js";
import { cmpNum, cmpStr } from "./util.js";

export type RefReason = "BackendNotFound" | "InvalidKind" | "RefNotPermitted" | "UnsupportedProtocol";

export type BackendResolution =
  | { ok: true; cluster: string }
  | { ok: false; reason: RefReason; message: string; expected: string };

type Protocol = IrCluster["protocol"];

/** Service appProtocol -> cluster protocol; undefined when we cannot speak it. */
function serviceProtocol(appProtocol: string | undefined): Protocol | undefined {
  if (appProtocol === undefined || appProtocol === "" || appProtocol.toLowerCase() === "http") return "http1";
  if (appProtocol === "kubernetes.io/h2c") return "h2c";
  if (appProtocol === "kubernetes.io/ws") return "ws";
  return undefined;
}

/**
 * gRPC needs HTTP/2: a GRPCRoute backend whose port names no protocol is spoken to over HTTP/2
 * (the spec lets the route type imply it). Such clusters get their own name, since an HTTPRoute to
 * the same port speaks HTTP/1.1.
 */
function inferredForRoute(routeKind: string, appProtocol: string | undefined, protocol: Protocol): { protocol: Protocol; suffix: string } {
  if (routeKind !== "GRPCRoute" || protocol === "h2c") return { protocol, suffix: "" };
  if (appProtocol === undefined || appProtocol === "" || appProtocol.toLowerCase() === "https") return { protocol: "h2c", suffix: "/grpc" };
  return { protocol, suffix: "" };
}

/** Backend appProtocols (the loader admits the same two values). */
function backendProtocol(appProtocols: string[]): Protocol | undefined {
  let proto: Protocol = "http1";
  for (const p of appProtocols) {
    if (p === "kubernetes.io/h2c") proto = "h2c";
    else if (p === "kubernetes.io/ws") proto = "ws";
    else return undefined;
  }
  return proto;
}

export function compareEndpoints(a: IrEndpoint, b: IrEndpoint): number {
  const ka = "path" in a ? a.path : a.address;
  const kb = "path" in b ? b.path : b.address;
  const pa = "port" in a ? a.port : 0;
  const pb = "port" in b ? b.port : 0;
  return cmpStr(ka, kb) || cmpNum(pa, pb) || cmpNum(a.weight, b.weight);
}

export type RefProblem = { ok: false; reason: RefReason; message: string; expected: string };

/** What a backendRef names once its kind and any cross-namespace grant are checked. */
export interface RefTarget {
  ok: true;
  isService: boolean;
  /** Namespace of the referent. */
  ns: string;
  /** "<namespace>/<name>" */
  id: string;
}

/**
 * The checks every backendRef passes, whichever route carries it: a kind we can serve (Service or
 * our Backend) and, across namespaces, a ReferenceGrant from `routeKind`s in `routeNs`.
 */
export function checkBackendRef(
  ctx: Context,
  routeKind: string,
  routeNs: string,
  ref: { group?: string; kind?: string; namespace?: string; name: string },
): RefTarget | RefProblem {
  const group = ref.group ?? "";
  const kind = ref.kind ?? "Service";
  const ns = ref.namespace || routeNs;
  const id = `${ns}/${ref.name}`;
  const isService = group === "" && kind === "Service";
  const isBackend = group === SLUICE_GROUP && kind === "Backend";
  if (!isService && !isBackend) {
    return {
      ok: false,
      reason: "InvalidKind",
      message: `backendRef kind ${group ? group + "/" : ""}${kind} is not supported`,
      expected: `a Service (group "", kind Service) or a Backend (group ${SLUICE_GROUP}, kind Backend)`,
    };
  }
  if (!referencePermitted(ctx.index, { group: GW_GROUP, kind: routeKind, namespace: routeNs }, { group, kind, namespace: ns, name: ref.name })) {
    return {
      ok: false,
      reason: "RefNotPermitted",
      message: `${kind} ${id} is in another namespace and no ReferenceGrant allows it`,
      expected: `a ReferenceGrant in namespace ${ns} from ${routeKind}s in ${routeNs} to ${kind}s`,
    };
  }
  return { ok: true, isService, ns, id };
}

/**
 * Resolves one backendRef (of a route rule or a mirror filter) for a route in `routeNs`, registering
 * the cluster it names. `routeKind` is the referrer kind ReferenceGrants are checked against.
 */
export function resolveBackendRef(ctx: Context, routeKind: string, routeNs: string, ref: IBackendObjectReference): BackendResolution {
  const t = checkBackendRef(ctx, routeKind, routeNs, ref);
  if (!t.ok) return t;
  return t.isService ? resolveService(ctx, t.ns, ref.name, ref.port, routeKind) : resolveBackend(ctx, t.ns, ref.name, routeKind);
}

function resolveService(ctx: Context, ns: string, name: string, port: number | undefined, routeKind: string): BackendResolution {
  const id = `${ns}/${name}`;
  const svc = ctx.index.services.get(id);
  if (!svc) return { ok: false, reason: "BackendNotFound", message: `Service ${id} not found`, expected: "an existing Service" };
  if (port === undefined) {
    return { ok: false, reason: "BackendNotFound", message: `backendRef to Service ${id} has no port`, expected: "the port of the Service to use" };
  }
  const spec = svc.typed.spec ?? {};
  const servicePort = (spec.ports ?? []).find((p) => p.port === port);
  if (!servicePort && spec.type !== "ExternalName") {
    const have = (spec.ports ?? []).map((p) => p.port).join(", ");
    return { ok: false, reason: "BackendNotFound", message: `Service ${id} has no port ${port}`, expected: `one of its ports${have ? ` (${have})` : ""}` };
  }
  let declared = serviceProtocol(servicePort?.appProtocol);
  // appProtocol https is spoken only with a BackendTLSPolicy saying how to verify the backend.
  const tls = backendTls(ctx, "Service", ns, name, servicePort?.name);
  if (!declared && tls && servicePort?.appProtocol?.toLowerCase() === "https") declared = "http1";
  if (!declared || (servicePort?.protocol !== undefined && servicePort.protocol !== "TCP")) {
    return {
      ok: false,
      reason: "UnsupportedProtocol",
      message: `Service ${id} port ${port} uses ${servicePort?.appProtocol ? `appProtocol ${servicePort.appProtocol}` : `protocol ${servicePort?.protocol}`}`,
      expected: "TCP with no appProtocol, http, kubernetes.io/h2c or kubernetes.io/ws (https with a BackendTLSPolicy targeting the port)",
    };
  }
  const { protocol, suffix } = inferredForRoute(routeKind, servicePort?.appProtocol, declared);
  const clusterName = `service/${ns}/${name}/${port}${suffix}`;
  if (!ctx.clusters.has(clusterName)) {
    const endpoints =
      spec.type === "ExternalName" && spec.externalName
        ? [{ address: spec.externalName, port, weight: 1 }]
        : sliceEndpoints(ctx, ctx.index.endpointSlices.get(id) ?? [], servicePort);
    const cluster: IrCluster = { name: clusterName, protocol, endpoints };
    if (tls) cluster.tls = tls;
    ctx.clusters.set(clusterName, cluster);
  }
  return { ok: true, cluster: clusterName };
}

interface SliceLike {
  endpoints?: { addresses: string[]; conditions?: { ready?: boolean } }[];
  ports?: { name?: string; port?: number }[];
}

/** Ready endpoints of the slice port that carries the Service port's name. */
function sliceEndpoints(ctx: Context, slices: Item<SliceLike>[], servicePort: IServicePort | undefined): IrEndpoint[] {
  const wanted = servicePort?.name ?? "";
  const seen = new Set<string>();
  const out: IrEndpoint[] = [];
  for (const s of slices) {
    const sp = (s.typed.ports ?? []).find((p) => (p.name ?? "") === wanted);
    if (!sp || sp.port === undefined) continue;
    const weights = sliceWeights(ctx, s);
    for (const ep of s.typed.endpoints ?? []) {
      // A missing ready condition means ready, as in Kubernetes.
      if (ep.conditions?.ready === false) continue;
      for (const address of ep.addresses ?? []) {
        const key = `${address}|${sp.port}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ address, port: sp.port, weight: weightOf(weights, address) });
      }
    }
  }
  return out.sort(compareEndpoints);
}

/** Our Backend kind. A port on the backendRef is ignored: the endpoints carry their own ports. */
function resolveBackend(ctx: Context, ns: string, name: string, routeKind: string): BackendResolution {
  const id = `${ns}/${name}`;
  const be = ctx.index.backends.get(id);
  if (!be) return { ok: false, reason: "BackendNotFound", message: `Backend ${id} not found`, expected: "an existing Backend" };
  const spec: BackendSpec = be.typed.spec ?? {};
  const declared = backendProtocol(spec.appProtocols ?? []);
  if (!declared) {
    return {
      ok: false,
      reason: "UnsupportedProtocol",
      message: `Backend ${id} has appProtocols ${(spec.appProtocols ?? []).join(", ")}`,
      expected: "kubernetes.io/h2c or kubernetes.io/ws (or none for HTTP/1.1)",
    };
  }
  const { protocol, suffix } = inferredForRoute(routeKind, (spec.appProtocols ?? [])[0], declared);
  const clusterName = `backend/${ns}/${name}${suffix}`;
  if (!ctx.clusters.has(clusterName)) {
    const endpoints: IrEndpoint[] = [];
    for (const e of spec.endpoints ?? []) {
      const weight = e.weight ?? 1;
      if (e.ip) endpoints.push({ address: e.ip.address, port: e.ip.port, weight });
      else if (e.fqdn) endpoints.push({ address: e.fqdn.hostname.toLowerCase(), port: e.fqdn.port, weight });
      else if (e.unix) endpoints.push({ path: e.unix.path, weight });
    }
    const cluster: IrCluster = { name: clusterName, protocol, endpoints: endpoints.sort(compareEndpoints) };
    const tls = backendTls(ctx, "Backend", ns, name, undefined);
    if (tls) cluster.tls = tls;
    ctx.clusters.set(clusterName, cluster);
  }
  return { ok: true, cluster: clusterName };
}
