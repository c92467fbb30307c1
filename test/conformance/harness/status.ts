// Status checks in the style of the upstream suite, read from the admin server's /status (a v1 List
// of every resource with its Kubernetes-shaped .status). Each check returns null when it holds or a
// description of what differs; `eventually` polls one until it holds, bounded in time.
import type { ConformanceEnv } from "./env.js";
import { CONTROLLER_NAME } from "./env.js";

export const GW_GROUP = "gateway.networking.k8s.io";

export interface Cond {
  type: string;
  /** Any status when unset. */
  status?: "True" | "False" | "Unknown";
  /** Any reason when unset. */
  reason?: string;
}

interface Condition {
  type: string;
  status: string;
  reason: string;
  message?: string;
  observedGeneration?: number;
}

export interface StatusObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; generation?: number };
  spec?: Record<string, unknown>;
  status?: {
    conditions?: Condition[];
    addresses?: { type?: string; value: string }[];
    listeners?: ListenerStatus[];
    parents?: RouteParentStatus[];
  };
}

export interface ListenerStatus {
  name: string;
  supportedKinds?: { group?: string; kind: string }[];
  attachedRoutes?: number;
  conditions?: Condition[];
}

export interface ParentRef {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

export interface RouteParentStatus {
  parentRef: ParentRef;
  controllerName: string;
  conditions?: Condition[];
}

export interface NN {
  namespace: string;
  name: string;
}

export type Items = StatusObject[];

export async function fetchStatus(env: ConformanceEnv): Promise<Items> {
  const r = await fetch(env.gw.admin("/status"), { signal: AbortSignal.timeout(3000) });
  if (r.status !== 200) throw new Error(`/status answered ${r.status}`);
  const list = (await r.json()) as { apiVersion?: string; kind?: string; items?: StatusObject[] };
  if (list.kind !== "List" || !Array.isArray(list.items)) throw new Error(`/status is not a v1 List: ${JSON.stringify(list).slice(0, 200)}`);
  return list.items;
}

export function find(items: Items, kind: string, nn: { namespace?: string; name: string }): StatusObject | undefined {
  return items.find((o) => o.kind === kind && o.metadata.name === nn.name && (o.metadata.namespace ?? "") === (nn.namespace ?? ""));
}

const show = (c: Condition[] | undefined): string =>
  JSON.stringify((c ?? []).map((x) => `${x.type}=${x.status}/${x.reason}`));

/** null when a condition of that type has the status and reason asked for. */
export function hasCondition(conds: Condition[] | undefined, want: Cond): string | null {
  const hit = (conds ?? []).find((c) => c.type === want.type && (!want.status || c.status === want.status) && (!want.reason || c.reason === want.reason));
  return hit ? null : `no condition ${want.type}=${want.status ?? "*"}/${want.reason ?? "*"} in ${show(conds)}`;
}

export function conditionsMatch(conds: Condition[] | undefined, wants: Cond[]): string | null {
  for (const w of wants) {
    const d = hasCondition(conds, w);
    if (d) return d;
  }
  return null;
}

/** Every condition must carry the object's current generation (when it has one). */
export function latestGeneration(obj: StatusObject, conds: Condition[] | undefined): string | null {
  const gen = obj.metadata.generation;
  if (gen === undefined) return null;
  const stale = (conds ?? []).filter((c) => c.observedGeneration !== gen);
  return stale.length ? `${obj.kind} ${obj.metadata.name}: conditions ${stale.map((c) => `${c.type}@${c.observedGeneration}`).join(", ")} not at generation ${gen}` : null;
}

export function gatewayClassAccepted(items: Items, name: string, status: "True" | "False" = "True"): string | null {
  const gc = find(items, "GatewayClass", { name });
  if (!gc) return `GatewayClass ${name} not in /status`;
  return latestGeneration(gc, gc.status?.conditions) ?? hasCondition(gc.status?.conditions, { type: "Accepted", status });
}

export function gatewayCondition(items: Items, gw: NN, want: Cond): string | null {
  const g = find(items, "Gateway", gw);
  if (!g) return `Gateway ${gw.namespace}/${gw.name} not in /status`;
  const d = hasCondition(g.status?.conditions, want);
  return d ? `Gateway ${gw.name}: ${d}` : null;
}

/** Each listener (or only those named) has every condition. */
export function listenersHaveConditions(items: Items, gw: NN, wants: Cond[], names?: string[]): string | null {
  const g = find(items, "Gateway", gw);
  if (!g) return `Gateway ${gw.namespace}/${gw.name} not in /status`;
  const listeners = g.status?.listeners ?? [];
  const pending = new Set(names ?? []);
  for (const l of listeners) {
    if (names && !names.includes(l.name)) continue;
    const d = conditionsMatch(l.conditions, wants);
    if (d) return `Gateway ${gw.name} listener ${l.name}: ${d}`;
    pending.delete(l.name);
  }
  if (pending.size) return `Gateway ${gw.name}: no status for listeners ${[...pending].join(", ")}`;
  if (!names && listeners.length === 0) return `Gateway ${gw.name}: no listener status`;
  return null;
}

/** What upstream's GatewayAndHTTPRoutesMustBeAccepted checks on the Gateway side. */
export function gatewayAccepted(items: Items, gw: NN): string | null {
  const g = find(items, "Gateway", gw);
  if (!g) return `Gateway ${gw.namespace}/${gw.name} not in /status`;
  return (
    latestGeneration(g, g.status?.conditions) ??
    gatewayCondition(items, gw, { type: "Accepted", status: "True" }) ??
    gatewayCondition(items, gw, { type: "Programmed", status: "True" }) ??
    listenersHaveConditions(items, gw, [
      { type: "ResolvedRefs", status: "True" },
      { type: "Accepted", status: "True" },
      { type: "Programmed", status: "True" },
    ])
  );
}

export interface ExpectedListener {
  name: string;
  supportedKinds?: { group?: string; kind: string }[];
  attachedRoutes: number;
  conditions: Cond[];
}

/** The Gateway reports exactly these listeners, each with (at least) these kinds and conditions. */
export function gatewayListeners(items: Items, gw: NN, want: ExpectedListener[]): string | null {
  const g = find(items, "Gateway", gw);
  if (!g) return `Gateway ${gw.namespace}/${gw.name} not in /status`;
  const got = g.status?.listeners ?? [];
  if (got.length !== want.length) return `Gateway ${gw.name}: ${got.length} listener statuses, expected ${want.length}`;
  for (const w of want) {
    const l = got.find((x) => x.name === w.name);
    if (!l) return `Gateway ${gw.name}: no status for listener ${w.name}`;
    const kinds = l.supportedKinds ?? [];
    if ((w.supportedKinds ?? []).length === 0 && kinds.length !== 0) return `listener ${w.name}: supportedKinds ${JSON.stringify(kinds)}, expected none`;
    for (const k of w.supportedKinds ?? []) {
      if (!kinds.some((a) => (a.group ?? GW_GROUP) === (k.group ?? GW_GROUP) && a.kind === k.kind)) {
        return `listener ${w.name}: supportedKinds ${JSON.stringify(kinds)} lacks ${k.kind}`;
      }
    }
    if ((l.attachedRoutes ?? 0) !== w.attachedRoutes) return `listener ${w.name}: attachedRoutes ${l.attachedRoutes}, expected ${w.attachedRoutes}`;
    const d = conditionsMatch(l.conditions, w.conditions);
    if (d) return `listener ${w.name}: ${d}`;
  }
  return null;
}

export interface ExpectedParent {
  parentRef: ParentRef;
  controllerName?: string;
  conditions: Cond[];
}

/**
 * Every expected parent is matched by one the route reports: same controller, group, kind, name and
 * (when required, or when the route reports one) namespace, with the expected conditions.
 */
export function routeParents(items: Items, route: NN, want: ExpectedParent[], namespaceRequired: boolean, kind = "HTTPRoute"): string | null {
  const r = find(items, kind, route);
  if (!r) return `${kind} ${route.namespace}/${route.name} not in /status`;
  const got = r.status?.parents ?? [];
  for (const p of got) {
    const d = latestGeneration(r, p.conditions);
    if (d) return d;
  }
  for (const w of want) {
    const reasons: string[] = [];
    const ok = got.some((a) => {
      if (a.controllerName !== (w.controllerName ?? CONTROLLER_NAME)) return reasons.push(`controllerName ${a.controllerName}`), false;
      if (a.parentRef.group !== (w.parentRef.group ?? GW_GROUP)) return reasons.push(`parentRef.group ${a.parentRef.group}`), false;
      if (a.parentRef.kind !== (w.parentRef.kind ?? "Gateway")) return reasons.push(`parentRef.kind ${a.parentRef.kind}`), false;
      if (a.parentRef.name !== w.parentRef.name) return reasons.push(`parentRef.name ${a.parentRef.name}`), false;
      if (a.parentRef.namespace !== w.parentRef.namespace && (namespaceRequired || a.parentRef.namespace !== undefined)) {
        return reasons.push(`parentRef.namespace ${a.parentRef.namespace}`), false;
      }
      const d = conditionsMatch(a.conditions, w.conditions);
      if (d) return reasons.push(d), false;
      return true;
    });
    if (!ok) return `${kind} ${route.name}: no parent status for ${w.parentRef.name} with ${JSON.stringify(w.conditions)} (${reasons.join("; ") || "no parents"})`;
  }
  return null;
}

/** Upstream's check that a route is accepted by the Gateway (one parent per listener named). */
export function routeAccepted(items: Items, route: NN, gw: NN, sectionNames: (string | undefined)[] = [undefined]): string | null {
  const parents: ExpectedParent[] = sectionNames.map((s) => ({
    parentRef: { name: gw.name, namespace: gw.namespace, ...(s ? { sectionName: s } : {}) },
    conditions: [{ type: "Accepted", status: "True", reason: "Accepted" }],
  }));
  return routeParents(items, route, parents, route.namespace !== gw.namespace);
}

/** A parent status for the Gateway carries the condition. */
export function routeCondition(items: Items, route: NN, gw: NN, want: Cond): string | null {
  const r = find(items, "HTTPRoute", route);
  if (!r) return `HTTPRoute ${route.namespace}/${route.name} not in /status`;
  const parents = r.status?.parents ?? [];
  for (const p of parents) {
    const d = latestGeneration(r, p.conditions);
    if (d) return d;
  }
  const mine = parents.filter((p) => p.parentRef.name === gw.name && (p.parentRef.namespace === undefined || p.parentRef.namespace === gw.namespace));
  if (mine.some((p) => hasCondition(p.conditions, want) === null)) return null;
  return `HTTPRoute ${route.name}: no parent ${gw.name} with ${want.type}=${want.status ?? "*"}/${want.reason ?? "*"} (parents: ${JSON.stringify(parents.map((p) => ({ ref: p.parentRef, c: show(p.conditions) })))})`;
}

/** Either no parent status at all, or exactly one that is not Accepted. */
export function routeNoAcceptedParents(items: Items, route: NN): string | null {
  const r = find(items, "HTTPRoute", route);
  if (!r) return `HTTPRoute ${route.namespace}/${route.name} not in /status`;
  const parents = r.status?.parents ?? [];
  if (parents.length === 0) return null;
  if (parents.length > 1) return `HTTPRoute ${route.name}: ${parents.length} parents, expected at most one`;
  return hasCondition(parents[0]!.conditions, { type: "Accepted", status: "False" });
}

/** Polls /status until `check` holds (returns null), at most `timeoutMs`. */
export async function eventually(env: ConformanceEnv, check: (items: Items) => string | null, timeoutMs = 3000): Promise<Items> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (let i = 0; i < 100; i++) {
    try {
      const items = await fetchStatus(env);
      const d = check(items);
      if (d === null) return items;
      last = d;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(last);
}

/** GatewayAndHTTPRoutesMustBeAccepted + HTTPRouteMustHaveResolvedRefsConditionsTrue for each route. */
export async function mustBeAcceptedAndResolved(env: ConformanceEnv, gw: NN, routes: NN[], sectionNames?: string[]): Promise<void> {
  await eventually(env, (items) => {
    const g = gatewayAccepted(items, gw);
    if (g) return g;
    for (const r of routes) {
      const d =
        routeAccepted(items, r, gw, sectionNames ?? [undefined]) ??
        routeCondition(items, r, gw, { type: "ResolvedRefs", status: "True", reason: "ResolvedRefs" });
      if (d) return d;
    }
    return null;
  });
}

/** GatewayAndHTTPRoutesMustBeAccepted alone (for cases whose refs are meant not to resolve). */
export async function mustBeAccepted(env: ConformanceEnv, gw: NN, routes: NN[], sectionNames?: string[]): Promise<void> {
  await eventually(env, (items) => {
    const g = gatewayAccepted(items, gw);
    if (g) return g;
    for (const r of routes) {
      const d = routeAccepted(items, r, gw, sectionNames ?? [undefined]);
      if (d) return d;
    }
    return null;
  });
}

/** No listener status, or exactly one listener with no attached routes (upstream's two valid shapes). */
export function gatewayZeroRoutes(items: Items, gw: NN): string | null {
  const g = find(items, "Gateway", gw);
  if (!g) return `Gateway ${gw.namespace}/${gw.name} not in /status`;
  const d = latestGeneration(g, g.status?.conditions);
  if (d) return d;
  const ls = g.status?.listeners ?? [];
  if (ls.length === 0) return null;
  if (ls.length === 1 && (ls[0]!.attachedRoutes ?? 0) === 0) return null;
  return `Gateway ${gw.name}: listeners ${JSON.stringify(ls.map((l) => ({ name: l.name, attachedRoutes: l.attachedRoutes })))}, expected zero attached routes`;
}

/** The object has conditions, all at its current generation (GatewayMustHaveLatestConditions and kin). */
export function latestConditions(items: Items, kind: string, nn: { namespace?: string; name: string }): string | null {
  const o = find(items, kind, nn);
  if (!o) return `${kind} ${nn.namespace ? `${nn.namespace}/` : ""}${nn.name} not in /status`;
  if (o.metadata.generation === undefined) return `${kind} ${nn.name} has no metadata.generation`;
  if (!o.status?.conditions?.length) return `${kind} ${nn.name} has no conditions`;
  return latestGeneration(o, o.status.conditions);
}
