// ClientTrafficPolicy clientIPDetection for a route's listener: how features that depend on the
// client's address (authorization, rate limits) find it.
import type { IrClientIp } from "../../ir/types.js";
import type { PolicyIndex, RouteScope } from "./attach.js";
import { registerApplier } from "./registry.js";

export function clientIpFor(policies: PolicyIndex, scope: RouteScope): IrClientIp | undefined {
  const v = policies.listenerSections("ClientTrafficPolicy", scope.gateway, scope.listener).get("clientIPDetection")?.value as { xForwardedFor?: { numTrustedHops?: number } } | undefined;
  const hops = v?.xForwardedFor?.numTrustedHops;
  return hops !== undefined && hops > 0 ? { xffTrustedHops: hops } : undefined;
}

// Consumed through clientIpFor by the route features; declared so the policy status does not call
// the section unsupported.
registerApplier({ kind: "ClientTrafficPolicy", sections: ["clientIPDetection"] });
