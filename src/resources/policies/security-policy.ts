// sluice.dev/v1alpha1 SecurityPolicy: who may call a route (JWT, OIDC, API keys, basic auth,
// external authorization, IP allow/deny) and CORS. Field names follow Envoy Gateway's SecurityPolicy.
import { TARGET_GATEWAY, TARGET_GRPCROUTE, TARGET_HTTPROUTE, type PolicyKindSpec } from "./policy-kind.js";

const OBJ = { type: "object" } as const;

export const SECURITY_POLICY: PolicyKindSpec = {
  kind: "SecurityPolicy",
  targets: [TARGET_GATEWAY, TARGET_HTTPROUTE, TARGET_GRPCROUTE],
  sections: {
    cors: { scope: "route", schema: OBJ },
    jwt: { scope: "route", schema: OBJ },
    oidc: { scope: "route", schema: OBJ },
    apiKeyAuth: { scope: "route", schema: OBJ },
    basicAuth: { scope: "route", schema: OBJ },
    extAuth: { scope: "route", schema: OBJ },
    authorization: { scope: "route", schema: OBJ },
  },
};
