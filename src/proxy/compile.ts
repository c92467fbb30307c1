// Snapshot -> compiled tables: routers, filter closures, weighted pickers, clusters, metric children.
// Runs once per apply; it throws on anything unusable so a bad snapshot is never half-applied.
import type { IrBackend, IrFilters, IrListener, IrRoute, Snapshot } from "../ir/types.js";
import type { AccessLog } from "../observe/access-log.js";
import { RequestCounters, routeDuration } from "../observe/proxy-metrics.js";
import {
  ACTION_DIRECT,
  ACTION_FORWARD,
  ACTION_REDIRECT,
  type CompiledBackendRef,
  type CompiledGateway,
  type CompiledListener,
  type CompiledMirror,
  type CompiledRetry,
  type CompiledRoute,
  type SnapshotState,
} from "./compiled.js";
import { chainEdits } from "./filters/header-mods.js";
import { compileRequestHeaderModifier } from "./filters/request-header-modifier.js";
import { compileRedirect } from "./filters/request-redirect.js";
import { compileResponseHeaderModifier } from "./filters/response-header-modifier.js";
import { compileUrlRewrite, mergeRewrite } from "./filters/url-rewrite.js";
import { compileGuards } from "./guard-factories.js";
import "./guards/index.js";
import { HostTable, RouteTable } from "./router.js";
import { compileMatch, PATH_PREFIX } from "./router-match.js";
import { TlsSelector } from "./tls.js";
import type { ClusterRuntime, EndpointRegistry } from "./upstream/cluster.js";
import { WeightedPicker } from "./weighted.js";

export interface CompiledSnapshot {
  state: SnapshotState;
  listeners: CompiledListener[];
  certKeys: Set<string>;
}

const DEFAULT_BACKOFF_MS = 25;

function mirrorsOf(f: IrFilters, clusters: Map<string, ClusterRuntime>): CompiledMirror[] {
  const out: CompiledMirror[] = [];
  for (const m of f.mirrors ?? []) {
    const c = clusters.get(m.cluster);
    if (!c) throw new Error(`mirror cluster ${m.cluster} is not in the snapshot`);
    out.push({ cluster: c, fraction: Math.max(0, Math.min(100, m.percent)) / 100 });
  }
  return out;
}

function compileRoute(
  r: IrRoute,
  listener: IrListener,
  gatewayName: string,
  clusters: Map<string, ClusterRuntime>,
): CompiledRoute {
  const match = compileMatch(r.match);
  const matchedPrefix = match.pathKind === PATH_PREFIX ? match.pathValue : null;
  const ruleReq = compileRequestHeaderModifier(r.filters);
  const ruleResp = compileResponseHeaderModifier(r.filters);
  const ruleRewrite = compileUrlRewrite(r.filters.urlRewrite, matchedPrefix);
  const ruleMirrors = mirrorsOf(r.filters, clusters);
  const scheme = listener.protocol === "HTTPS" ? "https" : "http";
  const a = r.action;
  let action = ACTION_FORWARD;
  let backends: { item: CompiledBackendRef; weight: number }[] = [];
  if (a.type === "redirect") action = ACTION_REDIRECT;
  else if (a.type === "direct") action = ACTION_DIRECT;
  else {
    backends = a.backends.map((b: IrBackend) => {
      const cluster = b.cluster === null ? null : clusters.get(b.cluster) ?? null;
      if (b.cluster !== null && cluster === null) throw new Error(`route ${r.name}: cluster ${b.cluster} is not in the snapshot`);
      const mirrors = ruleMirrors.concat(mirrorsOf(b.filters, clusters));
      const label = b.cluster ?? "unresolved";
      return {
        weight: b.weight,
        item: {
          label,
          cluster,
          requestEdit: chainEdits(ruleReq, compileRequestHeaderModifier(b.filters)),
          responseEdit: chainEdits(ruleResp, compileResponseHeaderModifier(b.filters)),
          rewrite: mergeRewrite(ruleRewrite, compileUrlRewrite(b.filters.urlRewrite, matchedPrefix)),
          mirrors: mirrors.length ? mirrors : null,
          redirect: b.filters.redirect ? compileRedirect(b.filters.redirect, { port: listener.port, scheme }, matchedPrefix) : null,
          counters: new RequestCounters(gatewayName, r.name, label),
        },
      };
    });
  }
  let retry: CompiledRetry | null = null;
  if (r.retry && r.retry.attempts > 0) {
    const codes = new Uint8Array(600);
    for (const c of r.retry.codes) if (c >= 0 && c < 600) codes[c] = 1;
    retry = { attempts: r.retry.attempts, codes, backoffMs: r.retry.backoffMs ?? DEFAULT_BACKOFF_MS };
  }
  const anyMirror = backends.some((b) => b.item.mirrors !== null);
  return {
    name: r.name,
    match,
    action,
    redirect: a.type === "redirect" ? compileRedirect(a, { port: listener.port, scheme }, matchedPrefix) : null,
    directStatus: a.type === "direct" ? a.status : 0,
    directBody: Buffer.from(a.type === "direct" ? a.body : ""),
    backends: new WeightedPicker(backends),
    responseEdit: ruleResp,
    requestMs: r.timeouts?.requestMs ?? 0,
    backendRequestMs: r.timeouts?.backendRequestMs ?? 0,
    retry,
    wantsReplayableBody: retry !== null || anyMirror,
    counters: new RequestCounters(gatewayName, r.name, ""),
    duration: routeDuration(r.name),
    guards: compileGuards(r, listener),
  };
}

export function compileSnapshot(
  snapshot: Snapshot,
  registry: EndpointRegistry,
  log: AccessLog,
): CompiledSnapshot {
  const { clusters, keys } = registry.build(snapshot.config.clusters);
  const state: SnapshotState = { version: snapshot.version, inflight: 0, onIdle: null, endpointKeys: keys, log };
  const certKeys = new Set<string>();
  const seenPorts = new Set<number>();
  const listeners = snapshot.config.listeners.map((l): CompiledListener => {
    if (seenPorts.has(l.port)) throw new Error(`two listeners on port ${l.port}`);
    seenPorts.add(l.port);
    const gateways = l.gatewayListeners.map((g): { hostname: string | null; value: CompiledGateway } => {
      const vhosts = g.virtualHosts.map((vh) => ({
        hostname: vh.hostname,
        value: new RouteTable(vh.routes.map((r) => compileRoute(r, l, g.name, clusters))),
      }));
      return {
        hostname: g.hostname,
        value: { name: g.name, hostname: g.hostname, vhosts: new HostTable(vhosts), notFound: new RequestCounters(g.name, "", "") },
      };
    });
    const tls = l.protocol === "HTTPS" ? new TlsSelector(l.gatewayListeners, certKeys) : null;
    if (tls && !tls.defaultPem) throw new Error(`HTTPS listener ${l.name} has no certificate`);
    return {
      name: l.name,
      port: l.port,
      protocol: l.protocol,
      scheme: l.protocol === "HTTPS" ? "https" : "http",
      gateways: new HostTable(gateways),
      tls,
      notFound: new RequestCounters(l.name, "", ""),
      snapshot: state,
    };
  });
  return { state, listeners, certKeys };
}
