// TCPRoute, TLSRoute and UDPRoute: attachment to TCP / TLS (Passthrough or Terminate) / UDP
// listeners, route parent status, and the L4 part of the IR. TCP and UDP listeners serve their
// oldest attached route; on TLS ports the SNI picks the listener (most specific hostname), then a
// route of that listener, most specific hostname first (oldest route on a tie).
import type { IBackendRef } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/BackendRef";
import type { IParentReference } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/ParentReference";
import type { IrL4Backend, IrL4GatewayListener, IrL4Listener, IrL4Route } from "../ir/types.js";
import type { Condition, K8sObject, StatusEntry } from "../resources/types.js";
import { groupOf } from "../resources/types.js";
import { condition, sortConditions } from "./conditions.js";
import { type Context, refOfItem } from "./context.js";
import type { GatewayState, ListenerState } from "./gateways.js";
import { compareHostSpecificity, effectiveHostnames, normalizeHostname } from "./hostnames.js";
import { GW_GROUP, type Item, compareAge } from "./kinds.js";
import { type L4RefProblem, resolveL4BackendRef } from "./l4-backends.js";
import { isL4Protocol, transportOf } from "./l4-listeners.js";
import { namespaceAllowed, statusParentRef } from "./attachment.js";
import { canonicalJson, cmpNum, cmpStr } from "./util.js";

export type L4Kind = "TCPRoute" | "TLSRoute" | "UDPRoute";
const L4_KINDS: L4Kind[] = ["TCPRoute", "TLSRoute", "UDPRoute"];
const PROTOCOL_OF: Record<L4Kind, string> = { TCPRoute: "TCP", TLSRoute: "TLS", UDPRoute: "UDP" };

interface L4RouteSpec {
  spec?: {
    parentRefs?: IParentReference[];
    hostnames?: string[];
    rules?: { name?: string; backendRefs?: IBackendRef[] }[];
  };
}

export interface L4RouteItem extends Item<L4RouteSpec> {
  kind: L4Kind;
}

interface L4Attachment {
  listener: ListenerState;
  route: L4RouteItem;
  hostnames: string[];
  backends: IrL4Backend[];
}

/** The L4 routes of the input, deduplicated like the resource index does, oldest first. */
export function indexL4Routes(objects: K8sObject[]): L4RouteItem[] {
  const byKey = new Map<string, { obj: K8sObject; json: string }>();
  for (const obj of objects) {
    if (!obj || typeof obj !== "object" || !obj.metadata || typeof obj.metadata.name !== "string") continue;
    // Kind first: it rules out the (many) HTTPRoutes without slicing their apiVersion.
    if (!L4_KINDS.includes(obj.kind as L4Kind) || groupOf(obj.apiVersion) !== GW_GROUP) continue;
    const key = `${obj.kind}/${obj.metadata.namespace || "default"}/${obj.metadata.name}`;
    const json = canonicalJson(obj);
    const prev = byKey.get(key);
    if (!prev || json < prev.json) byKey.set(key, { obj, json });
  }
  const out: L4RouteItem[] = [];
  for (const { obj } of byKey.values()) {
    out.push({
      obj,
      typed: obj as unknown as L4RouteSpec,
      namespace: obj.metadata.namespace || "default",
      name: obj.metadata.name,
      generation: obj.metadata.generation,
      created: obj.metadata.creationTimestamp ?? "",
      kind: obj.kind as L4Kind,
    });
  }
  return out.sort((a, b) => compareAge(a, b) || cmpStr(a.kind, b.kind));
}

/** Resolves every backendRef of every rule (their union is the route's weighted backend set). */
function compileBackends(ctx: Context, route: L4RouteItem): { backends: IrL4Backend[]; problems: (L4RefProblem & { field: string })[] } {
  const backends: IrL4Backend[] = [];
  const problems: (L4RefProblem & { field: string })[] = [];
  (route.typed.spec?.rules ?? []).forEach((rule, i) => {
    (rule.backendRefs ?? []).forEach((ref, j) => {
      const field = `spec.rules[${i}].backendRefs[${j}]`;
      const r = resolveL4BackendRef(ctx, route.kind, route.namespace, ref);
      if (r.ok) {
        if (r.backend.weight > 0) backends.push(r.backend);
      } else {
        problems.push({ field, reason: r.reason, message: r.message, expected: r.expected });
        ctx.report("error", refOfItem(route), field, r.message, r.expected);
        // The share stays, so traffic to an unresolved backend is refused rather than shifted.
        const weight = ref.weight ?? 1;
        if (weight > 0) backends.push({ name: null, weight, endpoints: [] });
      }
    });
  });
  return { backends, problems };
}

