// SecurityPolicy oidc -> IR: the client credentials from Secrets, Envoy Gateway's defaults
// (redirect URL "<scheme>://<authority>/oauth2/callback", logout path "/logout", "openid" always
// among the scopes, refresh on, refresh tokens kept a week, login state kept 10 minutes).
import { createHash } from "node:crypto";
import type { IrOidc } from "../../ir/types.js";
import { parseDuration } from "../../resources/duration.js";
import type { Context } from "../context.js";
import { SLUICE_GROUP } from "../kinds.js";
import { policySecret, type SecretRef } from "../secrets.js";
import type { AppliedSection } from "./attach.js";
import { registerSecuritySection } from "./registry.js";

interface OidcSpec {
  provider: { issuer: string; authorizationEndpoint?: string; tokenEndpoint?: string; endSessionEndpoint?: string };
  clientID?: string;
  clientIDRef?: SecretRef;
  clientSecret: SecretRef;
  cookieDomain?: string;
  cookieConfig?: { sameSite?: "Lax" | "Strict" | "None" };
  scopes?: string[];
  resources?: string[];
  redirectURL?: string;
  denyRedirect?: { headers: { name: string; type?: IrOidc["denyRedirect"][number]["type"]; value: string }[] };
  logoutPath?: string;
  forwardAccessToken?: boolean;
  forwardIDToken?: { header: string };
  defaultTokenTTL?: string;
  refreshToken?: boolean;
  defaultRefreshTokenTTL?: string;
  csrfTokenTTL?: string;
  passThroughAuthHeader?: boolean;
}

const DEFAULT_REDIRECT = "%REQ(x-forwarded-proto)%://%REQ(:authority)%/oauth2/callback";
const DEFAULT_LOGOUT = "/logout";
const WEEK_S = 604_800;
const CSRF_TTL_S = 600;

const seconds = (d: string | undefined, dflt: number): number => (d === undefined ? dflt : Math.floor((parseDuration(d) ?? dflt * 1000) / 1000));

/** The path of a redirect URL that may hold %REQ(...)% placeholders. */
export function callbackPathOf(redirectUrl: string): string | null {
  const probe = redirectUrl.replace("%REQ(x-forwarded-proto)%", "http").replace("%REQ(:authority)%", "authority.invalid");
  try {
    return new URL(probe).pathname;
  } catch {
    return null;
  }
}

/** Requests reach it by every route the policy covers, so one cookie per provider client. */
export function sessionCookieName(issuer: string, clientId: string): string {
  return `sluice-oidc-${createHash("sha256").update(`${issuer}\n${clientId}`).digest("hex").slice(0, 10)}`;
}

function secretKey(ctx: Context, s: AppliedSection, ref: SecretRef, field: string, key: string): { value: string } | { error: string } {
  const entries = policySecret(ctx, s.policy, ref, field);
  if (entries === null) return { error: `${field}: Secret ${ref.name} cannot be used` };
  const v = entries.find(([k]) => k === key)?.[1];
  if (v === undefined || v === "") {
    ctx.report("error", { group: SLUICE_GROUP, kind: s.policy.obj.kind, namespace: s.policy.namespace, name: s.policy.name }, field, `Secret ${ref.name} has no "${key}" key`, `a Secret whose "${key}" key holds the value`);
    return { error: `${field}: Secret ${ref.name} has no "${key}" key` };
  }
  return { value: v };
}

function oidcOf(ctx: Context, s: AppliedSection): IrOidc {
  const spec = s.value as OidcSpec;
  const errors: string[] = [];
  let clientId = spec.clientID ?? "";
  if (spec.clientIDRef) {
    const r = secretKey(ctx, s, spec.clientIDRef, `${s.field}.clientIDRef`, "client-id");
    if ("value" in r) clientId = r.value.trim();
    else errors.push(r.error);
  }
  let clientSecret = "";
  const sec = secretKey(ctx, s, spec.clientSecret, `${s.field}.clientSecret`, "client-secret");
  if ("value" in sec) clientSecret = sec.value;
  else errors.push(sec.error);
  const issuer = spec.provider.issuer.replace(/\/+$/, "");
  const redirectUrl = spec.redirectURL ?? DEFAULT_REDIRECT;
  const callbackPath = callbackPathOf(redirectUrl) ?? "/oauth2/callback";
  const scopes = [...(spec.scopes ?? [])];
  if (!scopes.includes("openid")) scopes.unshift("openid");
  const out: IrOidc = {
    issuer,
    clientId,
    clientSecret,
    scopes,
    resources: [...(spec.resources ?? [])],
    redirectUrl,
    callbackPath,
    logoutPath: spec.logoutPath ?? DEFAULT_LOGOUT,
    cookieName: sessionCookieName(issuer, clientId),
    sameSite: spec.cookieConfig?.sameSite ?? "Lax",
    forwardAccessToken: spec.forwardAccessToken === true,
    refreshToken: spec.refreshToken !== false,
    defaultTokenTtlSeconds: seconds(spec.defaultTokenTTL, 0),
    defaultRefreshTokenTtlSeconds: seconds(spec.defaultRefreshTokenTTL, WEEK_S),
    csrfTokenTtlSeconds: seconds(spec.csrfTokenTTL, CSRF_TTL_S),
    passThroughAuthHeader: spec.passThroughAuthHeader === true,
    denyRedirect: (spec.denyRedirect?.headers ?? []).map((h) => ({ name: h.name.toLowerCase(), type: h.type ?? "Exact", value: h.value })),
  };
  if (spec.provider.authorizationEndpoint !== undefined) out.authorizationEndpoint = spec.provider.authorizationEndpoint;
  if (spec.provider.tokenEndpoint !== undefined) out.tokenEndpoint = spec.provider.tokenEndpoint;
  if (spec.provider.endSessionEndpoint !== undefined) out.endSessionEndpoint = spec.provider.endSessionEndpoint;
  if (spec.cookieDomain !== undefined) out.cookieDomain = spec.cookieDomain;
  if (spec.forwardIDToken) out.forwardIdTokenHeader = spec.forwardIDToken.header.toLowerCase();
  if (callbackPathOf(redirectUrl) === null) errors.push(`redirectURL ${redirectUrl} is not a URL`);
  // Never a session without a secret: the cookie key is derived from it.
  if (errors.length > 0) out.error = errors.join("; ");
  return out;
}

registerSecuritySection("oidc", oidcOf);
