// GatewayClass and Gateway semantics: class acceptance, listener validation, TLS certificates,
// allowed route kinds/namespaces, port/hostname conflicts (also across Gateways, which share the
// host's addresses in standalone mode), and the resulting status.
import type { IListener } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/Listener";
import type { IrCertificate } from "../ir/types.js";
import type { Condition, StatusEntry } from "../resources/types.js";
import { resolveCertificate } from "./certificates.js";
import { frontendValidation, gatewayTlsConditions, resolveGatewayTls } from "./gateway-client-tls.js";
import { condition, sortConditions } from "./conditions.js";
import { type Context, refOfItem } from "./context.js";
import { normalizeHostname } from "./hostnames.js";
import { GW_GROUP, type GatewayClassItem, type GatewayItem } from "./kinds.js";
import { L4_KINDS_BY_PROTOCOL, tlsListenerVerdict, transportOf } from "./l4-listeners.js";
import type { LabelSelector } from "./selectors.js";

export interface RouteGroupKind {
  group: string;
  kind: string;
}

/** Route kinds a listener of each protocol can carry today. */
const KINDS_BY_PROTOCOL = new Map<string, RouteGroupKind[]>([
  ["HTTP", [{ group: GW_GROUP, kind: "HTTPRoute" }, { group: GW_GROUP, kind: "GRPCRoute" }]],
  ["HTTPS", [{ group: GW_GROUP, kind: "HTTPRoute" }, { group: GW_GROUP, kind: "GRPCRoute" }]],
  ...L4_KINDS_BY_PROTOCOL,
]);

interface Verdict {
  ok: boolean;
  reason: string;
  message: string;
}

export interface ListenerState {
  gateway: GatewayState;
  index: number;
  name: string;
  port: number;
  protocol: string;
  hostname: string | null;
  supportedKinds: RouteGroupKind[];
  namespacesFrom: string;
  selector: LabelSelector | undefined;
  accepted: Verdict;
  conflict: { reason: string; message: string } | null;
  refs: Verdict;
  certificates: IrCertificate[];
  attachedRoutes: number;
  programmed: Verdict;
  /** TLS listeners: tls.mode (Terminate when unset, as the CRD defaults it). */
  tlsMode?: string;
}

export interface GatewayState {
  item: GatewayItem;
  listeners: ListenerState[];
  /** Set when the Gateway as a whole is not accepted. */
  rejected: { reason: string; message: string } | null;
}

const OK: Verdict = { ok: true, reason: "", message: "" };

/** Our GatewayClasses: status for each, and the names usable by Gateways. */
export function translateGatewayClasses(ctx: Context, statuses: StatusEntry[]): Set<string> {
  const accepted = new Set<string>();
  for (const gc of ctx.index.gatewayClasses) {
    if (gc.typed.spec?.controllerName !== ctx.controllerName) continue;
    const conds: Condition[] = [condition("SupportedVersion", true, "SupportedVersion", "Gateway API v1 is supported", gc.generation)];
    const params = gc.typed.spec.parametersRef;
    if (params) {
      // We define no parameters kind, so any reference is one we cannot honour.
      const msg = `parametersRef ${params.group}/${params.kind} ${params.name} is not supported`;
      conds.push(condition("Accepted", false, "InvalidParameters", msg, gc.generation));
      ctx.report("error", refOfItem(gc), "spec.parametersRef", msg, "no parametersRef");
    } else {
      conds.push(condition("Accepted", true, "Accepted", "Accepted by sluice", gc.generation));
      accepted.add(gc.name);
    }
    statuses.push({ ref: refOfItem(gc), status: { conditions: sortConditions(conds) } });
  }
  return accepted;
}

export function translateGateways(ctx: Context, classes: Set<string>): GatewayState[] {
  const out: GatewayState[] = [];
  const known = new Set(ctx.index.gatewayClasses.map((c) => c.name));
  for (const gw of ctx.index.gateways) {
    const className = gw.typed.spec?.gatewayClassName;
    if (!classes.has(className)) {
      // A class of another controller is someone else's; a missing or rejected one is worth a word.
      const gc = ctx.index.gatewayClasses.find((c) => c.name === className);
      if (!known.has(className)) {
        ctx.report("warning", refOfItem(gw), "spec.gatewayClassName", `GatewayClass ${className} not found; the Gateway is ignored`, "the name of a GatewayClass with controllerName " + ctx.controllerName);
      } else if (gc?.typed.spec?.controllerName === ctx.controllerName) {
        ctx.report("error", refOfItem(gw), "spec.gatewayClassName", `GatewayClass ${className} is not accepted; the Gateway is ignored`, "an accepted GatewayClass");
      }
      continue;
    }
    out.push(validateGateway(ctx, gw));
  }
  detectConflicts(out);
  for (const g of out) for (const l of g.listeners) l.programmed = programmedVerdict(g, l);
  for (const g of out) reportListenerProblems(ctx, g);
  return out;
}

