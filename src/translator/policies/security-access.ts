// SecurityPolicy authorization (allow/deny by client address and JWT identity), jwt, basicAuth and
// apiKeyAuth -> IR.
// The client address comes from the listener's ClientTrafficPolicy clientIPDetection.
import type { IrApiKeyAuth, IrAuthorization, IrAuthorizationRule, IrBasicAuth, IrJwt, IrRouteSecurity } from "../../ir/types.js";
import { parseDuration } from "../../resources/duration.js";
import type { Context } from "../context.js";
import type { PolicyItem } from "../kinds.js";
import { policySecret, type SecretRef } from "../secrets.js";
import type { AppliedSection, PolicyIndex, RouteScope } from "./attach.js";
import { clientIpFor } from "./client-ip.js";
import { registerApplier } from "./registry.js";

interface AuthorizationSpec {
  defaultAction?: "Allow" | "Deny";
  rules?: {
    name?: string;
    action: "Allow" | "Deny";
    principal?: { clientCIDRs?: string[]; jwt?: { provider: string; scopes?: string[]; claims?: { name: string; values: string[] }[] } };
  }[];
}
interface BasicAuthSpec {
  users: SecretRef;
  forwardUsernameHeader?: string;
}
interface ApiKeyAuthSpec {
  credentialRefs: SecretRef[];
  extractFrom: { headers?: string[]; params?: string[]; cookies?: string[] }[];
  forwardClientIDHeader?: string;
  sanitize?: boolean;
}

interface JwtSpec {
  optional?: boolean;
  providers: {
    name: string;
    issuer?: string;
    audiences?: string[];
    remoteJWKS?: { uri: string; cacheDuration?: string };
    localJWKS?: { inline: string };
    claimToHeaders?: { header: string; claim: string }[];
    extractFrom?: { headers?: { name: string; valuePrefix?: string }[]; params?: string[]; cookies?: string[] };
    clockSkew?: string;
  }[];
}

const KIND = "SecurityPolicy";
/** Envoy's defaults: JWKS cached 5 minutes, 60 s of clock skew. */
const JWKS_CACHE_MS = 300_000;
const CLOCK_SKEW_S = 60;

function jwtOf(s: AppliedSection): IrJwt {
  const spec = s.value as JwtSpec;
  return {
    optional: spec.optional === true,
    providers: spec.providers.map((p) => {
      const out: IrJwt["providers"][number] = {
        name: p.name,
        audiences: [...(p.audiences ?? [])],
        extractFrom: {
          headers: (p.extractFrom?.headers ?? []).map((h) => ({ name: h.name.toLowerCase(), valuePrefix: h.valuePrefix ?? "" })),
          params: [...(p.extractFrom?.params ?? [])],
          cookies: [...(p.extractFrom?.cookies ?? [])],
        },
        claimToHeaders: (p.claimToHeaders ?? []).map((c) => ({ header: c.header.toLowerCase(), claim: c.claim })),
        clockSkewSeconds: p.clockSkew !== undefined ? Math.floor((parseDuration(p.clockSkew) ?? 0) / 1000) : CLOCK_SKEW_S,
      };
      if (p.issuer !== undefined) out.issuer = p.issuer;
      if (p.remoteJWKS) out.remoteJwks = { uri: p.remoteJWKS.uri, cacheDurationMs: p.remoteJWKS.cacheDuration !== undefined ? parseDuration(p.remoteJWKS.cacheDuration) ?? JWKS_CACHE_MS : JWKS_CACHE_MS };
      if (p.localJWKS) out.localJwks = p.localJWKS.inline;
      return out;
    }),
  };
}

function authorizationOf(s: AppliedSection, policies: PolicyIndex, scope: RouteScope): IrAuthorization {
  const spec = s.value as AuthorizationSpec;
  const out: IrAuthorization = {
    // Envoy Gateway's default: with rules and no defaultAction, what no rule allows is denied.
    defaultAction: spec.defaultAction ?? "Deny",
    rules: (spec.rules ?? []).map((r, i) => {
      const rule: IrAuthorizationRule = { name: r.name ?? `rule-${i}`, action: r.action, clientCIDRs: [...(r.principal?.clientCIDRs ?? [])] };
      const j = r.principal?.jwt;
      if (j) rule.jwt = { provider: j.provider, scopes: [...(j.scopes ?? [])], claims: (j.claims ?? []).map((c) => ({ name: c.name, values: [...c.values] })) };
      return rule;
    }),
  };
  const clientIp = clientIpFor(policies, scope);
  if (clientIp) out.clientIp = clientIp;
  return out;
}