/**
 * Attaches every L4 route to its listeners and returns the route statuses; `gateways` get their
 * attachedRoutes counts. The attachments feed buildL4Listeners.
 */
export function translateL4Routes(
  ctx: Context,
  routes: L4RouteItem[],
  gateways: Map<string, GatewayState>,
  allGateways: Set<string>,
  statuses: StatusEntry[],
): L4Attachment[] {
  const attachments: L4Attachment[] = [];
  for (const route of routes) {
    const ref = refOfItem(route);
    const parents: { index: number; ref: IParentReference; gateway: GatewayState }[] = [];
    const seen = new Set<string>();
    (route.typed.spec?.parentRefs ?? []).forEach((p, index) => {
      if ((p.group ?? GW_GROUP) !== GW_GROUP || (p.kind ?? "Gateway") !== "Gateway") return;
      const key = `${p.namespace || route.namespace}/${p.name}`;
      const gw = gateways.get(key);
      if (!gw) {
        if (!allGateways.has(key)) ctx.report("warning", ref, `spec.parentRefs[${index}]`, `Gateway ${key} not found`, "the name of an existing Gateway");
        return;
      }
      const dedupe = canonicalJson(statusParentRef(p));
      if (seen.has(dedupe)) return;
      seen.add(dedupe);
      parents.push({ index, ref: p, gateway: gw });
    });
    if (parents.length === 0) continue;

    const gen = route.generation;
    const { backends, problems } = compileBackends(ctx, route);
    const resolved =
      problems.length === 0
        ? condition("ResolvedRefs", true, "ResolvedRefs", "Resolved all references", gen)
        : condition("ResolvedRefs", false, problems[0].reason, problems.map((p) => `${p.field}: ${p.message}`).slice(0, 8).join("; "), gen);
    const routeHosts = route.kind === "TLSRoute" ? (route.typed.spec?.hostnames ?? []).map(normalizeHostname) : [];
    const parentStatuses: Record<string, unknown>[] = [];
    for (const { index, ref: pref, gateway } of parents) {
      const field = `spec.parentRefs[${index}]`;
      const gwName = `${gateway.item.namespace}/${gateway.item.name}`;
      let accepted: Condition;
      const selected = gateway.listeners.filter(
        (l) => (pref.sectionName === undefined || l.name === pref.sectionName) && (pref.port === undefined || l.port === pref.port),
      );
      if (selected.length === 0) {
        const what = [pref.sectionName !== undefined ? `named ${pref.sectionName}` : "", pref.port !== undefined ? `on port ${pref.port}` : ""].filter(Boolean).join(" ");
        const msg = `Gateway ${gwName} has no listener ${what}`.trim();
        accepted = condition("Accepted", false, "NoMatchingParent", msg, gen);
        ctx.report("error", ref, field, msg, "sectionName/port of an existing listener");
      } else {
        const why: string[] = [];
        const allowed = selected.filter((l) => {
          // A listener that is not accepted (e.g. an unsupported TLS mode) serves nothing to attach to.
          if (!l.accepted.ok) {
            why.push(`listener ${l.name} is not accepted (${l.accepted.reason})`);
            return false;
          }
          if (!l.supportedKinds.some((k) => k.group === GW_GROUP && k.kind === route.kind)) {
            why.push(`listener ${l.name} does not allow ${route.kind}`);
            return false;
          }
          const nsWhy = namespaceAllowed(ctx, l, route.namespace);
          if (nsWhy) why.push(`listener ${l.name}: ${nsWhy}`);
          return nsWhy === null;
        });
        if (allowed.length === 0) {
          const msg = `not allowed by Gateway ${gwName}: ${why.join("; ")}`;
          accepted = condition("Accepted", false, "NotAllowedByListeners", msg, gen);
          ctx.report("error", ref, field, msg, `a ${PROTOCOL_OF[route.kind]} listener whose allowedRoutes admits this route's namespace`);
        } else {
          let attached = 0;
          for (const l of allowed) {
            const hosts = route.kind === "TLSRoute" ? effectiveHostnames(l.hostname, routeHosts) : [];
            if (route.kind === "TLSRoute" && hosts.length === 0) continue;
            attached++;
            if (attachments.some((a) => a.listener === l && a.route === route)) continue;
            l.attachedRoutes++;
            attachments.push({ listener: l, route, hostnames: hosts, backends });
          }
          if (attached === 0) {
            const lh = allowed.map((l) => l.hostname ?? "*").join(", ");
            const msg = `no route hostname (${routeHosts.join(", ")}) matches the listener hostnames (${lh}) of Gateway ${gwName}`;
            accepted = condition("Accepted", false, "NoMatchingListenerHostname", msg, gen);
            ctx.report("error", ref, "spec.hostnames", msg, `a hostname matching ${lh}`);
          } else {
            accepted = condition("Accepted", true, "Accepted", "Accepted", gen);
          }
        }
      }
      parentStatuses.push({ parentRef: statusParentRef(pref), controllerName: ctx.controllerName, conditions: sortConditions([accepted, resolved]) });
    }
    statuses.push({ ref: { group: GW_GROUP, kind: route.kind, namespace: route.namespace, name: route.name }, status: { parents: parentStatuses } });
  }
  return attachments;
}

