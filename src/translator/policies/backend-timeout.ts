// BackendTrafficPolicy timeout:
//   http.requestTimeout -> the route's whole-request timeout. A timeout the HTTPRoute rule sets
//     itself (rules[].timeouts.request) is more specific and wins, as in Envoy Gateway. A policy on
//     the rule's first backend (Service/Backend target) sits between the route's and the
//     listener's, as everywhere in policy attachment.
//   tcp.connectTimeout, http.connectionIdleTimeout, http.maxConnectionDuration -> the connection
//     settings of each backend's cluster (IrCluster.connection), resolved per backend. "0s" turns
//     the idle timeout or the maximum duration off; a connect timeout of "0s" leaves only the
//     request's own timeouts to bound a connection attempt.
import type { IrRoute, IrUpstreamConnection } from "../../ir/types.js";
import { parseDuration } from "../../resources/duration.js";
import { type AppliedSection, backendTargetOfCluster, type PolicyIndex, type RouteScope } from "./attach.js";
import { registerApplier } from "./registry.js";
import { varyBackends } from "./backend-variant.js";

interface TimeoutSection {
  tcp?: { connectTimeout?: string };
  http?: { requestTimeout?: string; connectionIdleTimeout?: string; maxConnectionDuration?: string };
}

const KIND = "BackendTrafficPolicy";

function timeoutSection(policies: PolicyIndex, route: IrRoute, scope: RouteScope): AppliedSection | undefined {
  // One request timeout per rule: with several backends, the first resolved one's policy counts.
  const first = route.action.type === "forward" ? route.action.backends.find((b) => b.cluster !== null) : undefined;
  const target = first?.cluster ? backendTargetOfCluster(first.cluster) : undefined;
  return policies.sections(KIND, scope, target).get("timeout");
}

function ms(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  return parseDuration(text) ?? undefined; // the schema rejects bad durations
}

/** The connection settings of a timeout section; undefined when it sets none. */
export function policyConnection(s: TimeoutSection): IrUpstreamConnection | undefined {
  const out: IrUpstreamConnection = {};
  const connect = ms(s.tcp?.connectTimeout);
  const idle = ms(s.http?.connectionIdleTimeout);
  const life = ms(s.http?.maxConnectionDuration);
  if (connect !== undefined) out.connectTimeoutMs = connect;
  if (idle !== undefined) out.idleTimeoutMs = idle;
  if (life !== undefined) out.maxConnectionDurationMs = life;
  return Object.keys(out).length > 0 ? out : undefined;
}

registerApplier({
  kind: KIND,
  sections: ["timeout"],
  route(ctx, policies, route, scope) {
    varyBackends(ctx, policies, route, scope, KIND, "timeout", (s) => {
      const connection = policyConnection(s.value as TimeoutSection);
      return connection === undefined ? undefined : { connection };
    });
    if (route.timeouts?.requestMs !== undefined) return;
    const text = (timeoutSection(policies, route, scope)?.value as TimeoutSection | undefined)?.http?.requestTimeout;
    const requestMs = ms(text);
    if (requestMs === undefined || requestMs === 0) return; // 0 means no timeout
    route.timeouts = { ...route.timeouts, requestMs };
  },
});
