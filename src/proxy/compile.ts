// Snapshot -> compiled tables: routers, filter closures, weighted pickers, clusters, metric children.
// Runs once per apply; it throws on anything unusable so a bad snapshot is never half-applied.
import type { IrBackend, IrCluster, IrFilters, IrGatewayListener, IrListener, IrRetry, IrRoute, IrVirtualHost, Snapshot } from "../ir/types.js";
import { clusterNames, gatewayKeyOf } from "./snapshot-delta.js";
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
  RETRY_ALL_FAILURES,
  RETRY_CONNECT,
  RETRY_REFUSED_STREAM,
  RETRY_RESET,
  type SnapshotState,
} from "./compiled.js";
import { chainEdits } from "./filters/header-mods.js";
import { compileRequestHeaderModifier } from "./filters/request-header-modifier.js";
import { compileRedirect } from "./filters/request-redirect.js";
import { compileResponseHeaderModifier } from "./filters/response-header-modifier.js";
import { compileUrlRewrite, mergeRewrite } from "./filters/url-rewrite.js";
import { compileGuards } from "./guard-factories.js";
import "./guards/index.js";
import { portLimits, routeBodyLimit } from "./guards/request-limits.js";
import { HostTable, RouteTable } from "./router.js";
import { compileMatch, PATH_PREFIX } from "./router-match.js";
import { TlsSelector } from "./tls.js";
import { attachBreaker, breakerOf } from "./upstream/breaker.js";
import type { ClusterRuntime, EndpointRegistry } from "./upstream/cluster.js";
import { WeightedPicker } from "./weighted.js";

export interface CompiledSnapshot {
  state: SnapshotState;
  listeners: CompiledListener[];
  certKeys: Set<string>;
  /** Called once the snapshot serves: its cluster runtimes become the cache's. */
  commit: () => void;
  /**
   * The snapshot as the base for the next delta, with compiled virtual hosts in place of the IR
   * ones (see CompiledVhost); its routes' IR can then be collected. A later compile that cannot
   * reuse one of them throws NeedsFullSnapshot.
   */
  deltaBase: () => Snapshot;
}

const DEFAULT_BACKOFF_MS = 25;

/** Shared by every route without a direct-response body (a Buffer costs ~250 bytes of heap). */
const EMPTY_BODY = Buffer.alloc(0);

/** The route's duration series, made at its first request: idle routes cost no histogram. */
class LazyDuration {
  private series: { observe(v: number): void } | null = null;
  constructor(private readonly route: string) {}
  observe(v: number): void {
    (this.series ??= routeDuration(this.route)).observe(v);
  }
}

function mirrorsOf(f: IrFilters, clusters: Map<string, ClusterRuntime>): CompiledMirror[] {
  const out: CompiledMirror[] = [];
  for (const m of f.mirrors ?? []) {
    const c = clusters.get(m.cluster);
    if (!c) throw new Error(`mirror cluster ${m.cluster} is not in the snapshot`);
    out.push({ cluster: c, fraction: Math.max(0, Math.min(100, m.percent)) / 100 });
  }
  return out;
}

function compileRetry(r: IrRetry, codes: Uint8Array, grpcCodes: Uint8Array | null): CompiledRetry {
  const backoffMs = r.backoffMs ?? DEFAULT_BACKOFF_MS;
  const on = r.on === undefined ? RETRY_ALL_FAILURES : (r.on.connectFailure ? RETRY_CONNECT : 0) | (r.on.reset ? RETRY_RESET : 0) | (r.on.refusedStream ? RETRY_REFUSED_STREAM : 0);
  return {
    attempts: r.attempts,
    codes,
    backoffMs,
    maxBackoffMs: Math.max(backoffMs, r.maxBackoffMs ?? backoffMs * 10),
    grpcCodes,
    on,
    nonIdempotent: r.retryNonIdempotent === true,
  };
}

