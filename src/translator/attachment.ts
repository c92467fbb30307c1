// HTTPRoute parentRefs -> Gateway listeners: sectionName/port selection, allowedRoutes (kinds and
// namespaces), hostname intersection, and the per-parent status the spec asks for.
import type { IParentReference } from "@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/ParentReference";
import type { Condition } from "../resources/types.js";
import { condition, sortConditions } from "./conditions.js";
import { type Context, refOfItem } from "./context.js";
import type { GatewayState, ListenerState } from "./gateways.js";
import { effectiveHostnames } from "./hostnames.js";
import type { GRPCRouteItem } from "./grpc-routes.js";
import { GW_GROUP, type HTTPRouteItem } from "./kinds.js";
import type { CompiledRoute } from "./routes.js";
import { selectorMismatch } from "./selectors.js";
import { canonicalJson } from "./util.js";

export interface Attachment {
  listener: ListenerState;
  route: CompiledRoute;
  hostnames: string[];
}

export interface ParentStatus {
  parentRef: Record<string, unknown>;
  controllerName: string;
  conditions: Condition[];
}

/** The parentRefs of a route that name one of our Gateways, with that Gateway. */
export function ourParents(route: HTTPRouteItem | GRPCRouteItem, gateways: Map<string, GatewayState>): { index: number; ref: IParentReference; gateway: GatewayState }[] {
  const out: { index: number; ref: IParentReference; gateway: GatewayState }[] = [];
  const seen = new Set<string>();
  (route.typed.spec?.parentRefs ?? []).forEach((ref, index) => {
    if ((ref.group ?? GW_GROUP) !== GW_GROUP || (ref.kind ?? "Gateway") !== "Gateway") return;
    const gw = gateways.get(`${ref.namespace || route.namespace}/${ref.name}`);
    if (!gw) return;
    const key = canonicalJson(statusParentRef(ref));
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ index, ref, gateway: gw });
  });
  return out;
}

/** The parentRef echoed into status: as written, with the CRD defaults for group and kind. */
export function statusParentRef(ref: IParentReference): Record<string, unknown> {
  const out: Record<string, unknown> = { group: ref.group ?? GW_GROUP, kind: ref.kind ?? "Gateway", name: ref.name };
  if (ref.namespace) out.namespace = ref.namespace;
  if (ref.sectionName !== undefined) out.sectionName = ref.sectionName;
  if (ref.port !== undefined) out.port = ref.port;
  return out;
}

/** Null when the listener's allowedRoutes.namespaces admits routes from routeNs, else why not. */
export function namespaceAllowed(ctx: Context, l: ListenerState, routeNs: string): string | null {
  switch (l.namespacesFrom) {
    case "All":
      return null;
    case "Same":
      return routeNs === l.gateway.item.namespace ? null : `only routes from namespace ${l.gateway.item.namespace}`;
    case "Selector": {
      if (!l.selector) return "no namespace selector";
      const why = selectorMismatch(l.selector, ctx.index.labelsOf(routeNs));
      return why === null ? null : `namespace ${routeNs} not selected (${why})`;
    }
    default:
      return `unknown allowedRoutes.namespaces.from ${l.namespacesFrom}`;
  }
}

/**
 * Attaches a compiled route to its parents. Returns the status for each of our parents and the
 * listener attachments, and bumps attachedRoutes on every listener the route attaches to.
 */