function validateGateway(ctx: Context, gw: GatewayItem): GatewayState {
  const state: GatewayState = { item: gw, listeners: [], rejected: null };
  const spec = gw.typed.spec;
  const addresses = spec.addresses ?? [];
  if (addresses.length > 0) {
    const msg = "spec.addresses is not supported: listeners bind the addresses sluice is started with";
    state.rejected = { reason: "UnsupportedAddress", message: msg };
    ctx.report("error", refOfItem(gw), "spec.addresses", msg, "no spec.addresses (use --listen-address)");
  }
  const params = spec.infrastructure?.parametersRef;
  if (params && !state.rejected) {
    // Sluice defines no infrastructure parameters kind, so any reference is one we cannot honour.
    const msg = `spec.infrastructure.parametersRef to ${params.group}/${params.kind} ${params.name} is not supported: sluice has no infrastructure parameters kind`;
    state.rejected = { reason: "InvalidParameters", message: msg };
    ctx.report("error", refOfItem(gw), "spec.infrastructure.parametersRef", msg, "no parametersRef");
  }
  (spec.listeners ?? []).forEach((l, i) => state.listeners.push(validateListener(ctx, state, l, i)));
  resolveGatewayTls(ctx, state);
  return state;
}

function validateListener(ctx: Context, gw: GatewayState, l: IListener, index: number): ListenerState {
  const protocol = l.protocol;
  const st: ListenerState = {
    gateway: gw,
    index,
    name: l.name,
    port: l.port,
    protocol,
    hostname: l.hostname ? normalizeHostname(l.hostname) : null,
    supportedKinds: [],
    namespacesFrom: l.allowedRoutes?.namespaces?.from ?? "Same",
    selector: l.allowedRoutes?.namespaces?.selector,
    accepted: OK,
    conflict: null,
    refs: OK,
    certificates: [],
    attachedRoutes: 0,
    programmed: OK,
  };
  const available = KINDS_BY_PROTOCOL.get(protocol);
  if (!available) {
    st.accepted = { ok: false, reason: "UnsupportedProtocol", message: `protocol ${protocol} is not supported yet` };
    return st;
  }

  // Route kinds: the listener's list filtered to what the protocol can carry.
  const requested = l.allowedRoutes?.kinds;
  const refProblems: Verdict[] = [];
  if (requested === undefined || requested.length === 0) {
    st.supportedKinds = available.map((k) => ({ ...k }));
  } else {
    const bad: string[] = [];
    for (const k of requested) {
      const group = k.group ?? GW_GROUP;
      if (available.some((a) => a.group === group && a.kind === k.kind)) {
        if (!st.supportedKinds.some((s) => s.group === group && s.kind === k.kind)) st.supportedKinds.push({ group, kind: k.kind });
      } else bad.push(`${group}/${k.kind}`);
    }
    if (bad.length > 0) {
      refProblems.push({ ok: false, reason: "InvalidRouteKinds", message: `route kinds not supported on ${protocol} listeners: ${bad.join(", ")}` });
    }
  }

  if (protocol === "TLS") {
    st.tlsMode = l.tls?.mode ?? "Terminate";
    const v = tlsListenerVerdict(st.tlsMode);
    if (v) st.accepted = { ok: false, ...v };
  }
  if (protocol === "HTTPS") {
    const mode = l.tls?.mode ?? "Terminate";
    if (mode !== "Terminate") {
      st.accepted = { ok: false, reason: "UnsupportedValue", message: `tls.mode ${mode} is not valid on HTTPS listeners` };
    }
  }
  // HTTPS listeners, and TLS listeners in mode Terminate, answer the handshake with their certificates.
  if (protocol === "HTTPS" || st.tlsMode === "Terminate") {
    const refs = l.tls?.certificateRefs ?? [];
    const certProblems: Verdict[] = [];
    if (refs.length === 0) {
      certProblems.push({ ok: false, reason: "InvalidCertificateRef", message: `${protocol} listener has no tls.certificateRefs` });
      ctx.report("error", refOfItem(gw.item), `spec.listeners[${index}].tls.certificateRefs`, `${protocol} listener has no certificate`, "at least one Secret of type kubernetes.io/tls");
    }
    refs.forEach((ref, j) => {
      const r = resolveCertificate(ctx, gw.item.namespace, ref);
      if (r.ok) st.certificates.push(r.cert);
      else {
        certProblems.push({ ok: false, reason: r.reason, message: r.message });
        ctx.report("error", refOfItem(gw.item), `spec.listeners[${index}].tls.certificateRefs[${j}]`, r.message, r.expected);
      }
    });
    refProblems.unshift(...certProblems);
  }
  // GEP-91: client certificate validation of HTTPS listeners (spec.tls.frontend).
  const fv = protocol === "HTTPS" && st.accepted.ok ? frontendValidation(ctx, gw, st) : null;
  if (fv) {
    refProblems.push(...fv.problems);
    if (fv.notAccepted) st.accepted = fv.notAccepted;
  }
  if (refProblems.length > 0) {
    st.refs = { ok: false, reason: refProblems[0].reason, message: refProblems.map((p) => p.message).join("; ") };
  }
  return st;
}