function compileRoute(
  r: IrRoute,
  listener: IrListener,
  gatewayName: string,
  clusters: Map<string, ClusterRuntime>,
  gateway?: IrGatewayListener,
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
          breaker: cluster === null ? null : breakerOf(cluster),
        },
      };
    });
  }
  let retry: CompiledRetry | null = null;
  if (r.retry && r.retry.attempts > 0) {
    const codes = new Uint8Array(600);
    for (const c of r.retry.codes) if (c >= 0 && c < 600) codes[c] = 1;
    let grpcCodes: Uint8Array | null = null;
    if (r.retry.grpcCodes !== undefined && r.retry.grpcCodes.length > 0) {
      grpcCodes = new Uint8Array(32);
      for (const c of r.retry.grpcCodes) if (c > 0 && c < 32) grpcCodes[c] = 1;
    }
    retry = compileRetry(r.retry, codes, grpcCodes);
  }
  const anyMirror = backends.some((b) => b.item.mirrors !== null);
  const sticky = backends.filter((b) => b.weight > 0 && b.item.cluster !== null && b.item.cluster.hasSessions).map((b) => b.item);
  return {
    name: r.name,
    match,
    action,
    redirect: a.type === "redirect" ? compileRedirect(a, { port: listener.port, scheme }, matchedPrefix) : null,
    directStatus: a.type === "direct" ? a.status : 0,
    directBody: a.type === "direct" && a.body !== "" ? Buffer.from(a.body) : EMPTY_BODY,
    backends: new WeightedPicker(backends),
    sticky: sticky.length > 1 ? sticky : null,
    responseEdit: ruleResp,
    requestMs: r.timeouts?.requestMs ?? 0,
    backendRequestMs: r.timeouts?.backendRequestMs ?? 0,
    retry,
    wantsReplayableBody: retry !== null || anyMirror,
    counters: new RequestCounters(gatewayName, r.name, ""),
    duration: new LazyDuration(r.name),
    guards: compileGuards(r, listener, undefined, gateway),
    maxBodyBytes: routeBodyLimit(r),
  };
}

/**
 * Thrown when a snapshot refers to a compiled virtual host that cannot be reused (its Gateway
 * listener's settings or its clusters changed): the worker's delta base keeps no routes to
 * compile it again from, so the full snapshot is needed.
 */
export class NeedsFullSnapshot extends Error {}

const NO_ROUTES: IrRoute[] = [];

/** What a virtual host's routes were compiled against; one object per Gateway listener and cluster set per compile. */
interface VhostContext {
  port: number;
  protocol: string;
  gateway: string;
  /** The Gateway listener settings its routes' guards were built with (client certificates, limits). */
  gatewayKey: string;
  /** The cluster runtimes its routes hold: reusable only while each name still maps to the same one. */
  deps: [string, ClusterRuntime][];
}

/**
 * A compiled virtual host: its route table. It also stands in for its IR in the worker's delta
 * base (hostname, no routes): a delta names unchanged virtual hosts by position, and the worker
 * only needs the compiled table for them, so the base need not keep every route's IR twice.
 */
export class CompiledVhost extends RouteTable<CompiledRoute> implements IrVirtualHost {
  constructor(
    readonly hostname: string,
    routes: CompiledRoute[],
    readonly context: VhostContext,
  ) {
    super(routes);
  }

  /** The IR routes are not kept. */
  get routes(): IrRoute[] {
    return NO_ROUTES;
  }
}

/**
 * What one compile leaves for the next: cluster runtimes by name (kept while the cluster's IR is
 * unchanged, so pickers and endpoints carry over) and the compiled form of each virtual host object
 * (a snapshot rebuilt from a delta has the unchanged virtual hosts as the very same objects).
 */
export class CompileCache {
  clusters = new Map<string, { ir: IrCluster; text: string; runtime: ClusterRuntime; keys: Set<string> }>();
  vhosts = new WeakMap<IrVirtualHost, CompiledVhost>();
  /** Counters for tests and the change profile: what the last compile reused. */
  stats = { vhostsReused: 0, vhostsCompiled: 0, clustersReused: 0, clustersBuilt: 0 };
}

function buildClusters(irClusters: IrCluster[], registry: EndpointRegistry, cache: CompileCache): { clusters: Map<string, ClusterRuntime>; keys: Set<string>; next: CompileCache["clusters"] } {
  const clusters = new Map<string, ClusterRuntime>();
  const keys = new Set<string>();
  const next: CompileCache["clusters"] = new Map();
  for (const c of irClusters) {
    const prev = cache.clusters.get(c.name);
    let entry = prev && (prev.ir === c || prev.text === JSON.stringify(c)) ? { ...prev, ir: c } : undefined;
    if (entry) cache.stats.clustersReused++;
    else {
      const built = registry.build([c]);
      entry = { ir: c, text: JSON.stringify(c), runtime: built.clusters.get(c.name)!, keys: built.keys };
      attachBreaker(entry.runtime, c);
      cache.stats.clustersBuilt++;
    }
    next.set(c.name, entry);
    clusters.set(c.name, entry.runtime);
    for (const k of entry.keys) keys.add(k);
  }
  return { clusters, keys, next };
}