export function attachRoute(
  ctx: Context,
  route: CompiledRoute,
  parents: { index: number; ref: IParentReference; gateway: GatewayState }[],
): { statuses: ParentStatus[]; attachments: Attachment[] } {
  const item = route.item;
  const kind = route.kind ?? "HTTPRoute";
  const gen = item.generation;
  const statuses: ParentStatus[] = [];
  const attachments: Attachment[] = [];
  const resolved = resolvedRefsCondition(route, gen);
  const partial = partiallyInvalidCondition(route, gen);
  for (const { index, ref, gateway } of parents) {
    const field = `spec.parentRefs[${index}]`;
    const gwName = `${gateway.item.namespace}/${gateway.item.name}`;
    let accepted: Condition;
    const selected = gateway.listeners.filter(
      (l) => (ref.sectionName === undefined || l.name === ref.sectionName) && (ref.port === undefined || l.port === ref.port),
    );
    if (selected.length === 0) {
      const what = [ref.sectionName !== undefined ? `named ${ref.sectionName}` : "", ref.port !== undefined ? `on port ${ref.port}` : ""].filter(Boolean).join(" ");
      const msg = `Gateway ${gwName} has no listener ${what}`.trim();
      accepted = condition("Accepted", false, "NoMatchingParent", msg, gen);
      ctx.report("error", refOfItem(item), field, msg, "sectionName/port of an existing listener");
    } else {
      const why: string[] = [];
      const allowed = selected.filter((l) => {
        if (!l.supportedKinds.some((k) => k.group === GW_GROUP && k.kind === kind)) {
          why.push(`listener ${l.name} does not allow ${kind}`);
          return false;
        }
        const nsWhy = namespaceAllowed(ctx, l, item.namespace);
        if (nsWhy) why.push(`listener ${l.name}: ${nsWhy}`);
        return nsWhy === null;
      });
      if (allowed.length === 0) {
        const msg = `not allowed by Gateway ${gwName}: ${why.join("; ")}`;
        accepted = condition("Accepted", false, "NotAllowedByListeners", msg, gen);
        ctx.report("error", refOfItem(item), field, msg, "a listener whose allowedRoutes admits this route's kind and namespace");
      } else {
        let attached = 0;
        for (const l of allowed) {
          const hosts = effectiveHostnames(l.hostname, route.hostnames);
          if (hosts.length === 0) continue;
          attached++;
          // Several parentRefs may select the same listener: the route counts, and routes, once.
          if (attachments.some((a) => a.listener === l)) continue;
          l.attachedRoutes++;
          attachments.push({ listener: l, route, hostnames: hosts });
        }
        if (attached === 0) {
          const lh = allowed.map((l) => l.hostname ?? "*").join(", ");
          const msg = `no route hostname (${route.hostnames.join(", ")}) matches the listener hostnames (${lh}) of Gateway ${gwName}`;
          accepted = condition("Accepted", false, "NoMatchingListenerHostname", msg, gen);
          ctx.report("error", refOfItem(item), "spec.hostnames", msg, `a hostname matching ${lh}`);
        } else {
          accepted = condition("Accepted", true, "Accepted", "Accepted", gen);
        }
      }
    }
    const conds = [accepted, resolved];
    if (partial) conds.push(partial);
    statuses.push({ parentRef: statusParentRef(ref), controllerName: ctx.controllerName, conditions: sortConditions(conds) });
  }
  return { statuses, attachments };
}

/** Condition messages stay readable (and far below the API's size limit) on routes with many problems. */
const MAX_LISTED = 8;
function listProblems(problems: { field: string; message: string }[]): string {
  const shown = problems.slice(0, MAX_LISTED).map((p) => `${p.field}: ${p.message}`);
  if (problems.length > MAX_LISTED) shown.push(`and ${problems.length - MAX_LISTED} more`);
  return shown.join("; ");
}

function resolvedRefsCondition(route: CompiledRoute, gen: number | undefined): Condition {
  const refs = route.problems.filter((p) => p.reason !== "UnsupportedValue");
  if (refs.length === 0) return condition("ResolvedRefs", true, "ResolvedRefs", "Resolved all references", gen);
  return condition("ResolvedRefs", false, refs[0].reason, listProblems(refs), gen);
}

/** Configuration we cannot apply makes the affected rules answer 500; the rest keeps working. */
function partiallyInvalidCondition(route: CompiledRoute, gen: number | undefined): Condition | null {
  const bad = route.problems.filter((p) => p.reason === "UnsupportedValue");
  if (bad.length === 0) return null;
  return condition("PartiallyInvalid", true, "UnsupportedValue", listProblems(bad), gen);
}
