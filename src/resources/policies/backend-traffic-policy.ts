// sluice.dev/v1alpha1 BackendTrafficPolicy: how a route's traffic reaches its backends
// (load balancing, retries, timeouts, circuit breaking, health checks, rate limits).
// Field names follow Envoy Gateway's BackendTrafficPolicy. Section schemas are refined where the
// feature is implemented; see src/translator/policies/ for how each section is applied.
import { DURATION_SCHEMA, TARGET_BACKEND, TARGET_GATEWAY, TARGET_GRPCROUTE, TARGET_HTTPROUTE, TARGET_SERVICE, type PolicyKindSpec } from "./policy-kind.js";

const OBJ = { type: "object" } as const;

export const BACKEND_TRAFFIC_POLICY: PolicyKindSpec = {
  kind: "BackendTrafficPolicy",
  targets: [TARGET_GATEWAY, TARGET_HTTPROUTE, TARGET_GRPCROUTE, TARGET_SERVICE, TARGET_BACKEND],
  sections: {
    loadBalancer: { scope: "backend", schema: OBJ },
    retry: { scope: "route", schema: OBJ },
    timeout: {
      scope: "backend",
      schema: {
        type: "object",
        properties: {
          http: { type: "object", properties: { requestTimeout: DURATION_SCHEMA } },
        },
      },
    },
    circuitBreaker: { scope: "backend", schema: OBJ },
    healthCheck: { scope: "backend", schema: OBJ },
    rateLimit: { scope: "route", schema: OBJ },
  },
};
