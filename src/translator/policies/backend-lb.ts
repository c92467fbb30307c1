// BackendTrafficPolicy loadBalancer -> IrCluster.loadBalancer of each backend of a route, resolved
// per backend (a policy on the Service/Backend sits between the route's and the listener's). A
// Service without one may choose its algorithm with Cilium's annotations:
//   service.cilium.io/lb-l7: enabled                   (Cilium's switch for per-request balancing)
//   service.cilium.io/lb-l7-algorithm: round_robin | least_request | random
// As in Cilium, the algorithm annotation counts only with lb-l7 enabled; a policy wins over both.
import type { IrHashInput, IrLoadBalancer } from "../../ir/types.js";
import { parseDuration } from "../../resources/duration.js";
import type { Context } from "../context.js";
import { refOfItem } from "../context.js";
import { cmpStr } from "../util.js";
import { backendTargetOfCluster, type BackendTarget, type PolicyIndex, type RouteScope } from "./attach.js";
import { mapRouteClusters, withClusterSettings } from "./cluster-settings.js";
import { registerApplier } from "./registry.js";

const KIND = "BackendTrafficPolicy";
export const CILIUM_LB_L7 = "service.cilium.io/lb-l7";
export const CILIUM_LB_L7_ALGORITHM = "service.cilium.io/lb-l7-algorithm";

const DEFAULT_MAGLEV_SIZE = 65537;
const DEFAULT_RING_SIZE = 1024;

interface LoadBalancerSection {
  type: IrLoadBalancer["type"];
  consistentHash?: {
    type: "SourceIP" | "Header" | "Headers" | "Cookie" | "QueryParams";
    header?: { name: string };
    headers?: { name: string }[];
    cookie?: { name: string; ttl?: string; attributes?: Record<string, string> };
    queryParams?: { name: string }[];
    tableSize?: number;
    algorithm?: "Maglev" | "RingHash";
  };
  slowStart?: { window: string };
}

function hashInput(ch: NonNullable<LoadBalancerSection["consistentHash"]>): IrHashInput | null {
  switch (ch.type) {
    case "SourceIP":
      return { type: "SourceIP" };
    case "Header":
      return ch.header ? { type: "Header", names: [ch.header.name.toLowerCase()] } : null;
    case "Headers":
      return ch.headers ? { type: "Header", names: ch.headers.map((h) => h.name.toLowerCase()) } : null;
    case "QueryParams":
      return ch.queryParams ? { type: "QueryParams", names: ch.queryParams.map((q) => q.name) } : null;
    case "Cookie": {
      const c = ch.cookie;
      if (!c) return null;
      const out: IrHashInput = { type: "Cookie", name: c.name };
      const ttl = c.ttl !== undefined ? parseDuration(c.ttl) : null;
      if (ttl !== null && ttl > 0) out.ttlMs = ttl;
      const attrs = Object.entries(c.attributes ?? {}).sort((a, b) => cmpStr(a[0], b[0]));
      if (attrs.length > 0) out.attributes = attrs.map(([name, value]) => ({ name, value }));
      return out;
    }
  }
}

/** The IR form of a (schema-valid) section; null when a union member is missing (reported by the loader). */
export function compileLoadBalancer(s: LoadBalancerSection): IrLoadBalancer | null {
  const lb: IrLoadBalancer = { type: s.type };
  if (s.type === "ConsistentHash") {
    const ch = s.consistentHash;
    if (!ch) return null;
    const on = hashInput(ch);
    if (!on) return null;
    const algorithm = ch.algorithm ?? "Maglev";
    lb.consistentHash = { algorithm, tableSize: ch.tableSize ?? (algorithm === "Maglev" ? DEFAULT_MAGLEV_SIZE : DEFAULT_RING_SIZE), on };
  }
  if (s.slowStart !== undefined && (s.type === "RoundRobin" || s.type === "LeastRequest")) {
    const ms = parseDuration(s.slowStart.window);
    if (ms !== null && ms > 0) lb.slowStartMs = ms;
  }
  return lb;
}

const CILIUM_ALGORITHMS: Record<string, IrLoadBalancer["type"]> = { round_robin: "RoundRobin", least_request: "LeastRequest", random: "Random" };

/** The load balancer a Service's Cilium annotations ask for, or undefined. */
export function ciliumLoadBalancer(ctx: Context, target: BackendTarget): IrLoadBalancer | undefined {
  const svc = ctx.index.services.get(`${target.namespace}/${target.name}`);
  const ann = svc?.obj.metadata.annotations;
  if (!svc || !ann) return undefined;
  const enabled = ann[CILIUM_LB_L7];
  const algo = ann[CILIUM_LB_L7_ALGORITHM];
  const ref = refOfItem(svc);
  if (enabled !== undefined && enabled !== "enabled" && enabled !== "disabled") {
    ctx.report("warning", ref, `metadata.annotations["${CILIUM_LB_L7}"]`, `unknown value ${JSON.stringify(enabled)}; treated as disabled`, '"enabled" or "disabled"');
  }
  if (algo === undefined) return undefined;
  const type = CILIUM_ALGORITHMS[algo];
  if (type === undefined) {
    ctx.report("warning", ref, `metadata.annotations["${CILIUM_LB_L7_ALGORITHM}"]`, `unknown algorithm ${JSON.stringify(algo)}; round robin is used`, "round_robin, least_request or random");
    return undefined;
  }
  if (enabled !== "enabled") {
    ctx.report("warning", ref, `metadata.annotations["${CILIUM_LB_L7_ALGORITHM}"]`, `ignored: as in Cilium, the algorithm applies only with ${CILIUM_LB_L7}: enabled`, `${CILIUM_LB_L7}: "enabled" next to it, or a BackendTrafficPolicy loadBalancer`);
    return undefined;
  }
  return { type };
}

function loadBalancerFor(ctx: Context, policies: PolicyIndex, scope: RouteScope, cluster: string): IrLoadBalancer | undefined {
  const target = backendTargetOfCluster(cluster);
  const s = policies.sections(KIND, scope, target).get("loadBalancer");
  if (s !== undefined) return compileLoadBalancer(s.value as LoadBalancerSection) ?? undefined;
  return target?.kind === "Service" ? ciliumLoadBalancer(ctx, target) : undefined;
}

registerApplier({
  kind: KIND,
  sections: ["loadBalancer"],
  route(ctx, policies, route, scope) {
    mapRouteClusters(route, (cluster) => {
      const lb = loadBalancerFor(ctx, policies, scope, cluster);
      return lb === undefined ? cluster : withClusterSettings(ctx, cluster, { loadBalancer: lb });
    });
  },
});