/**
 * Listeners on one port must agree on protocol and have distinct hostnames. Within a Gateway every
 * listener of a clash is conflicted; across Gateways the older Gateway keeps the port (a newly added
 * Gateway must not break a working one).
 */
function detectConflicts(gateways: GatewayState[]): void {
  const hostKey = (h: string | null) => h ?? "";
  // TCP-based protocols share a port space; UDP has its own (TCP 53 and UDP 53 do not clash).
  const portKey = (l: ListenerState): string => `${transportOf(l.protocol)}/${l.port}`;
  const claimed = new Map<string, { protocol: string; owner: string; hosts: Map<string, string> }>();
  for (const g of gateways) {
    if (g.rejected) continue;
    const gwName = `${g.item.namespace}/${g.item.name}`;
    const live = g.listeners.filter((l) => l.accepted.ok);
    const byPort = new Map<string, ListenerState[]>();
    for (const l of live) byPort.set(portKey(l), [...(byPort.get(portKey(l)) ?? []), l]);
    for (const [, ls] of byPort) {
      const port = ls[0].port;
      const protocols = new Set(ls.map((l) => l.protocol));
      if (protocols.size > 1) {
        for (const l of ls) l.conflict = { reason: "ProtocolConflict", message: `port ${port} is used with protocols ${[...protocols].sort().join(" and ")}` };
        continue;
      }
      const byHost = new Map<string, ListenerState[]>();
      for (const l of ls) byHost.set(hostKey(l.hostname), [...(byHost.get(hostKey(l.hostname)) ?? []), l]);
      for (const [, same] of byHost) {
        if (same.length < 2) continue;
        const names = same.map((l) => l.name).join(", ");
        for (const l of same) l.conflict = { reason: "HostnameConflict", message: `listeners ${names} share port ${port} and hostname ${l.hostname ?? "(any)"}` };
      }
    }
    for (const l of live) {
      if (l.conflict) continue;
      const c = claimed.get(portKey(l));
      if (!c) continue;
      if (c.protocol !== l.protocol) {
        l.conflict = { reason: "ProtocolConflict", message: `port ${l.port} is already used with protocol ${c.protocol} by Gateway ${c.owner}` };
      } else if (c.hosts.has(hostKey(l.hostname))) {
        l.conflict = {
          reason: "HostnameConflict",
          message: `port ${l.port} with hostname ${l.hostname ?? "(any)"} is already used by Gateway ${c.hosts.get(hostKey(l.hostname))}`,
        };
      }
    }
    for (const l of live) {
      if (l.conflict) continue;
      const c = claimed.get(portKey(l)) ?? { protocol: l.protocol, owner: gwName, hosts: new Map<string, string>() };
      c.hosts.set(hostKey(l.hostname), gwName);
      claimed.set(portKey(l), c);
    }
  }
}

