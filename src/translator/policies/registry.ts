// The appliers that turn resolved policy sections into IR. Each feature (retries, load balancing,
// JWT, CORS, rate limits ...) adds one entry to APPLIERS in its own file under this folder; the
// IR build calls every applier once per emitted route and once per emitted Gateway listener.
import type { IrCluster, IrGatewayListener, IrRoute, IrRouteSecurity } from "../../ir/types.js";
import { sha256Hex } from "../../util/canonical-json.js";
import type { Context } from "../context.js";
import type { GatewayState } from "../gateways.js";
import { canonicalJson } from "../util.js";
import type { AppliedSection, PolicyIndex, RouteScope } from "./attach.js";

export interface PolicyApplier {
  /** The policy kind and the spec sections this applier consumes (others are reported as unsupported). */
  kind: string;
  sections: readonly string[];
  /** Called for every IR route (one per rule match, per Gateway listener it is served on). */
  route?(ctx: Context, policies: PolicyIndex, route: IrRoute, scope: RouteScope): void;
  /** Called for every programmed HTTP/HTTPS Gateway listener. */
  listener?(ctx: Context, policies: PolicyIndex, listener: IrGatewayListener, gateway: GatewayState, listenerName: string): void;
}

/** Registered appliers, in the order they run. Feature modules append with registerApplier(). */
const APPLIERS: PolicyApplier[] = [];

export function registerApplier(a: PolicyApplier): void {
  APPLIERS.push(a);
}

export function appliers(): readonly PolicyApplier[] {
  return APPLIERS;
}

/** A SecurityPolicy section that becomes the route's security setting of the same name. */
export function registerSecuritySection<K extends keyof IrRouteSecurity & string>(section: K, build: (ctx: Context, s: AppliedSection) => NonNullable<IrRouteSecurity[K]>): void {
  registerApplier({
    kind: "SecurityPolicy",
    sections: [section],
    route(ctx, policies, route, scope) {
      const s = policies.sections("SecurityPolicy", scope).get(section);
      if (s) route.security = { ...route.security, [section]: build(ctx, s) };
    },
  });
}

/**
 * A copy of a cluster with policy settings (load balancer, breaker, health check ...) merged in,
 * under a name derived from the settings: routes with equal settings share one copy, and routes
 * with other settings (or none) keep theirs. Deterministic: the name is a hash of the settings.
 */
export function clusterVariant(ctx: Context, base: string, settings: Partial<IrCluster>): string {
  const cluster = ctx.clusters.get(base);
  if (!cluster) return base;
  const name = `${base}~${sha256Hex(canonicalJson(settings)).slice(0, 10)}`;
  if (!ctx.clusters.has(name)) ctx.clusters.set(name, { ...cluster, ...settings, name });
  return name;
}
