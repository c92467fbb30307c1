// Assembles the IR from programmed listeners and the routes attached to them.
import type { IrConfig, IrFilters, IrGatewayListener, IrListener, IrRoute, IrVirtualHost } from "../ir/types.js";
import type { Attachment } from "./attachment.js";
import type { Context } from "./context.js";
import type { GatewayState, ListenerState } from "./gateways.js";
import { appliers, type PolicyIndex } from "./policies/index.js";
import { compareHostSpecificity } from "./hostnames.js";
import { type RankedMatch, compareMatches } from "./precedence.js";
import type { CompiledRoute, CompiledRule } from "./routes.js";
import { cmpNum, cmpStr } from "./util.js";

interface Entry extends RankedMatch {
  compiled: CompiledRoute;
  ruleData: CompiledRule;
}

/** Where the routes being built are served, for policy resolution. */
interface Served {
  ctx: Context;
  policies: PolicyIndex;
  gateway: GatewayState;
  listener: ListenerState;
}

function irRoute(e: Entry, at: Served): IrRoute {
  const r = e.compiled.item;
  const rule = e.ruleData;
  const kind = e.compiled.kind ?? "HTTPRoute";
  const route: IrRoute = {
    name: `${kind.toLowerCase()}/${r.namespace}/${r.name}/rule/${rule.index}/match/${e.matchIndex}`,
    ref: { kind, namespace: r.namespace, name: r.name, rule: rule.index, match: e.matchIndex },
    match: e.match,
    filters: rule.filters,
    action: rule.action,
  };
  if (rule.name !== undefined) route.ref.ruleName = rule.name;
  if (rule.timeouts) route.timeouts = rule.timeouts;
  if (rule.retry) route.retry = rule.retry;
  const scope = { gateway: at.gateway, listener: at.listener.name, routeKind: route.ref.kind, routeNamespace: r.namespace, routeName: r.name, ...(rule.name !== undefined ? { ruleName: rule.name } : {}) };
  for (const a of appliers()) a.route?.(at.ctx, at.policies, route, scope);
  return route;
}

function entriesOf(route: CompiledRoute, into: Entry[]): void {
  for (const rule of route.rules) {
    for (const { index: matchIndex, match } of rule.matches) {
      into.push({ route: route.item, rule: rule.index, matchIndex, match, compiled: route, ruleData: rule });
    }
  }
}

function virtualHosts(attachments: Attachment[], at: Served): IrVirtualHost[] {
  const memo = at.ctx.memo;
  if (memo) {
    // Same result, with last time's grouping, order and virtual hosts reused where nothing changed (memo.ts).
    const key = `${at.gateway.item.namespace}/${at.gateway.item.name}/${at.listener.name}`;
    return memo.listenerVhosts(key, attachments, (hostname, routes) => {
      const entries: Entry[] = [];
      for (const route of routes) entriesOf(route, entries);
      entries.sort(compareMatches);
      const ids = entries.flatMap((e) => [e.compiled, e.rule, e.matchIndex]);
      return memo.vhost(key, hostname, ids, () => ({ hostname, routes: entries.map((e) => irRoute(e, at)) }));
    });
  }
  const byHost = new Map<string, Entry[]>();
  for (const a of attachments) {
    for (const host of a.hostnames) {
      const list = byHost.get(host) ?? [];
      for (const rule of a.route.rules) {
        for (const { index: matchIndex, match } of rule.matches) {
          list.push({ route: a.route.item, rule: rule.index, matchIndex, match, compiled: a.route, ruleData: rule });
        }
      }
      byHost.set(host, list);
    }
  }
  return [...byHost.keys()]
    .sort(compareHostSpecificity)
    .map((hostname) => ({ hostname, routes: byHost.get(hostname)!.sort(compareMatches).map((e) => irRoute(e, at)) }));
}

function clustersOf(filters: IrFilters, into: Set<string>): void {
  for (const m of filters.mirrors ?? []) into.add(m.cluster);
}

/** The clusters a virtual host's routes send or mirror to. */
function vhostClusters(vh: IrVirtualHost): string[] {
  const mine = new Set<string>();
  for (const r of vh.routes) {
    clustersOf(r.filters, mine);
    if (r.action.type === "forward")
      for (const b of r.action.backends) {
        if (b.cluster) mine.add(b.cluster);
        clustersOf(b.filters, mine);
      }
  }
  return [...mine];
}

export function buildConfig(ctx: Context, gateways: GatewayState[], attachments: Attachment[], policies: PolicyIndex): IrConfig {
  const byListener = new Map<ListenerState, Attachment[]>();
  for (const a of attachments) {
    const list = byListener.get(a.listener);
    if (list) list.push(a);
    else byListener.set(a.listener, [a]);
  }

  const byPort = new Map<number, { protocol: "HTTP" | "HTTPS"; listeners: IrGatewayListener[] }>();
  for (const g of gateways) {
    for (const l of g.listeners) {
      if (!l.programmed.ok) continue;
      const protocol = l.protocol === "HTTPS" ? "HTTPS" : "HTTP";
      const gl: IrGatewayListener = {
        name: `${g.item.namespace}/${g.item.name}/${l.name}`,
        hostname: l.hostname,
        tls: protocol === "HTTPS" ? { certificates: l.certificates } : null,
        virtualHosts: virtualHosts(byListener.get(l) ?? [], { ctx, policies, gateway: g, listener: l }),
      };
      for (const a of appliers()) a.listener?.(ctx, policies, gl, g, l.name);
      const port = byPort.get(l.port) ?? { protocol, listeners: [] };
      port.listeners.push(gl);
      byPort.set(l.port, port);
    }
  }
  const listeners: IrListener[] = [...byPort.entries()]
    .sort((a, b) => cmpNum(a[0], b[0]))
    .map(([port, p]) => ({
      name: `${p.protocol.toLowerCase()}-${port}`,
      port,
      protocol: p.protocol,
      gatewayListeners: p.listeners.sort((a, b) => compareHostSpecificity(a.hostname, b.hostname) || cmpStr(a.name, b.name)),
    }));

  // Only clusters some emitted route sends to (or mirrors to) are part of the snapshot.
  const used = new Set<string>();
  for (const l of listeners)
    for (const gl of l.gatewayListeners) {
      // The memo patches last time's set with the virtual hosts that changed (memo.ts).
      if (ctx.memo) for (const c of ctx.memo.usedClusters(gl.name, gl.virtualHosts, vhostClusters)) used.add(c);
      else for (const vh of gl.virtualHosts) for (const c of vhostClusters(vh)) used.add(c);
    }
  const clusters = [...used]
    .sort(cmpStr)
    .map((n) => ctx.clusters.get(n))
    .filter((c): c is NonNullable<typeof c> => c !== undefined);
  return { listeners, clusters };
}
