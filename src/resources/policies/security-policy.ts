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

/** JWT providers (Envoy Gateway's shape; clockSkew is ours, Envoy's default of 60 s when unset). */
const JWT = {
  type: "object",
  required: ["providers"],
  properties: {
    optional: { type: "boolean" },
    providers: {
      type: "array",
      minItems: 1,
      maxItems: 4,
      items: {
        type: "object",
        required: ["name"],
        properties: {
          name: { type: "string", minLength: 1, maxLength: 253 },
          issuer: { type: "string", minLength: 1 },
          audiences: { type: "array", items: { type: "string", minLength: 1 } },
          remoteJWKS: { type: "object", required: ["uri"], properties: { uri: { type: "string", pattern: "^https?://" }, cacheDuration: DURATION_SCHEMA } },
          localJWKS: { type: "object", required: ["type", "inline"], properties: { type: { type: "string", enum: ["Inline"] }, inline: { type: "string", minLength: 2 } } },
          claimToHeaders: { type: "array", items: { type: "object", required: ["header", "claim"], properties: { header: HEADER_NAME, claim: { type: "string", minLength: 1 } } } },
          extractFrom: {
            type: "object",
            properties: {
              headers: { type: "array", items: { type: "object", required: ["name"], properties: { name: HEADER_NAME, valuePrefix: { type: "string" } } } },
              params: { type: "array", items: { type: "string", minLength: 1 } },
              cookies: { type: "array", items: { type: "string", minLength: 1 } },
            },
          },
          clockSkew: DURATION_SCHEMA,
        },
      },
    },
  },
} as const;

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
          principal: {
            type: "object",
            properties: {
              clientCIDRs: { type: "array", minItems: 1, items: { type: "string" } },
              jwt: {
                type: "object",
                required: ["provider"],
                properties: {
                  provider: { type: "string", minLength: 1 },
                  scopes: { type: "array", items: { type: "string", minLength: 1 } },
                  claims: { type: "array", items: { type: "object", required: ["name", "values"], properties: { name: { type: "string", minLength: 1 }, valueType: { type: "string", enum: ["String", "StringArray"] }, values: { type: "array", minItems: 1, items: { type: "string" } } } } },
                },
              },
            },
          },
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
    jwt: { scope: "route", schema: JWT },
    oidc: { scope: "route", schema: OBJ },
    apiKeyAuth: { scope: "route", schema: API_KEY_AUTH },
    basicAuth: { scope: "route", schema: BASIC_AUTH },
    extAuth: { scope: "route", schema: OBJ },
    authorization: { scope: "route", schema: AUTHORIZATION },
  },
  check(obj, rep) {
    const providers = asArr(asObj(asObj(obj.spec)?.jwt)?.providers);
    const names = new Set<string>();
    providers.forEach((raw, i) => {
      const p = asObj(raw);
      if (!p) return;
      const at = ["spec", "jwt", "providers", i];
      if (typeof p.name === "string") {
        if (names.has(p.name)) rep.error([...at, "name"], `provider name ${quote(p.name)} is used twice`, "a distinct name per provider");
        names.add(p.name);
      }
      const remote = p.remoteJWKS !== undefined;
      const local = p.localJWKS !== undefined;
      if (remote === local) rep.error(at, remote ? "both remoteJWKS and localJWKS are set" : "neither remoteJWKS nor localJWKS is set", "exactly one of remoteJWKS {uri} or localJWKS {type: Inline, inline}");
      const inline = asObj(p.localJWKS)?.inline;
      if (typeof inline === "string") {
        let keys: unknown;
        try {
          keys = (JSON.parse(inline) as { keys?: unknown }).keys;
        } catch (e) {
          rep.error([...at, "localJWKS", "inline"], `not valid JSON: ${(e as Error).message}`, 'a JWKS document: {"keys": [ ... ]}');
          return;
        }
        if (!Array.isArray(keys) || keys.length === 0) rep.error([...at, "localJWKS", "inline"], "the JWKS has no keys", 'a JWKS document: {"keys": [ ... ]} with at least one key');
      }
    });
    const rules = asArr(asObj(asObj(obj.spec)?.authorization)?.rules);
    rules.forEach((r, i) => {
      const pr = asObj(asObj(asObj(r)?.principal)?.jwt)?.provider;
      if (typeof pr === "string" && !names.has(pr)) {
        rep.error(["spec", "authorization", "rules", i, "principal", "jwt", "provider"], `no JWT provider named ${quote(pr)} in this policy`, names.size ? `one of ${[...names].map((n) => quote(n)).join(", ")}` : "a provider defined under spec.jwt.providers");
      }
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
