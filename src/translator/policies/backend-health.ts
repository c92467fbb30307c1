// BackendTrafficPolicy healthCheck -> IrCluster.healthCheck of each backend of a route (active
// HTTP/TCP/gRPC checks, passive outlier detection), with Envoy Gateway's defaults filled in.
import type { IrActiveHealthCheck, IrHealthCheck, IrPassiveHealthCheck, IrPayload } from "../../ir/types.js";
import { parseDuration } from "../../resources/duration.js";
import { backendTargetOfCluster } from "./attach.js";
import { mapRouteClusters, withClusterSettings } from "./cluster-settings.js";
import { registerApplier } from "./registry.js";

const KIND = "BackendTrafficPolicy";

interface PayloadSection {
  type: "Text" | "Binary";
  text?: string;
  binary?: string;
}

interface HealthCheckSection {
  active?: {
    type: "HTTP" | "TCP" | "GRPC";
    timeout?: string;
    interval?: string;
    unhealthyThreshold?: number;
    healthyThreshold?: number;
    http?: { path: string; method?: string; expectedStatuses?: number[]; expectedResponse?: PayloadSection };
    tcp?: { send?: PayloadSection; receive?: PayloadSection };
    grpc?: { service?: string };
  };
  passive?: {
    splitExternalLocalOriginErrors?: boolean;
    interval?: string;
    consecutiveLocalOriginFailures?: number;
    consecutiveGatewayErrors?: number;
    consecutive5XxErrors?: number;
    baseEjectionTime?: string;
    maxEjectionPercent?: number;
  };
}

/** A positive duration in ms, or the default (zero or invalid durations are not usable as periods). */
function period(text: string | undefined, dflt: number): number {
  if (text === undefined) return dflt;
  const ms = parseDuration(text);
  return ms === null || ms <= 0 ? dflt : ms;
}

function payload(p: PayloadSection | undefined): IrPayload | undefined {
  if (p === undefined) return undefined;
  if (p.type === "Text") return p.text === undefined ? undefined : { base64: Buffer.from(p.text, "utf8").toString("base64") };
  return p.binary === undefined ? undefined : { base64: p.binary };
}

export function compileHealthCheck(s: HealthCheckSection): IrHealthCheck | null {
  const out: IrHealthCheck = {};
  const a = s.active;
  if (a !== undefined) {
    const active: IrActiveHealthCheck = {
      type: a.type,
      intervalMs: period(a.interval, 3000),
      timeoutMs: period(a.timeout, 1000),
      unhealthyThreshold: a.unhealthyThreshold ?? 3,
      healthyThreshold: a.healthyThreshold ?? 1,
    };
    if (a.type === "HTTP" && a.http !== undefined) {
      active.http = { path: a.http.path, method: a.http.method ?? "GET", expectedStatuses: [...new Set(a.http.expectedStatuses ?? [200])].sort((x, y) => x - y) };
      const body = payload(a.http.expectedResponse);
      if (body !== undefined) active.http.expectedBody = body;
    }
    if (a.type === "TCP") {
      const tcp: NonNullable<IrActiveHealthCheck["tcp"]> = {};
      const send = payload(a.tcp?.send);
      const receive = payload(a.tcp?.receive);
      if (send !== undefined) tcp.send = send;
      if (receive !== undefined) tcp.receive = receive;
      active.tcp = tcp;
    }
    if (a.type === "GRPC") active.grpc = a.grpc?.service !== undefined ? { service: a.grpc.service } : {};
    // An HTTP check without its http section is reported by the loader; nothing to run then.
    if (a.type !== "HTTP" || active.http !== undefined) out.active = active;
  }
  const p = s.passive;
  if (p !== undefined) {
    const passive: IrPassiveHealthCheck = {
      consecutive5xx: p.consecutive5XxErrors ?? 5,
      consecutiveGatewayErrors: p.consecutiveGatewayErrors ?? 0,
      consecutiveLocalOriginFailures: p.consecutiveLocalOriginFailures ?? 5,
      splitExternalLocalOriginErrors: p.splitExternalLocalOriginErrors ?? false,
      intervalMs: period(p.interval, 3000),
      baseEjectionMs: period(p.baseEjectionTime, 30_000),
      maxEjectionPercent: p.maxEjectionPercent ?? 10,
    };
    out.passive = passive;
  }
  return out.active === undefined && out.passive === undefined ? null : out;
}

registerApplier({
  kind: KIND,
  sections: ["healthCheck"],
  route(ctx, policies, route, scope) {
    mapRouteClusters(route, (cluster) => {
      const s = policies.sections(KIND, scope, backendTargetOfCluster(cluster)).get("healthCheck");
      const hc = s === undefined ? null : compileHealthCheck(s.value as HealthCheckSection);
      return hc === null ? cluster : withClusterSettings(ctx, cluster, { healthCheck: hc });
    });
  },
});
