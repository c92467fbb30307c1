// sluice.dev/v1alpha1 SecurityPolicy: who may call a route (JWT, OIDC, API keys, basic auth,
// external authorization, IP allow/deny) and CORS. Field names follow Envoy Gateway's SecurityPolicy.
import { DURATION_SCHEMA, TARGET_GATEWAY, TARGET_GRPCROUTE, TARGET_HTTPROUTE, type PolicyKindSpec } from "./policy-kind.js";

const OBJ = { type: "object" } as const;
const STRINGS = { type: "array", items: { type: "string", minLength: 1 } } as const;

/** Envoy Gateway's CORS: origins with "*" wildcards, maxAge as a duration. */
const CORS = {
  type: "object",
  properties: {
    allowOrigins: { type: "array", items: { type: "string", pattern: "^(\\*|[a-zA-Z][a-zA-Z0-9+.-]*://(\\*\\.)?[a-zA-Z0-9.*-]+(:[0-9]{1,5})?)$" } },
    allowMethods: STRINGS,
    allowHeaders: STRINGS,
    exposeHeaders: STRINGS,
    maxAge: DURATION_SCHEMA,
    allowCredentials: { type: "boolean" },
  },
} as const;

export const SECURITY_POLICY: PolicyKindSpec = {
  kind: "SecurityPolicy",
  targets: [TARGET_GATEWAY, TARGET_HTTPROUTE, TARGET_GRPCROUTE],
  sections: {
    cors: { scope: "route", schema: CORS },
    jwt: { scope: "route", schema: OBJ },
    oidc: { scope: "route", schema: OBJ },
    apiKeyAuth: { scope: "route", schema: OBJ },
    basicAuth: { scope: "route", schema: OBJ },
    extAuth: { scope: "route", schema: OBJ },
    authorization: { scope: "route", schema: OBJ },
  },
};
