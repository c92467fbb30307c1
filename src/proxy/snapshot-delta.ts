// A snapshot as the difference from the one before it, so a one-route change does not ship (and
// parse) every virtual host to every worker. Virtual hosts and clusters the control plane's new
// config shares (by identity: the translator hands unchanged ones out again) with the base config
// are sent as their position in the base; everything else is sent whole. The worker rebuilds the
// full config from its copy of the base; unchanged parts are then the same objects as before,
// which its compiler reuses. A worker whose last snapshot is not the base asks for the full one.
import type { IrCluster, IrConfig, IrGatewayListener, IrListener, IrVirtualHost, Snapshot } from "../ir/types.js";

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

/**
 * The delta from base to next, or null when it would not be much smaller than next itself (no
 * virtual hosts, or a change of a Gateway or a Service that made most of them new objects).
 */
export function makeDelta(base: Snapshot, next: Snapshot): SnapshotDelta | null {
  const glIndex = new Map<string, Map<IrVirtualHost, number>>();
  for (const l of base.config.listeners)
    for (const gl of l.gatewayListeners) glIndex.set(gl.name, new Map(gl.virtualHosts.map((vh, i) => [vh, i])));
  let total = 0;
  let sent = 0;
  const listeners = next.config.listeners.map((l): DeltaListener => ({
    ...l,
    gatewayListeners: l.gatewayListeners.map((gl): DeltaGatewayListener => {
      const idx = glIndex.get(gl.name);
      return {
        ...gl,
        virtualHosts: gl.virtualHosts.map((vh) => {
          total++;
          const i = idx?.get(vh);
          if (i !== undefined) return i;
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
