// sluice.dev/v1alpha1 ClientTrafficPolicy: how clients connect to a Gateway listener (client
// certificates, request limits, client IP detection, timeouts). Field names follow Envoy Gateway's
// ClientTrafficPolicy; it targets Gateways (sectionName: one listener).
import { TARGET_GATEWAY, type PolicyKindSpec } from "./policy-kind.js";

const OBJ = { type: "object" } as const;

export const CLIENT_TRAFFIC_POLICY: PolicyKindSpec = {
  kind: "ClientTrafficPolicy",
  targets: [TARGET_GATEWAY],
  sections: {
    tls: { scope: "listener", schema: OBJ },
    clientIPDetection: {
      scope: "listener",
      schema: { type: "object", properties: { xForwardedFor: { type: "object", required: ["numTrustedHops"], properties: { numTrustedHops: { type: "integer", minimum: 0, maximum: 64 } } } } },
    },
    connection: { scope: "listener", schema: OBJ },
    headers: { scope: "listener", schema: OBJ },
    timeout: { scope: "listener", schema: OBJ },
  },
};
