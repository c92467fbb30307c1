// A cluster of a snapshot: its protocol and a weighted round-robin over its endpoints.
import type { IrCluster } from "../../ir/types.js";
import { WeightedPicker } from "../weighted.js";
import { EndpointRuntime, type UpstreamProtocol } from "./endpoint.js";
import { upstreamTls } from "./tls-connect.js";

export class ClusterRuntime {
  readonly picker: WeightedPicker<EndpointRuntime>;
  /** "ws" clusters speak HTTP/1.1 (upgrades ride on it). */
  readonly protocol: UpstreamProtocol;
  /** Set when the cluster's TLS settings cannot be used: every request fails with this reason. */
  tlsError: string | null = null;

  constructor(
    readonly name: string,
    readonly endpoints: EndpointRuntime[],
    weights: number[],
    protocol: IrCluster["protocol"],
  ) {
    this.protocol = protocol === "h2c" ? "h2c" : "http1";
    this.picker = new WeightedPicker(endpoints.map((e, i) => ({ item: e, weight: weights[i]! })));
  }

  pick(): EndpointRuntime | null {
    return this.picker.pick();
  }
}

/**
 * Endpoint connections shared across snapshots. build() returns the clusters of a new snapshot
 * reusing endpoints with the same key; release() closes (gracefully) those no longer referenced.
 */
export class EndpointRegistry {
  private live = new Map<string, EndpointRuntime>();

  build(clusters: IrCluster[]): { clusters: Map<string, ClusterRuntime>; keys: Set<string> } {
    const out = new Map<string, ClusterRuntime>();
    const keys = new Set<string>();
    for (const c of clusters) {
      const proto: UpstreamProtocol = c.protocol === "h2c" ? "h2c" : "http1";
      const eps: EndpointRuntime[] = [];
      const weights: number[] = [];
      const t = c.tls !== undefined && c.tls.error === undefined ? upstreamTls(c.tls, proto === "h2c" ? "h2" : "http/1.1") : null;
      for (const ep of c.endpoints) {
        const key = EndpointRuntime.keyOf(ep, proto, t?.key);
        let rt = this.live.get(key);
        if (!rt) {
          rt = new EndpointRuntime(key, ep, proto, t);
          this.live.set(key, rt);
        }
        keys.add(key);
        eps.push(rt);
        // Endpoint weight 0 is treated as 1 only when every endpoint has 0 (all equal).
        weights.push(ep.weight);
      }
      if (weights.length > 0 && weights.every((w) => !(w > 0))) weights.fill(1);
      const cluster = new ClusterRuntime(c.name, eps, weights, c.protocol);
      if (c.tls?.error !== undefined) cluster.tlsError = c.tls.error;
      out.set(c.name, cluster);
    }
    return { clusters: out, keys };
  }

  /** Closes endpoints whose key is in none of `inUse` (the snapshots still serving requests). */
  release(inUse: Set<string>): Promise<void> {
    const tasks: Promise<void>[] = [];
    for (const [k, rt] of this.live) {
      if (!inUse.has(k)) {
        this.live.delete(k);
        tasks.push(rt.close());
      }
    }
    return Promise.all(tasks).then(() => undefined);
  }

  closeAll(): Promise<void> {
    return this.release(new Set());
  }

  destroyAll(): void {
    for (const rt of this.live.values()) rt.destroy();
    this.live.clear();
  }
}
