// What the OIDC guard asks of the identity provider: its discovery document (cached, shared by
// every route and snapshot of the worker), token requests (code exchange and refresh, with the
// client authenticated as the provider supports), and ID token verification against its key set.
import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { request } from "undici";
import type { GuardEnv } from "../guard-factories.js";

/** A good document is used this long before it is fetched again. */
const DISCOVERY_TTL_MS = 3_600_000;
/** After a failed fetch, requests fail fast this long before the next try. */
const DISCOVERY_RETRY_MS = 5_000;
const HTTP_TIMEOUT_MS = 10_000;
const MAX_BODY = 1 << 20;
const CLOCK_SKEW_S = 60;

export interface ProviderMeta {
  issuer: string;
  authorization_endpoint?: string;
  token_endpoint?: string;
  end_session_endpoint?: string;
  jwks_uri?: string;
  token_endpoint_auth_methods_supported?: string[];
}

export interface TokenResponse {
  access_token: string;
  id_token?: string;
  refresh_token?: string;
  expires_in?: number;
  token_type?: string;
}

export class IdpError extends Error {}

interface Cached {
  meta: ProviderMeta | null;
  at: number;
  error: string | null;
  pending: Promise<ProviderMeta> | null;
}

/** Discovery for one issuer, shared through the worker's guard env. */
export class Idp {
  private cached: Cached = { meta: null, at: 0, error: null, pending: null };

  private constructor(readonly issuer: string) {}

  static of(env: GuardEnv, issuer: string): Idp {
    const key = `oidc:idp:${issuer}`;
    let idp = env.shared.get(key) as Idp | undefined;
    if (!idp) {
      idp = new Idp(issuer);
      env.shared.set(key, idp);
    }
    return idp;
  }

  /** The document when a fresh one is at hand (no waiting), else null. */
  metaNow(): ProviderMeta | null {
    const c = this.cached;
    return c.meta !== null && Date.now() - c.at < DISCOVERY_TTL_MS ? c.meta : null;
  }

  meta(): Promise<ProviderMeta> {
    const now = this.metaNow();
    if (now) return Promise.resolve(now);
    const c = this.cached;
    if (c.pending) return c.pending;
    // A stale document still serves while the provider is unreachable.
    if (c.error !== null && Date.now() - c.at < DISCOVERY_RETRY_MS) {
      return c.meta ? Promise.resolve(c.meta) : Promise.reject(new IdpError(c.error));
    }
    c.pending = this.discover().then(
      (meta) => {
        this.cached = { meta, at: Date.now(), error: null, pending: null };
        return meta;
      },
      (err: unknown) => {
        const msg = `discovery of ${this.issuer} failed: ${(err as Error)?.message ?? String(err)}`;
        this.cached = { meta: c.meta, at: Date.now(), error: msg, pending: null };
        if (c.meta) return c.meta;
        throw new IdpError(msg);
      },
    );
    return c.pending;
  }

  private async discover(): Promise<ProviderMeta> {
    const { status, body } = await http(`${this.issuer}/.well-known/openid-configuration`, { method: "GET", headers: { accept: "application/json" } });
    if (status !== 200) throw new IdpError(`the discovery document answered ${status}`);
    const doc = JSON.parse(body) as ProviderMeta;
    // The document must be the issuer's own (OpenID Connect Discovery 1.0, section 4.3).
    if (typeof doc.issuer !== "string" || doc.issuer.replace(/\/+$/, "") !== this.issuer) throw new IdpError(`the discovery document names issuer ${String(doc.issuer)}`);
    return doc;
  }

  keys(env: GuardEnv, jwksUri: string): JWTVerifyGetKey {
    const key = `oidc:jwks:${jwksUri}`;
    let set = env.shared.get(key) as JWTVerifyGetKey | undefined;
    if (!set) {
      set = createRemoteJWKSet(new URL(jwksUri), { timeoutDuration: HTTP_TIMEOUT_MS });
      env.shared.set(key, set);
    }
    return set;
  }
}

/** A token endpoint request authenticated with the client's secret (Basic unless only "post" is offered). */
export async function tokenRequest(endpoint: string, meta: ProviderMeta | null, clientId: string, clientSecret: string, form: Record<string, string>): Promise<TokenResponse> {
  const methods = meta?.token_endpoint_auth_methods_supported;
  const usePost = methods !== undefined && !methods.includes("client_secret_basic") && methods.includes("client_secret_post");
  const params = new URLSearchParams(form);
  const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded", accept: "application/json" };
  if (usePost) {
    params.set("client_id", clientId);
    params.set("client_secret", clientSecret);
  } else {
    // RFC 6749 2.3.1: both parts form-encoded before Basic encoding.
    headers.authorization = `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`).toString("base64")}`;
  }
  const { status, body } = await http(endpoint, { method: "POST", headers, body: params.toString() });
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(body) as Record<string, unknown>;
  } catch {
    throw new IdpError(`the token endpoint answered ${status} with no JSON`);
  }
  if (status !== 200) throw new IdpError(`the token endpoint refused: ${String(json.error ?? status)}${json.error_description ? ` (${String(json.error_description)})` : ""}`);
  if (typeof json.access_token !== "string") throw new IdpError("the token endpoint sent no access_token");
  return json as unknown as TokenResponse;
}

function formEncode(s: string): string {
  return encodeURIComponent(s).replace(/%20/g, "+");
}

/** Verifies an ID token: signature by the provider's keys, issuer, audience, expiry, and the nonce when given. */
export async function verifyIdToken(idp: Idp, env: GuardEnv, meta: ProviderMeta, token: string, clientId: string, nonce: string | null): Promise<JWTPayload> {
  if (!meta.jwks_uri) throw new IdpError("the provider publishes no jwks_uri");
  const { payload } = await jwtVerify(token, idp.keys(env, meta.jwks_uri), { issuer: meta.issuer, audience: clientId, clockTolerance: CLOCK_SKEW_S });
  if (nonce !== null && payload.nonce !== nonce) throw new IdpError("the ID token's nonce is not the one of this login");
  // With several audiences, the token must be meant for us (OpenID Connect Core 3.1.3.7).
  if (Array.isArray(payload.aud) && payload.aud.length > 1 && payload.azp !== undefined && payload.azp !== clientId) throw new IdpError("the ID token's azp is another client");
  return payload;
}

async function http(url: string, opts: { method: "GET" | "POST"; headers: Record<string, string>; body?: string }): Promise<{ status: number; body: string }> {
  const res = await request(url, { ...opts, headersTimeout: HTTP_TIMEOUT_MS, bodyTimeout: HTTP_TIMEOUT_MS });
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res.body) {
    n += (c as Buffer).length;
    if (n > MAX_BODY) {
      res.body.destroy();
      throw new IdpError(`the answer from ${url} is larger than ${MAX_BODY} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return { status: res.statusCode, body: Buffer.concat(chunks).toString("utf8") };
}
