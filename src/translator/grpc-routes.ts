// GRPCRoute -> the same compiled route pieces as HTTPRoute (routes.ts), so attachment, status,
// hostname intersection, policies and the IR build are shared. A method match becomes a match on
// the request path "/<service>/<method>"; header matches, filters (header modifiers, mirrors) and
// weighted backends are HTTPRoute's. Backends are spoken to over HTTP/2 (backends.ts infers h2c
// for GRPCRoute backends without an appProtocol).
//
// Precedence (precedence.ts): gRPC matches are ordered as the GRPCRoute spec says (more characters
// in the service, then in the method, then more header matches, then the older route), from the
// service/method lengths recorded here for each converted match.
import type { IGRPCRoute } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/GRPCRoute";
import type { IGRPCRouteMatch } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/GRPCRouteMatch";
import type { IHTTPRouteFilter } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRouteFilter";
import type { IrAction, IrBackend, IrMatch, IrValueMatch } from "../ir/types.js";
import type { Condition, StatusEntry } from "../resources/types.js";
import { type Attachment, type ParentStatus, attachRoute, ourParents } from "./attachment.js";
import { resolveBackendRef } from "./backends.js";
import { condition, sortConditions } from "./conditions.js";
import { type Context, refOfItem } from "./context.js";
import { convertFilters } from "./filters.js";
import { applySessionPersistence, compileSessionPersistence } from "./session-persistence.js";
import type { GatewayState, ListenerState } from "./gateways.js";
import { intersectHostname } from "./hostnames.js";
import { GW_GROUP, compareAge, type Item } from "./kinds.js";
import type { RouteOutcome } from "./memo.js";
import type { CompiledRoute, CompiledRule, RefProblem } from "./routes.js";
import { cmpStr } from "./util.js";

export type GRPCRouteItem = Item<IGRPCRoute>;

/** Our GRPCRoutes, oldest first (the translator's tie-breaker order). */
function grpcRoutes(ctx: Context): GRPCRouteItem[] {
  const out: GRPCRouteItem[] = [];
  for (const obj of ctx.index.grpcRoutes) {
    out.push({
      obj,
      typed: obj as unknown as IGRPCRoute,
      namespace: obj.metadata.namespace || "default",
      name: obj.metadata.name,
      generation: obj.metadata.generation,
      created: obj.metadata.creationTimestamp ?? "",
    });
  }
  return out.sort(compareAge);
}

/** Service and method lengths of the converted gRPC matches, for precedence. */
const ranks = new WeakMap<IrMatch, { service: number; method: number }>();

export function grpcRank(m: IrMatch): { service: number; method: number } | undefined {
  return ranks.get(m);
}

/** Characters a gRPC service or method name may not contain in our path form. */
const SEGMENT = "[^/]+";

