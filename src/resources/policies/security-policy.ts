// sluice.dev/v1alpha1 SecurityPolicy: who may call a route (JWT, OIDC, API keys, basic auth,
// external authorization, IP allow/deny) and CORS. Field names follow Envoy Gateway's SecurityPolicy.
import { isIP } from "node:net";
import { quote } from "../describe.js";
import { asArr, asObj } from "../rules/util.js";
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

const SECRET_REF = {
  type: "object",
  required: ["name"],
  properties: { group: { type: "string", enum: [""] }, kind: { type: "string", enum: ["Secret"] }, name: { type: "string", minLength: 1 }, namespace: { type: "string", minLength: 1 } },
} as const;

const HEADER_NAME = { type: "string", pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$" } as const;

/** Allow/deny by client address (IP allow/deny lists); the first matching rule decides. */
const AUTHORIZATION = {
  type: "object",
  properties: {
    defaultAction: { type: "string", enum: ["Allow", "Deny"] },
    rules: {
      type: "array",
      items: {
        type: "object",
        required: ["action", "principal"],
        properties: {
          name: { type: "string", minLength: 1 },
          action: { type: "string", enum: ["Allow", "Deny"] },
          principal: { type: "object", properties: { clientCIDRs: { type: "array", minItems: 1, items: { type: "string" } } } },
        },
      },
    },
  },
} as const;

/** htpasswd users in a Secret (key ".htpasswd"). */
const BASIC_AUTH = {
  type: "object",
  required: ["users"],
  properties: { users: SECRET_REF, forwardUsernameHeader: HEADER_NAME },
} as const;

/** API keys: Secrets map client ids to keys; where to look for the key in a request. */
const API_KEY_AUTH = {
  type: "object",
  required: ["credentialRefs", "extractFrom"],
  properties: {
    credentialRefs: { type: "array", minItems: 1, items: SECRET_REF },
    extractFrom: {
      type: "array",
      minItems: 1,
      items: { type: "object", properties: { headers: { type: "array", items: HEADER_NAME }, params: { type: "array", items: { type: "string", minLength: 1 } }, cookies: { type: "array", items: { type: "string", minLength: 1 } } } },
    },
    forwardClientIDHeader: HEADER_NAME,
    sanitize: { type: "boolean" },
  },
} as const;

export const SECURITY_POLICY: PolicyKindSpec = {
  kind: "SecurityPolicy",
  targets: [TARGET_GATEWAY, TARGET_HTTPROUTE, TARGET_GRPCROUTE],
  sections: {
    cors: { scope: "route", schema: CORS },
    jwt: { scope: "route", schema: OBJ },
    oidc: { scope: "route", schema: OBJ },
    apiKeyAuth: { scope: "route", schema: API_KEY_AUTH },
    basicAuth: { scope: "route", schema: BASIC_AUTH },
    extAuth: { scope: "route", schema: OBJ },
    authorization: { scope: "route", schema: AUTHORIZATION },
  },
  check(obj, rep) {
    const rules = asArr(asObj(asObj(obj.spec)?.authorization)?.rules);
    rules.forEach((r, i) => {
      asArr(asObj(asObj(r)?.principal)?.clientCIDRs).forEach((c, j) => {
        if (typeof c === "string" && !validCidr(c)) {
          rep.error(["spec", "authorization", "rules", i, "principal", "clientCIDRs", j], `${quote(c)} is not a CIDR`, 'an address/prefix such as "10.0.0.0/8", "192.168.1.7/32" or "2001:db8::/32"');
        }
      });
    });
  },
};

export function validCidr(c: string): boolean {
  const slash = c.indexOf("/");
  if (slash < 0) return false;
  const family = isIP(c.slice(0, slash));
  const bits = c.slice(slash + 1);
  if (family === 0 || !/^[0-9]{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}
