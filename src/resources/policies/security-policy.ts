// sluice.dev/v1alpha1 SecurityPolicy: who may call a route (JWT, OIDC, API keys, basic auth,
// external authorization, IP allow/deny) and CORS. Field names follow Envoy Gateway's SecurityPolicy.
import { isIP } from "node:net";
import { quote } from "../describe.js";
import type { Reporter } from "../reporter.js";
import { asArr, asObj, asStr } from "../rules/util.js";
import type { K8sObject } from "../types.js";
import { DURATION_SCHEMA, TARGET_GATEWAY, TARGET_GRPCROUTE, TARGET_HTTPROUTE, type PolicyKindSpec } from "./policy-kind.js";

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

/**
 * Fields of Envoy Gateway's shape we do not implement: accepted by the schema (a type check, so the
 * validator looks at them and does not call them unknown) and refused with a precise message by
 * checkOidc/checkExtAuth.
 */
const NOT_SUPPORTED = { type: ["object", "array", "string", "number", "boolean", "null"] } as const;
const HTTP_URL = { type: "string", pattern: "^https?://[^\\s?#]+$" } as const;
const STRING_MATCH_TYPES = ["Exact", "Prefix", "Suffix", "RegularExpression"] as const;

/** OpenID Connect login (authorization code + PKCE) for browser clients. */
const OIDC = {
  type: "object",
  required: ["provider", "clientSecret"],
  properties: {
    provider: {
      type: "object",
      required: ["issuer"],
      properties: {
        issuer: HTTP_URL,
        authorizationEndpoint: HTTP_URL,
        tokenEndpoint: HTTP_URL,
        endSessionEndpoint: HTTP_URL,
        backendRef: NOT_SUPPORTED,
        backendRefs: NOT_SUPPORTED,
        backendSettings: NOT_SUPPORTED,
      },
    },
    clientID: { type: "string", minLength: 1 },
    clientIDRef: SECRET_REF,
    clientSecret: SECRET_REF,
    cookieDomain: { type: "string", pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$" },
    cookieConfig: { type: "object", properties: { sameSite: { type: "string", enum: ["Lax", "Strict", "None"] } } },
    scopes: STRINGS,
    resources: STRINGS,
    redirectURL: { type: "string", pattern: "^(https?|%REQ\\(x-forwarded-proto\\)%)://[^\\s?#]+$" },
    denyRedirect: {
      type: "object",
      required: ["headers"],
      properties: {
        headers: {
          type: "array",
          minItems: 1,
          maxItems: 16,
          items: { type: "object", required: ["name", "value"], properties: { name: HEADER_NAME, type: { type: "string", enum: STRING_MATCH_TYPES }, value: { type: "string", minLength: 1 } } },
        },
      },
    },
    logoutPath: { type: "string", pattern: "^/[^\\s?#]*$" },
    forwardAccessToken: { type: "boolean" },
    forwardIDToken: { type: "object", required: ["header"], properties: { header: HEADER_NAME } },
    defaultTokenTTL: DURATION_SCHEMA,
    refreshToken: { type: "boolean" },
    defaultRefreshTokenTTL: DURATION_SCHEMA,
    csrfTokenTTL: DURATION_SCHEMA,
    passThroughAuthHeader: { type: "boolean" },
    cookieNames: NOT_SUPPORTED,
    disableTokenEncryption: NOT_SUPPORTED,
  },
} as const;

/** A Service (core) or Backend (sluice.dev) the gateway sends authorization requests to. */
const EXT_AUTH_BACKEND_REF = {
  type: "object",
  required: ["name"],
  properties: {
    group: { type: "string", enum: ["", "sluice.dev"] },
    kind: { type: "string", enum: ["Service", "Backend"] },
    name: { type: "string", minLength: 1 },
    namespace: { type: "string", minLength: 1 },
    port: { type: "integer", minimum: 1, maximum: 65535 },
    weight: { type: "integer", minimum: 0, maximum: 1000000 },
  },
} as const;

/** External authorization over HTTP (Envoy's raw HTTP ext_authz semantics). */
const EXT_AUTH = {
  type: "object",
  properties: {
    http: {
      type: "object",
      properties: {
        backendRef: EXT_AUTH_BACKEND_REF,
        backendRefs: { type: "array", minItems: 1, maxItems: 16, items: EXT_AUTH_BACKEND_REF },
        backendSettings: NOT_SUPPORTED,
        path: { type: "string", pattern: "^/[^\\s?#]*$" },
        pathOverride: { type: "string", pattern: "^/[^\\s?#]*$" },
        headersToBackend: { type: "array", items: HEADER_NAME },
      },
    },
    grpc: NOT_SUPPORTED,
    headersToExtAuth: { type: "array", items: HEADER_NAME },
    bodyToExtAuth: NOT_SUPPORTED,
    timeout: DURATION_SCHEMA,
    failOpen: { type: "boolean" },
    statusOnError: { type: "integer", minimum: 400, maximum: 599 },
    recomputeRoute: NOT_SUPPORTED,
    includeRouteMetadata: NOT_SUPPORTED,
    contextExtensions: NOT_SUPPORTED,
  },
} as const;

export const SECURITY_POLICY: PolicyKindSpec = {
  kind: "SecurityPolicy",
  targets: [TARGET_GATEWAY, TARGET_HTTPROUTE, TARGET_GRPCROUTE],
  sections: {
    cors: { scope: "route", schema: CORS },
    jwt: { scope: "route", schema: JWT },
    oidc: { scope: "route", schema: OIDC },
    apiKeyAuth: { scope: "route", schema: API_KEY_AUTH },
    basicAuth: { scope: "route", schema: BASIC_AUTH },
    extAuth: { scope: "route", schema: EXT_AUTH },
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
    checkOidc(obj, rep);
    checkExtAuth(obj, rep);
  },
};

function unsupported(rep: Reporter, o: Record<string, unknown> | undefined, at: (string | number)[], fields: Record<string, string>): void {
  if (!o) return;
  for (const [f, instead] of Object.entries(fields)) if (o[f] !== undefined) rep.error([...at, f], `${f} is not supported by Sluice`, instead);
}

function checkOidc(obj: K8sObject, rep: Reporter): void {
  const o = asObj(asObj(obj.spec)?.oidc);
  if (!o) return;
  const at = ["spec", "oidc"];
  unsupported(rep, asObj(o.provider), [...at, "provider"], {
    backendRef: "remove it: the gateway reaches the provider at the issuer's (or the endpoints') own address",
    backendRefs: "remove it: the gateway reaches the provider at the issuer's (or the endpoints') own address",
    backendSettings: "remove it",
  });
  unsupported(rep, o, at, {
    cookieNames: "remove it: the session is one encrypted cookie named sluice-oidc-<hash of issuer and client id>",
    disableTokenEncryption: "remove it: the session cookie is always encrypted",
  });
  if ((o.clientID === undefined) === (o.clientIDRef === undefined)) {
    rep.error(at, o.clientID === undefined ? "neither clientID nor clientIDRef is set" : "both clientID and clientIDRef are set", 'exactly one of clientID: "<id>" or clientIDRef: {name: <Secret with key "client-id">}');
  }
  const fwd = asStr(asObj(o.forwardIDToken)?.header);
  if (o.forwardAccessToken === true && fwd?.toLowerCase() === "authorization") {
    rep.error([...at, "forwardIDToken", "header"], "forwardAccessToken already sends the access token in the Authorization header", "another header for the ID token, or forwardAccessToken: false");
  }
  asArr(asObj(o.denyRedirect)?.headers).forEach((raw, i) => {
    const h = asObj(raw);
    if (h?.type === "RegularExpression" && typeof h.value === "string") {
      try {
        new RegExp(h.value);
      } catch (e) {
        rep.error([...at, "denyRedirect", "headers", i, "value"], `not a valid regular expression: ${(e as Error).message}`, "a regular expression such as \"^XMLHttpRequest$\"");
      }
    }
  });
}

function checkExtAuth(obj: K8sObject, rep: Reporter): void {
  const e = asObj(asObj(obj.spec)?.extAuth);
  if (!e) return;
  const at = ["spec", "extAuth"];
  unsupported(rep, e, at, {
    grpc: "http: {backendRefs: [...], path: ...} (only the HTTP authorization protocol is implemented)",
    bodyToExtAuth: "remove it: the authorizer gets the request's headers, not its body",
    recomputeRoute: "remove it: the route is chosen before authorization and not recomputed",
    includeRouteMetadata: "remove it",
    contextExtensions: "remove it, or pass the values as headers",
  });
  const h = asObj(e.http);
  if (e.grpc === undefined && !h) {
    rep.error([...at, "http"], 'required field "http" is missing', "http: {backendRefs: [{name: <Service>, port: <port>}], path: ...}");
    return;
  }
  if (!h) return;
  unsupported(rep, h, [...at, "http"], { backendSettings: "remove it" });
  if (h.backendRef === undefined && asArr(h.backendRefs).length === 0) {
    rep.error([...at, "http"], "no authorizer: neither backendRef nor backendRefs is set", "backendRefs: [{name: <Service>, port: <port>}] (or a sluice.dev Backend)");
  }
  if (h.backendRef !== undefined && h.backendRefs !== undefined) rep.error([...at, "http", "backendRef"], "both backendRef and backendRefs are set", "only backendRefs (backendRef is the older, single-reference form)");
  if (h.path !== undefined && h.pathOverride !== undefined) rep.error([...at, "http", "pathOverride"], "both path and pathOverride are set", "path (a prefix put before the request's path) or pathOverride (replaces it), not both");
}

export function validCidr(c: string): boolean {
  const slash = c.indexOf("/");
  if (slash < 0) return false;
  const family = isIP(c.slice(0, slash));
  const bits = c.slice(slash + 1);
  if (family === 0 || !/^[0-9]{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}