function programmedVerdict(g: GatewayState, l: ListenerState): Verdict {
  const no = (message: string): Verdict => ({ ok: false, reason: "Invalid", message });
  if (g.rejected) return no("the Gateway is not accepted");
  if (!l.accepted.ok) return no(`listener not accepted: ${l.accepted.message}`);
  if (l.conflict) return no(`listener conflicted: ${l.conflict.message}`);
  if (l.supportedKinds.length === 0) return no("no supported route kinds");
  if ((l.protocol === "HTTPS" || l.tlsMode === "Terminate") && l.certificates.length === 0) return no("no valid certificate");
  return { ok: true, reason: "Programmed", message: "Programmed" };
}

function reportListenerProblems(ctx: Context, g: GatewayState): void {
  const ref = refOfItem(g.item);
  for (const l of g.listeners) {
    const field = `spec.listeners[${l.index}]`;
    if (!l.accepted.ok && l.accepted.reason !== "NoValidCACertificate") {
      const expected = l.accepted.reason === "UnsupportedProtocol" ? "protocol HTTP, HTTPS, TLS, TCP or UDP" : l.protocol === "TLS" ? "tls.mode Passthrough or Terminate" : "tls.mode Terminate";
      ctx.report("error", ref, l.accepted.reason === "UnsupportedProtocol" ? `${field}.protocol` : `${field}.tls.mode`, l.accepted.message, expected);
    }
    if (l.conflict) {
      ctx.report("error", ref, `${field}.port`, l.conflict.message, l.conflict.reason === "ProtocolConflict" ? "one protocol per port" : "distinct hostnames on a shared port");
    }
    if (!l.refs.ok && l.refs.reason === "InvalidRouteKinds") {
      ctx.report("error", ref, `${field}.allowedRoutes.kinds`, l.refs.message, "kinds among " + (KINDS_BY_PROTOCOL.get(l.protocol) ?? []).map((k) => k.kind).join(", "));
    }
    if (l.namespacesFrom === "Selector" && !l.selector) {
      ctx.report("error", ref, `${field}.allowedRoutes.namespaces.selector`, "from: Selector without a selector admits no namespace", "a label selector");
    }
  }
}

export function gatewayStatus(g: GatewayState): StatusEntry {
  const gen = g.item.generation;
  const conds: Condition[] = [];
  const valid = g.listeners.filter((l) => l.accepted.ok && !l.conflict);
  if (g.rejected) {
    conds.push(condition("Accepted", false, g.rejected.reason, g.rejected.message, gen));
  } else if (valid.length === 0) {
    conds.push(condition("Accepted", false, "ListenersNotValid", "no valid listeners", gen));
  } else if (valid.length < g.listeners.length) {
    const bad = g.listeners.filter((l) => !valid.includes(l)).map((l) => l.name);
    conds.push(condition("Accepted", true, "ListenersNotValid", `invalid listeners: ${bad.join(", ")}`, gen));
  } else {
    conds.push(condition("Accepted", true, "Accepted", "Accepted", gen));
  }
  const programmed = g.listeners.filter((l) => l.programmed.ok);
  if (programmed.length > 0) conds.push(condition("Programmed", true, "Programmed", "Programmed", gen));
  else conds.push(condition("Programmed", false, "Invalid", g.rejected ? "the Gateway is not accepted" : "no listener is programmed", gen));
  conds.push(...gatewayTlsConditions(g));

  const listeners = g.listeners.map((l) => ({
    name: l.name,
    supportedKinds: l.supportedKinds.map((k) => ({ group: k.group, kind: k.kind })),
    attachedRoutes: l.attachedRoutes,
    conditions: sortConditions([
      l.accepted.ok ? condition("Accepted", true, "Accepted", "Accepted", gen) : condition("Accepted", false, l.accepted.reason, l.accepted.message, gen),
      l.conflict ? condition("Conflicted", true, l.conflict.reason, l.conflict.message, gen) : condition("Conflicted", false, "NoConflicts", "No conflicts", gen),
      condition("Programmed", l.programmed.ok, l.programmed.reason, l.programmed.message, gen),
      l.refs.ok ? condition("ResolvedRefs", true, "ResolvedRefs", "Resolved all references", gen) : condition("ResolvedRefs", false, l.refs.reason, l.refs.message, gen),
    ]),
  }));
  return { ref: refOfItem(g.item), status: { conditions: sortConditions(conds), listeners } };
}
