// Per-rule cluster settings (load balancer, health check, session persistence ...) as cluster
// variants: each backend of a route goes to a copy of its cluster carrying every setting that applies
// to it, named by a hash of those settings (one "~" suffix however many features add settings).
import type { IrCluster, IrRoute } from "../../ir/types.js";
import type { Context } from "../context.js";
import { canonicalJson } from "../util.js";
import { clusterVariant } from "./registry.js";

/** The variant of `cluster` (a base cluster or a variant of it) with `settings` merged in. */
export function withClusterSettings(ctx: Context, cluster: string, settings: Partial<IrCluster>): string {
  const base = cluster.split("~")[0]!;
  const cur = ctx.clusters.get(cluster);
  const b = ctx.clusters.get(base);
  if (cur === undefined || b === undefined) return cluster;
  const merged: Record<string, unknown> = {};
  const baseFields = b as unknown as Record<string, unknown>;
  for (const [k, v] of Object.entries(cur)) {
    if (k !== "name" && canonicalJson(v) !== canonicalJson(baseFields[k])) merged[k] = v;
  }
  Object.assign(merged, settings);
  return Object.keys(merged).length === 0 ? base : clusterVariant(ctx, base, merged as Partial<IrCluster>);
}

/**
 * Sends a route's backends to other clusters. The action object is shared by every route built from
 * the same rule (each match, each listener), so it is replaced by a copy, never edited in place.
 */
export function mapRouteClusters(route: IrRoute, fn: (cluster: string) => string): void {
  const a = route.action;
  if (a.type !== "forward") return;
  let changed = false;
  const backends = a.backends.map((b) => {
    if (b.cluster === null) return b;
    const next = fn(b.cluster);
    if (next === b.cluster) return b;
    changed = true;
    return { ...b, cluster: next };
  });
  if (changed) route.action = { ...a, backends };
}
