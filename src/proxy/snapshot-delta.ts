// A snapshot as the difference from the one before it, so a one-route change does not ship (and
// parse) every virtual host to every worker. Virtual hosts and clusters the control plane's new
// config shares (by identity: the translator hands unchanged ones out again) with the base config
// are sent as their position in the base; everything else is sent whole. The worker rebuilds the
// config from its base; unchanged parts are then the same objects as before, which its compiler
// reuses. The worker's base keeps no routes (a compiled virtual host stands in for its IR), so a
// virtual host is referenced only when its compiled table stays valid: its Gateway listener's
// settings and the clusters its routes use are unchanged. A worker whose last snapshot is not the
// base, or that cannot reuse a reference after all, asks for the full one.
import type { IrCluster, IrConfig, IrGatewayListener, IrListener, IrRoute, IrVirtualHost, Snapshot } from "../ir/types.js";

/** A virtual host, or the index of the same one in the base gateway listener of the same name. */
type VhostOrRef = IrVirtualHost | number;

export interface DeltaGatewayListener extends Omit<IrGatewayListener, "virtualHosts"> {
  virtualHosts: VhostOrRef[];
}

export interface DeltaListener extends Omit<IrListener, "gatewayListeners"> {
  gatewayListeners: DeltaGatewayListener[];
}

export interface SnapshotDelta {
  version: number;
  hash: string;
  /** The snapshot this one is expressed against. */
  base: { version: number; hash: string };
  listeners: DeltaListener[];
  /** A cluster, or the index of the same one in the base's clusters. */
  clusters: (IrCluster | number)[];
  /** Every other member of the config (L4 listeners, ...), sent whole. */
  rest: Record<string, unknown>;
}

/** What of a Gateway listener its routes' guards depend on, beyond the routes themselves. */
export function gatewayKeyOf(g: IrGatewayListener): string {
  return g.clientValidation === undefined && g.xfcc === undefined && g.limits === undefined ? "" : JSON.stringify([g.clientValidation ?? null, g.xfcc ?? null, g.limits ?? null]);
}

/** Names of the clusters a route's compiled form holds (backends and mirrors). */
export function clusterNames(r: IrRoute, into: Set<string>): void {
  for (const m of r.filters.mirrors ?? []) into.add(m.cluster);
  if (r.action.type !== "forward") return;
  for (const b of r.action.backends) {
    if (b.cluster !== null) into.add(b.cluster);
    for (const m of b.filters.mirrors ?? []) into.add(m.cluster);
  }
}

/** Names of the clusters of next that a worker holding base would rebuild (new, gone or different). */
function changedClusters(base: IrCluster[], next: IrCluster[]): Set<string> {
  const before = new Map(base.map((c) => [c.name, c]));
  const changed = new Set<string>();
  for (const c of next) {
    const b = before.get(c.name);
    before.delete(c.name);
    // Same text: the worker keeps its runtime (compile.ts buildClusters).
    if (b !== c && (b === undefined || JSON.stringify(b) !== JSON.stringify(c))) changed.add(c.name);
  }
  for (const name of before.keys()) changed.add(name);
  return changed;
}

function usesAny(vh: IrVirtualHost, names: Set<string>): boolean {
  const used = new Set<string>();
  for (const r of vh.routes) clusterNames(r, used);
  for (const n of used) if (names.has(n)) return true;
  return false;
}

/**
 * The delta from base to next, or null when it would not be much smaller than next itself (no
 * virtual hosts, or a change of a Gateway or a Service that made most of them new objects or
 * invalidated their compiled form).
 */
export function makeDelta(base: Snapshot, next: Snapshot): SnapshotDelta | null {
  /** Per base Gateway listener: its compile context and its virtual hosts' positions. */
  const glIndex = new Map<string, { context: string; index: Map<IrVirtualHost, number> }>();
  const contextOf = (l: IrListener, gl: IrGatewayListener): string => `${l.port} ${l.protocol} ${gatewayKeyOf(gl)}`;
  for (const l of base.config.listeners)
    for (const gl of l.gatewayListeners) glIndex.set(gl.name, { context: contextOf(l, gl), index: new Map(gl.virtualHosts.map((vh, i) => [vh, i])) });
  const changed = changedClusters(base.config.clusters, next.config.clusters);
  let total = 0;
  let sent = 0;
  const listeners = next.config.listeners.map((l): DeltaListener => ({
    ...l,
    gatewayListeners: l.gatewayListeners.map((gl): DeltaGatewayListener => {
      const b = glIndex.get(gl.name);
      const idx = b !== undefined && b.context === contextOf(l, gl) ? b.index : undefined;
      return {
        ...gl,
        virtualHosts: gl.virtualHosts.map((vh) => {
          total++;
          const i = idx?.get(vh);
          if (i !== undefined && (changed.size === 0 || !usesAny(vh, changed))) return i;
          sent++;
          return vh;
        }),
      };
    }),
  }));
  if (total === 0 || sent * 2 > total) return null;
  const clusterIndex = new Map(base.config.clusters.map((c, i) => [c, i]));
  const clusters = next.config.clusters.map((c) => clusterIndex.get(c) ?? c);
  const { listeners: _l, clusters: _c, ...rest } = next.config;
  return { version: next.version, hash: next.hash, base: { version: base.version, hash: base.hash }, listeners, clusters, rest };
}

/** The full snapshot from the base (which must be delta.base) and the delta. Throws on a bad reference. */
export function applyDelta(base: Snapshot, delta: SnapshotDelta): Snapshot {
  if (base.hash !== delta.base.hash || base.version !== delta.base.version) throw new Error(`delta is against version ${delta.base.version}, not ${base.version}`);
  const baseGl = new Map<string, IrVirtualHost[]>();
  for (const l of base.config.listeners) for (const gl of l.gatewayListeners) baseGl.set(gl.name, gl.virtualHosts);
  const listeners = delta.listeners.map((l): IrListener => ({
    ...l,
    gatewayListeners: l.gatewayListeners.map((gl): IrGatewayListener => {
      const from = baseGl.get(gl.name);
      return {
        ...gl,
        virtualHosts: gl.virtualHosts.map((vh) => {
          if (typeof vh !== "number") return vh;
          const v = from?.[vh];
          if (!v) throw new Error(`delta refers to virtual host ${vh} of ${gl.name}, which the base does not have`);
          return v;
        }),
      };
    }),
  }));
  const clusters = delta.clusters.map((c) => {
    if (typeof c !== "number") return c;
    const v = base.config.clusters[c];
    if (!v) throw new Error(`delta refers to cluster ${c}, which the base does not have`);
    return v;
  });
  const config = { ...delta.rest, listeners, clusters } as IrConfig;
  return { version: delta.version, hash: delta.hash, config };
}