/** Compiles the virtual hosts of one Gateway listener, reusing what the cache (or the base) has compiled in the same context. */
class GatewayCompiler {
  private readonly gatewayKey: string;
  /** Contexts of this compile by cluster names, so virtual hosts compiled alike share one. */
  private readonly contexts = new Map<string, VhostContext>();
  /** Verdicts on contexts of earlier compiles: one check per context, not per virtual host. */
  private readonly verdicts = new Map<VhostContext, boolean>();

  constructor(
    private readonly l: IrListener,
    private readonly g: IrGatewayListener,
    private readonly clusters: Map<string, ClusterRuntime>,
    private readonly cache: CompileCache,
  ) {
    this.gatewayKey = gatewayKeyOf(g);
  }

  private reusable(c: VhostContext): boolean {
    let ok = this.verdicts.get(c);
    if (ok === undefined) {
      const { l, g, clusters } = this;
      ok = c.port === l.port && c.protocol === l.protocol && c.gateway === g.name && c.gatewayKey === this.gatewayKey && c.deps.every(([n, rt]) => clusters.get(n) === rt);
      this.verdicts.set(c, ok);
    }
    return ok;
  }

  vhost(vh: IrVirtualHost): CompiledVhost {
    const { l, g, clusters, cache } = this;
    const prev = vh instanceof CompiledVhost ? vh : cache.vhosts.get(vh);
    if (prev && this.reusable(prev.context)) {
      cache.stats.vhostsReused++;
      return prev;
    }
    if (vh instanceof CompiledVhost) throw new NeedsFullSnapshot(`virtual host ${vh.hostname} of ${g.name} changed context and its routes are not kept`);
    cache.stats.vhostsCompiled++;
    const routes = vh.routes.map((r) => compileRoute(r, l, g.name, clusters, g));
    const names = new Set<string>();
    for (const r of vh.routes) clusterNames(r, names);
    const deps: [string, ClusterRuntime][] = [];
    for (const n of [...names].sort()) {
      const rt = clusters.get(n);
      if (rt) deps.push([n, rt]);
    }
    const key = deps.map(([n]) => n).join("\0");
    let context = this.contexts.get(key);
    if (!context) this.contexts.set(key, (context = { port: l.port, protocol: l.protocol, gateway: g.name, gatewayKey: this.gatewayKey, deps }));
    const compiled = new CompiledVhost(vh.hostname, routes, context);
    cache.vhosts.set(vh, compiled);
    return compiled;
  }
}

export function compileSnapshot(
  snapshot: Snapshot,
  registry: EndpointRegistry,
  log: AccessLog,
  cache: CompileCache = new CompileCache(),
): CompiledSnapshot {
  cache.stats = { vhostsReused: 0, vhostsCompiled: 0, clustersReused: 0, clustersBuilt: 0 };
  const { clusters, keys, next } = buildClusters(snapshot.config.clusters, registry, cache);
  const state: SnapshotState = { version: snapshot.version, inflight: 0, onIdle: null, endpointKeys: keys, log };
  const certKeys = new Set<string>();
  const seenPorts = new Set<number>();
  const baseHosts = new Map<IrGatewayListener, CompiledVhost[]>();
  const listeners = snapshot.config.listeners.map((l): CompiledListener => {
    if (seenPorts.has(l.port)) throw new Error(`two listeners on port ${l.port}`);
    seenPorts.add(l.port);
    const gateways = l.gatewayListeners.map((g): { hostname: string | null; value: CompiledGateway } => {
      const compiler = new GatewayCompiler(l, g, clusters, cache);
      const compiled = g.virtualHosts.map((vh) => compiler.vhost(vh));
      baseHosts.set(g, compiled);
      const vhosts = compiled.map((c) => ({ hostname: c.hostname, value: c }));
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
      limits: portLimits(l),
      notFound: new RequestCounters(l.name, "", ""),
      snapshot: state,
    };
  });
  // Taken over by the cache only once this snapshot serves (a failed apply must not hand its
  // runtimes, whose endpoints may be released, to the next compile).
  // Made now, so the compiled snapshot holds no reference to the IR routes.
  const base: Snapshot = {
    ...snapshot,
    config: {
      ...snapshot.config,
      listeners: snapshot.config.listeners.map((l) => ({ ...l, gatewayListeners: l.gatewayListeners.map((g) => ({ ...g, virtualHosts: baseHosts.get(g)! })) })),
    },
  };
  baseHosts.clear();
  const deltaBase = (): Snapshot => {
    // The IR virtual hosts go with this: nothing compiles from them again.
    cache.vhosts = new WeakMap();
    return base;
  };
  return { state, listeners, certKeys, commit: () => void (cache.clusters = next), deltaBase };
}
