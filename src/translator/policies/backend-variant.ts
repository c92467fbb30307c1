// Backend-scoped policy sections (circuit breaker, connection timeouts ...) resolved per backend of
// a route: each backendRef's policy may come from a policy on its Service/Backend, so each gets its
// own cluster variant. Mirrors keep their clusters (they are fire-and-forget copies).
import type { IrBackend, IrCluster, IrRoute } from "../../ir/types.js";
import type { Context } from "../context.js";
import { type AppliedSection, backendTargetOfCluster, type PolicyIndex, type RouteScope } from "./attach.js";
import { clusterVariant } from "./registry.js";

/**
 * For each resolved backend of a forwarding route, the `section` of `kind` that applies to it is
 * turned into cluster settings by `settings` (undefined: leave the backend alone).
 */
export function varyBackends(
  ctx: Context,
  policies: PolicyIndex,
  route: IrRoute,
  scope: RouteScope,
  kind: string,
  section: string,
  settings: (s: AppliedSection, cluster: IrCluster) => Partial<IrCluster> | undefined,
): void {
  const a = route.action;
  if (a.type !== "forward") return;
  let changed = false;
  const backends = a.backends.map((b): IrBackend => {
    if (b.cluster === null) return b;
    const applied = policies.sections(kind, scope, backendTargetOfCluster(b.cluster)).get(section);
    const cluster = ctx.clusters.get(b.cluster);
    if (applied === undefined || cluster === undefined) return b;
    const extra = settings(applied, cluster);
    if (extra === undefined) return b;
    changed = true;
    return { ...b, cluster: clusterVariant(ctx, b.cluster, extra) };
  });
  // Actions are shared between the routes of a rule: replace, never edit.
  if (changed) route.action = { ...a, backends };
}