function headerMatches(list: IGRPCRouteMatch["headers"]): IrValueMatch[] {
  // Only the first entry of an equivalent (case-insensitive) name counts, as for HTTPRoute.
  const seen = new Set<string>();
  const out: IrValueMatch[] = [];
  for (const h of list ?? []) {
    const name = h.name.toLowerCase();
    if (seen.has(name)) continue;
    seen.add(name);
    out.push({ type: h.type === "RegularExpression" ? "RegularExpression" : "Exact", name, value: h.value });
  }
  return out.sort((a, b) => cmpStr(a.name, b.name));
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** A GRPCRouteMatch as an HTTP match: the method part becomes a path match. */
export function compileGrpcMatch(m: IGRPCRouteMatch): IrMatch {
  const match: IrMatch = { path: { type: "PathPrefix", value: "/" }, headers: headerMatches(m.headers), queryParams: [] };
  const mm = m.method;
  const service = mm?.service ?? "";
  const method = mm?.method ?? "";
  ranks.set(match, { service: service.length, method: method.length });
  if (service === "" && method === "") return match;
  if ((mm?.type ?? "Exact") === "Exact") {
    if (service !== "" && method !== "") match.path = { type: "Exact", value: `/${service}/${method}` };
    else if (service !== "") match.path = { type: "PathPrefix", value: `/${service}` };
    else match.path = { type: "RegularExpression", value: `/${SEGMENT}/${escapeRegex(method)}` };
  } else {
    match.path = { type: "RegularExpression", value: `/(?:${service || SEGMENT})/(?:${method || SEGMENT})` };
  }
  return match;
}

function regexProblem(m: IrMatch): string | null {
  const bad = (v: string): boolean => {
    try {
      new RegExp(v);
      return false;
    } catch {
      return true;
    }
  };
  if (m.path.type === "RegularExpression" && bad(m.path.value)) return "method";
  for (const h of m.headers) if (h.type === "RegularExpression" && bad(h.value)) return `headers[name=${h.name}].value`;
  return null;
}

export function compileGrpcRoute(ctx: Context, route: GRPCRouteItem): CompiledRoute {
  const spec = route.typed.spec ?? {};
  const problems: RefProblem[] = [];
  const rules: CompiledRule[] = [];
  const ruleList = spec.rules && spec.rules.length > 0 ? spec.rules : [{}];
  ruleList.forEach((rule, i) => {
    const field = `spec.rules[${i}]`;
    const matches: CompiledRule["matches"] = [];
    (rule.matches && rule.matches.length > 0 ? rule.matches : [{}]).forEach((m, j) => {
      const match = compileGrpcMatch(m);
      const where = regexProblem(match);
      if (where !== null) {
        // A pattern the data plane cannot compile is left out (never matches), as for HTTPRoute.
        problems.push({ reason: "UnsupportedValue", field: `${field}.matches[${j}].${where}`, message: "invalid regular expression; this match is ignored", expected: "a valid regular expression" });
      } else matches.push({ index: j, match });
    });
    // GRPCRoute filters are a subset of HTTPRoute's with the same shapes.
    const conv = convertFilters(ctx, route.namespace, rule.filters as IHTTPRouteFilter[] | undefined, `${field}.filters`, "rule", problems, "GRPCRoute");
    const backends: IrBackend[] = [];
    (rule.backendRefs ?? []).forEach((br, j) => {
      const at = `${field}.backendRefs[${j}]`;
      const res = resolveBackendRef(ctx, "GRPCRoute", route.namespace, br);
      if (!res.ok) problems.push({ reason: res.reason, field: at, message: res.message, expected: res.expected });
      const bf = convertFilters(ctx, route.namespace, br.filters as IHTTPRouteFilter[] | undefined, `${at}.filters`, "backendRef", problems, "GRPCRoute");
      const weight = br.weight ?? 1;
      if (weight === 0) return;
      backends.push({ cluster: res.ok && !bf.unsupported ? res.cluster : null, weight, filters: bf.filters });
    });
    // No backends (or a filter we cannot apply): the proxy answers gRPC requests UNAVAILABLE.
    let action: IrAction;
    if (conv.unsupported || (rule.backendRefs ?? []).length === 0) action = { type: "direct", status: 500, body: "" };
    // Session persistence as on HTTPRoute (gRPC matches name methods, not paths: cookies get path "/").
    else action = { type: "forward", backends: applySessionPersistence(ctx, backends, compileSessionPersistence(ctx, route, { ...rule, matches: [] }, i, field)) };
    const compiled: CompiledRule = { index: i, matches, filters: conv.unsupported ? {} : conv.filters, action };
    if (rule.name) compiled.name = rule.name;
    rules.push(compiled);
  });
  for (const p of problems) ctx.report("error", refOfItem(route), p.field, p.message, p.expected);
  const hostnames = [...new Set((spec.hostnames ?? []).map((h) => h.toLowerCase()))].sort(cmpStr);
  return { kind: "GRPCRoute", item: route, hostnames, rules, problems };
}

/** Every GRPCRoute with one of our Gateways as parent: its attachments and status. */
export function translateGrpcRoutes(ctx: Context, byName: Map<string, GatewayState>, allGateways: Set<string>): RouteOutcome[] {
  const out: RouteOutcome[] = [];
  for (const route of grpcRoutes(ctx)) {
    const ref = { group: GW_GROUP, kind: "GRPCRoute", namespace: route.namespace, name: route.name };
    (route.typed.spec?.parentRefs ?? []).forEach((p, i) => {
      if ((p.group ?? GW_GROUP) !== GW_GROUP || (p.kind ?? "Gateway") !== "Gateway") return;
      const key = `${p.namespace || route.namespace}/${p.name}`;
      if (!allGateways.has(key)) ctx.report("warning", ref, `spec.parentRefs[${i}]`, `Gateway ${key} not found`, "the name of an existing Gateway");
    });
    const parents = ourParents(route, byName);
    if (parents.length === 0) continue;
    const r = attachRoute(ctx, compileGrpcRoute(ctx, route), parents);
    out.push({ attachments: r.attachments, status: { ref, status: { parents: r.statuses } } });
  }
  return out;
}

function hostsIntersect(a: string[], b: string[]): boolean {
  for (const x of a) for (const y of b) if (x === "*" || y === "*" || intersectHostname(x, y) !== null) return true;
  return false;
}

function kindOf(r: CompiledRoute): "HTTPRoute" | "GRPCRoute" {
  return r.kind ?? "HTTPRoute";
}

/** Does this parentRef (as echoed in status) select listener `l`? */
function selects(ref: Record<string, unknown>, routeNs: string, l: ListenerState): boolean {
  const g = l.gateway.item;
  if (ref.name !== g.name || ((ref.namespace as string | undefined) || routeNs) !== g.namespace) return false;
  if (ref.sectionName !== undefined && ref.sectionName !== l.name) return false;
  return ref.port === undefined || ref.port === l.port;
}

/**
 * The GRPCRoute spec: when an HTTPRoute and a GRPCRoute attach to one listener with intersecting
 * hostnames, only one is accepted there: the older (creation time, then namespace/name). The other
 * loses that attachment; a parentRef left with no attachment becomes Accepted False. Outcomes are
 * replaced, never changed in place (the HTTPRoute ones may be memoised).
 */
export function settleKindConflicts(ctx: Context, outcomes: RouteOutcome[]): RouteOutcome[] {
  const byListener = new Map<ListenerState, Attachment[]>();
  for (const o of outcomes)
    for (const a of o.attachments) {
      const list = byListener.get(a.listener);
      if (list) list.push(a);
      else byListener.set(a.listener, [a]);
    }
  const losing = new Set<Attachment>();
  const why = new Map<Attachment, string>();
  for (const list of byListener.values()) {
    const http = list.filter((a) => kindOf(a.route) === "HTTPRoute");
    const grpc = list.filter((a) => kindOf(a.route) === "GRPCRoute");
    if (http.length === 0 || grpc.length === 0) continue;
    for (const h of http) {
      for (const g of grpc) {
        if (losing.has(h) || losing.has(g) || !hostsIntersect(h.hostnames, g.hostnames)) continue;
        const hOlder = compareAge(h.route.item, g.route.item) < 0;
        const [win, lose] = hOlder ? [h, g] : [g, h];
        losing.add(lose);
        const w = win.route.item;
        why.set(lose, `${kindOf(win.route)} ${w.namespace}/${w.name} (older) has intersecting hostnames on listener ${lose.listener.name}; an HTTPRoute and a GRPCRoute cannot share a hostname on one listener`);
      }
    }
  }
  if (losing.size === 0) return outcomes;
  return outcomes.map((o) => {
    const lost = o.attachments.filter((a) => losing.has(a));
    if (lost.length === 0 || o.status === null) return o;
    const kept = o.attachments.filter((a) => !losing.has(a));
    for (const a of lost) a.listener.attachedRoutes--;
    const item = lost[0]!.route.item;
    const parents = (o.status.status.parents as ParentStatus[]).map((p) => {
      const mine = lost.filter((a) => selects(p.parentRef, item.namespace, a.listener));
      if (mine.length === 0 || kept.some((a) => selects(p.parentRef, item.namespace, a.listener))) return p;
      const msg = why.get(mine[0]!)!;
      ctx.report("error", refOfItem(item), "spec.hostnames", msg, "hostnames that do not intersect those of the other route kind, or another listener");
      const conds: Condition[] = p.conditions.map((c) => (c.type === "Accepted" ? condition("Accepted", false, "NotAllowedByListeners", msg, item.generation) : c));
      return { ...p, conditions: sortConditions(conds) };
    });
    const status: StatusEntry = { ref: o.status.ref, status: { ...o.status.status, parents } };
    return { attachments: kept, status };
  });
}