function routeName(route: L4RouteItem): string {
  return `${route.kind.toLowerCase()}/${route.namespace}/${route.name}`;
}

/** One route entry per hostname (the oldest route keeps a hostname), most specific first. */
function tlsRoutes(entries: L4Attachment[]): IrL4Route[] {
  const taken = new Set<string>();
  const routes: IrL4Route[] = [];
  for (const a of entries)
    for (const h of a.hostnames) {
      if (taken.has(h)) continue;
      taken.add(h);
      routes.push({ name: routeName(a.route), hostname: h, backends: a.backends });
    }
  return routes.sort((x, y) => compareHostSpecificity(x.hostname, y.hostname));
}

const byAge = (a: L4Attachment, b: L4Attachment): number => compareAge(a.route, b.route) || cmpStr(a.route.kind, b.route.kind);

/** Programmed L4 listeners, merged per transport and port, with their routes in serving order. */
export function buildL4Listeners(gateways: GatewayState[], attachments: L4Attachment[]): IrL4Listener[] {
  const byPort = new Map<string, { port: number; protocol: "TCP" | "TLS" | "UDP"; entries: L4Attachment[]; listeners: ListenerState[] }>();
  for (const g of gateways) {
    for (const l of g.listeners) {
      if (!l.programmed.ok || !isL4Protocol(l.protocol)) continue;
      const key = `${transportOf(l.protocol)}/${l.port}`;
      const slot = byPort.get(key) ?? { port: l.port, protocol: l.protocol as "TCP" | "TLS" | "UDP", entries: [], listeners: [] };
      slot.entries.push(...attachments.filter((a) => a.listener === l));
      slot.listeners.push(l);
      byPort.set(key, slot);
    }
  }
  const out: IrL4Listener[] = [];
  for (const slot of byPort.values()) {
    // Attachments are in route age order already: the oldest route wins a tie.
    const ordered = [...slot.entries].sort(byAge);
    const name = `${slot.protocol.toLowerCase()}-${slot.port}`;
    if (slot.protocol === "TLS") {
      // Listener isolation: the SNI picks the most specific listener hostname, then a route of that
      // listener only. Terminate listeners carry their certificates.
      const gatewayListeners: IrL4GatewayListener[] = slot.listeners
        .map((l) => ({
          name: `${l.gateway.item.namespace}/${l.gateway.item.name}/${l.name}`,
          hostname: l.hostname,
          tls: l.tlsMode === "Terminate" ? { certificates: l.certificates } : null,
          routes: tlsRoutes(ordered.filter((a) => a.listener === l)),
        }))
        .sort((x, y) => compareHostSpecificity(x.hostname, y.hostname) || cmpStr(x.name, y.name));
      out.push({ name, port: slot.port, protocol: "TLS", routes: tlsRoutes(ordered), gatewayListeners });
      continue;
    }
    const seen = new Set<L4RouteItem>();
    const routes: IrL4Route[] = [];
    for (const a of ordered) {
      if (seen.has(a.route)) continue;
      seen.add(a.route);
      routes.push({ name: routeName(a.route), hostname: null, backends: a.backends });
    }
    out.push({ name, port: slot.port, protocol: slot.protocol, routes });
  }
  return out.sort((a, b) => cmpStr(transportOf(a.protocol), transportOf(b.protocol)) || cmpNum(a.port, b.port));
}