function basicAuthOf(ctx: Context, s: AppliedSection): IrBasicAuth | null {
  const spec = s.value as BasicAuthSpec;
  const entries = policySecret(ctx, s.policy, spec.users, `${s.field}.users`);
  if (entries === null) return null;
  const htpasswd = entries.find(([k]) => k === ".htpasswd")?.[1];
  if (htpasswd === undefined) {
    report(ctx, s.policy, `${s.field}.users`, `Secret ${spec.users.name} has no ".htpasswd" key`, 'a Secret whose ".htpasswd" key holds user:hash lines ({SHA} or bcrypt)');
    return null;
  }
  const users: IrBasicAuth["users"] = [];
  htpasswd.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (t === "" || t.startsWith("#")) return;
    const colon = t.indexOf(":");
    const user = colon > 0 ? t.slice(0, colon) : "";
    const hash = colon > 0 ? t.slice(colon + 1) : "";
    if (!user || !(hash.startsWith("{SHA}") || /^\$2[aby]\$\d\d\$/.test(hash))) {
      report(ctx, s.policy, `${s.field}.users`, `line ${i + 1} of .htpasswd in Secret ${spec.users.name} is not "user:{SHA}..." or "user:$2y$..." (bcrypt); the line is ignored`, "htpasswd -s (SHA) or htpasswd -B (bcrypt) output");
      return;
    }
    users.push({ user, hash });
  });
  const out: IrBasicAuth = { users };
  if (spec.forwardUsernameHeader) out.forwardUsernameHeader = spec.forwardUsernameHeader.toLowerCase();
  return out;
}

function apiKeyAuthOf(ctx: Context, s: AppliedSection): IrApiKeyAuth | null {
  const spec = s.value as ApiKeyAuthSpec;
  const credentials: IrApiKeyAuth["credentials"] = [];
  let ok = true;
  spec.credentialRefs.forEach((ref, i) => {
    const entries = policySecret(ctx, s.policy, ref, `${s.field}.credentialRefs[${i}]`);
    if (entries === null) ok = false;
    else for (const [clientId, key] of entries) credentials.push({ clientId, key: key.trim() });
  });
  // A missing credential Secret must not open the route: no keys means every request is refused.
  if (!ok && credentials.length === 0) return { extractFrom: extractOf(spec), credentials: [], sanitize: spec.sanitize === true };
  const out: IrApiKeyAuth = { extractFrom: extractOf(spec), credentials, sanitize: spec.sanitize === true };
  if (spec.forwardClientIDHeader) out.forwardClientIdHeader = spec.forwardClientIDHeader.toLowerCase();
  return out;
}

function extractOf(spec: ApiKeyAuthSpec): IrApiKeyAuth["extractFrom"] {
  const out: IrApiKeyAuth["extractFrom"] = { headers: [], params: [], cookies: [] };
  for (const e of spec.extractFrom) {
    out.headers.push(...(e.headers ?? []).map((h) => h.toLowerCase()));
    out.params.push(...(e.params ?? []));
    out.cookies.push(...(e.cookies ?? []));
  }
  return out;
}

function report(ctx: Context, p: PolicyItem, field: string, message: string, expected: string): void {
  ctx.report("error", { group: "sluice.dev", kind: p.obj.kind, namespace: p.namespace, name: p.name }, field, message, expected);
}

registerApplier({
  kind: KIND,
  sections: ["authorization", "basicAuth", "apiKeyAuth", "jwt"],
  route(ctx, policies, route, scope) {
    const sections = policies.sections(KIND, scope);
    const sec: IrRouteSecurity = {};
    const authz = sections.get("authorization");
    if (authz) sec.authorization = authorizationOf(authz, policies, scope);
    const basic = sections.get("basicAuth");
    if (basic) {
      const b = basicAuthOf(ctx, basic);
      // An unusable user list must not open the route: nobody can log in.
      sec.basicAuth = b ?? { users: [] };
    }
    const jwt = sections.get("jwt");
    if (jwt) sec.jwt = jwtOf(jwt);
    const keys = sections.get("apiKeyAuth");
    if (keys) {
      const k = apiKeyAuthOf(ctx, keys);
      sec.apiKeyAuth = k ?? { extractFrom: { headers: [], params: [], cookies: [] }, credentials: [], sanitize: false };
    }
    if (Object.keys(sec).length > 0) route.security = { ...route.security, ...sec };
  },
});
