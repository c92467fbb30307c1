// translate(): Gateway API resources -> IR snapshot config + statuses + diagnostics.
// Pure and deterministic: no I/O, no clock, no randomness; input order never changes the output.
import type { K8sObject, StatusEntry } from "../resources/types.js";
import { refKey, refOf } from "../resources/types.js";
import type { TranslateOptions, TranslateResult } from "./api.js";
import { type Attachment, attachRoute, ourParents } from "./attachment.js";
import { Context } from "./context.js";
import { type GatewayState, gatewayStatus, translateGatewayClasses, translateGateways } from "./gateways.js";
import { backendTlsStatuses } from "./backend-tls.js";
import { settleKindConflicts, translateGrpcRoutes } from "./grpc-routes.js";
import { buildConfig } from "./ir-build.js";
import { GW_GROUP, type HTTPRouteItem, ResourceIndex } from "./kinds.js";
import { isL4Protocol } from "./l4-listeners.js";
import { buildL4Listeners, indexL4Routes, translateL4Routes } from "./l4-routes.js";
import { buildServiceVips } from "./l4-vips.js";
import type { GatewayPhase, RouteOutcome } from "./memo.js";
import { compileRoute } from "./routes.js";
import { appliers, PolicyIndex } from "./policies/index.js";
import { translateNetworkPolicies } from "./network-policy.js";
import { canonicalize, cmpStr } from "./util.js";

export * from "./api.js";
export { TranslateMemo } from "./memo.js";

/** One HTTPRoute: its parents, rules and status. Depends on the route and non-route objects only (see memo.ts). */
function httpRoute(ctx: Context, route: HTTPRouteItem, byName: Map<string, GatewayState>, allGateways: Set<string>): RouteOutcome | null {
  const parents = ourParents(route, byName);
  (route.typed.spec?.parentRefs ?? []).forEach((p, i) => {
    if ((p.group ?? GW_GROUP) !== GW_GROUP || (p.kind ?? "Gateway") !== "Gateway") return;
    const key = `${p.namespace || route.namespace}/${p.name}`;
    if (!allGateways.has(key)) {
      ctx.report("warning", { group: GW_GROUP, kind: "HTTPRoute", namespace: route.namespace, name: route.name }, `spec.parentRefs[${i}]`, `Gateway ${key} not found`, "the name of an existing Gateway");
    }
  });
  if (parents.length === 0) return null; // Not ours: no status, no diagnostics about its rules.
  const compiled = compileRoute(ctx, route);
  const r = attachRoute(ctx, compiled, parents);
  return { attachments: r.attachments, status: { ref: { group: GW_GROUP, kind: "HTTPRoute", namespace: route.namespace, name: route.name }, status: { parents: r.statuses } } };
}

export function translate(objects: K8sObject[], opts: TranslateOptions): TranslateResult {
  const memo = opts.memo ?? null;
  memo?.begin(objects);
  const index = memo ? memo.index(objects) : new ResourceIndex(objects);
  // A Gateway's backend client certificate is written into its routes as they are built, as policies are.
  memo?.indexed(index.policies.size + index.gateways.filter((g) => g.typed.spec?.tls?.backend?.clientCertificateRef !== undefined).length);
  const ctx = new Context(index, opts.controllerName, memo);
  const statuses: StatusEntry[] = [];
  for (const dup of index.duplicates) {
    ctx.report("error", refOf(dup), undefined, "defined more than once with different content; one copy is ignored", "one definition per kind/namespace/name");
  }

  const gatewayPhase = (into: StatusEntry[]): GatewayPhase => {
    const gateways = translateGateways(ctx, translateGatewayClasses(ctx, into));
    return {
      gateways,
      byName: new Map<string, GatewayState>(gateways.map((g) => [`${g.item.namespace}/${g.item.name}`, g])),
      allGateways: new Set(index.gateways.map((g) => `${g.namespace}/${g.name}`)),
    };
  };
  // With a memo and an unchanged environment: last time's Gateway states (memo.ts).
  const { gateways, byName, allGateways } = memo ? memo.gateways(ctx, statuses, gatewayPhase) : gatewayPhase(statuses);

  const attachments: Attachment[] = [];
  const outcomes: RouteOutcome[] = [];
  const one = (route: HTTPRouteItem): RouteOutcome | null => httpRoute(ctx, route, byName, allGateways);
  for (const route of index.httpRoutes) {
    const r = memo ? memo.route(ctx, route, byName, one) : one(route);
    if (r) outcomes.push(r);
  }
  const grpc = translateGrpcRoutes(ctx, byName, allGateways);
  for (const r of grpc) outcomes.push(r);
  // Conflicts are between an HTTPRoute and a GRPCRoute: without GRPCRoutes there are none to settle.
  for (const r of grpc.length > 0 ? settleKindConflicts(ctx, outcomes) : outcomes) {
    for (const a of r.attachments) attachments.push(a);
    if (r.status) statuses.push(r.status);
  }
  // These passes look at other kinds only: with a memo, the objects that are not HTTPRoutes (fewer).
  const others = memo ? memo.environment : objects;
  const l4Attachments = translateL4Routes(ctx, indexL4Routes(others), byName, allGateways, statuses);
  statuses.push(...backendTlsStatuses(ctx, attachments, l4Attachments));
  for (const g of gateways) statuses.push(gatewayStatus(g));

  const policies = new PolicyIndex(ctx, byName);
  for (const a of appliers()) policies.consume(a.kind, a.sections);
  // The L7 build sees HTTP/HTTPS listeners only; TCP, TLS and UDP ones go to the L4 section.
  const config = buildConfig(ctx, gateways.map((g) => ({ ...g, listeners: g.listeners.filter((l) => !isL4Protocol(l.protocol)) })), attachments, policies);
  const l4Listeners = buildL4Listeners(gateways, l4Attachments);
  if (l4Listeners.length > 0) config.l4Listeners = l4Listeners;
  const serviceVips = buildServiceVips(index);
  if (serviceVips.length > 0) config.serviceVips = serviceVips;
  statuses.push(...policies.statuses());
  const netpol = translateNetworkPolicies(ctx, others, gateways);
  if (netpol.policy) config.networkPolicy = netpol.policy;
  statuses.push(...netpol.statuses);
  if (memo) memo.sortStatuses(statuses);
  else statuses.sort((a, b) => cmpStr(refKey(a.ref), refKey(b.ref)));
  // Grouped by object; within one object, in the (deterministic) order the checks ran, which
  // follows the fields of the object.
  const diagnostics = ctx.diagnostics.sort((a, b) => cmpStr(a.ref ? refKey(a.ref) : "", b.ref ? refKey(b.ref) : ""));
  if (!memo) return canonicalize({ config, statuses, diagnostics });
  const out = memo.canonicalize({ config, statuses, diagnostics });
  memo.end();
  return out;
}
