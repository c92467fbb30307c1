// BackendTrafficPolicy timeout.http.requestTimeout -> the route's whole-request timeout.
// A timeout the HTTPRoute rule sets itself (rules[].timeouts.request) is more specific and wins,
// as in Envoy Gateway. A policy on the rule's first backend (Service/Backend target) sits between
// the route's and the listener's, as everywhere in policy attachment.
import type { IrRoute } from "../../ir/types.js";
import { parseDuration } from "../../resources/duration.js";
import { type AppliedSection, backendTargetOfCluster, type PolicyIndex, type RouteScope } from "./attach.js";
import { registerApplier } from "./registry.js";

interface TimeoutSection {
  http?: { requestTimeout?: string };
}

const KIND = "BackendTrafficPolicy";

function timeoutSection(policies: PolicyIndex, route: IrRoute, scope: RouteScope): AppliedSection | undefined {
  // One request timeout per rule: with several backends, the first resolved one's policy counts.
  const first = route.action.type === "forward" ? route.action.backends.find((b) => b.cluster !== null) : undefined;
  const target = first?.cluster ? backendTargetOfCluster(first.cluster) : undefined;
  return policies.sections(KIND, scope, target).get("timeout");
}

registerApplier({
  kind: KIND,
  sections: ["timeout"],
  route(_ctx, policies, route, scope) {
    if (route.timeouts?.requestMs !== undefined) return;
    const text = (timeoutSection(policies, route, scope)?.value as TimeoutSection | undefined)?.http?.requestTimeout;
    if (text === undefined) return;
    const ms = parseDuration(text);
    if (ms === null || ms === 0) return; // the schema rejects bad durations; 0 means no timeout
    route.timeouts = { ...route.timeouts, requestMs: ms };
  },
});
