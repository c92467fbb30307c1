// OpenID Connect login for browser clients: authorization code flow with PKCE (RFC 7636, S256).
//
//   no session   -> 302 to the provider's authorization endpoint with state, nonce and a code
//                   challenge; state, nonce, verifier and the URL asked for are kept in a sealed
//                   cookie named after the state (several tabs may log in at once), sent back only
//                   to the callback path and kept csrfTokenTTL.
//   callback     -> the state must match that cookie; the code is exchanged (with the verifier) at
//                   the token endpoint, the ID token verified (provider's keys, issuer, audience,
//                   nonce), a sealed session cookie set, and the browser sent back where it was going.
//   session      -> the request passes (synchronously: one AES-GCM open); the access token goes
//                   upstream as a Bearer token with forwardAccessToken; our cookies never do.
//   expired      -> refreshed with the refresh token (one refresh per token per worker, its outcome
//                   reused for 30 s by requests still carrying the old cookie),
//                   the new session cookie set on the response; without one, a new login.
//   logoutPath   -> the session cookies are cleared and the browser sent to the provider's
//                   end_session_endpoint (id_token_hint, client_id, post_logout_redirect_uri = the
//                   site's root), or to "/" when the provider has none.
// Cookie encryption and the key shared by all workers: see oidc-session.ts.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { decodeJwt } from "jose";
import type { IrOidc } from "../../ir/types.js";
import { type GuardEnv, registerGuardFactory } from "../guard-factories.js";
import type { GuardReply, GuardRequest, RequestGuard } from "../guards.js";
import { Idp, IdpError, tokenRequest, verifyIdToken, type ProviderMeta, type TokenResponse } from "./oidc-idp.js";
import { clearChunked, type CookieAttrs, deriveKey, readChunked, seal, setCookie, unseal, writeChunked } from "./oidc-session.js";
import { cookieJar } from "../headers.js";

/** An access token this close to expiry is refreshed before use, so it does not expire upstream. */
const EXPIRY_MARGIN_S = 5;
/** A refresh's outcome is reused this long: requests still carrying the old cookie (sent before the
 * browser stored the new one) must not spend an already rotated refresh token. */
const REFRESH_REUSE_MS = 30_000;
/** Bound on remembered refreshes per client and worker. */
const MAX_REMEMBERED_REFRESHES = 10_000;

interface Session {
  at: string;
  it?: string;
  rt?: string;
  /** Access token expiry, epoch seconds. */
  exp: number;
  /** Refresh token expiry, epoch seconds. */
  rexp?: number;
}

interface Flow {
  s: string;
  n: string;
  v: string;
  /** Path and query the browser asked for. */
  u: string;
  exp: number;
}

type Matcher = (v: string) => boolean;

const now = (): number => Math.floor(Date.now() / 1000);

function text(status: number, body: string, headers?: string[]): GuardReply {
  return headers ? { status, body: `${body}\n`, headers } : { status, body: `${body}\n` };
}

function matcherOf(m: IrOidc["denyRedirect"][number]): Matcher {
  switch (m.type) {
    case "Exact":
      return (v) => v === m.value;
    case "Prefix":
      return (v) => v.startsWith(m.value);
    case "Suffix":
      return (v) => v.endsWith(m.value);
    case "RegularExpression": {
      const re = new RegExp(m.value);
      return (v) => re.test(v);
    }
  }
}

class OidcGuard implements RequestGuard {
  readonly name = "oidc";
  private readonly key: Buffer;
  private readonly idp: Idp;
  private readonly flowPrefix: string;
  private readonly denyRedirect: { name: string; match: Matcher }[];
  private readonly refreshing: Map<string, Promise<Session | null>>;

  constructor(
    private readonly cfg: IrOidc,
    private readonly env: GuardEnv,
  ) {
    this.key = sharedKey(env, cfg);
    this.idp = Idp.of(env, cfg.issuer);
    this.flowPrefix = `${cfg.cookieName}-login-`;
    this.denyRedirect = cfg.denyRedirect.map((m) => ({ name: m.name, match: matcherOf(m) }));
    const rk = `oidc:refreshing:${cfg.issuer}:${cfg.clientId}`;
    let r = env.shared.get(rk) as Map<string, Promise<Session | null>> | undefined;
    if (!r) env.shared.set(rk, (r = new Map()));
    this.refreshing = r;
  }

  check(g: GuardRequest): GuardReply | null | Promise<GuardReply | null> {
    const cfg = this.cfg;
    if (cfg.error !== undefined) return text(500, `OIDC is misconfigured for this route: ${cfg.error}`);
    if (g.path === cfg.callbackPath) return this.callback(g);
    const jar = cookieJar(g.headers.cookie);
    if (g.path === cfg.logoutPath) return this.logout(g, jar);
    if (cfg.passThroughAuthHeader && isBearer(g.headers.authorization)) return null;
    const sealed = readChunked(jar, cfg.cookieName);
    const session = sealed !== null ? unseal<Session>(this.key, cfg.cookieName, sealed) : null;
    if (session !== null) {
      const t = now();
      if (session.exp - EXPIRY_MARGIN_S > t) return this.pass(g, jar, session);
      if (cfg.refreshToken && session.rt !== undefined && (session.rexp === undefined || session.rexp > t)) return this.refreshThenPass(g, jar, session);
    }
    return this.login(g);
  }

  // ---- the authenticated request ----

  private pass(g: GuardRequest, jar: Map<string, string>, s: Session): null {
    const cfg = this.cfg;
    // Verified when the session was made: later guards (rate limits by claim) may read it.
    if (s.it !== undefined) {
      try {
        g.principal.oidc = { claims: decodeJwt(s.it) as Record<string, unknown> };
      } catch {
        // A session always holds a token that verified; nothing to offer otherwise.
      }
    }
    if (cfg.forwardAccessToken) {
      const bearer = `Bearer ${s.at}`;
      g.setUpstreamHeader("authorization", bearer);
      // As Envoy's oauth2 filter does, the token becomes part of the request: a jwt section on the
      // same route (which runs next) checks it.
      (g.headers as Record<string, string | string[] | undefined>).authorization = bearer;
    }
    if (cfg.forwardIdTokenHeader !== undefined && s.it !== undefined) g.setUpstreamHeader(cfg.forwardIdTokenHeader, cfg.forwardIdTokenHeader === "authorization" ? `Bearer ${s.it}` : s.it);
    this.stripCookies(g, jar);
    return null;
  }

  /** The backend never sees the session or login cookies. */
  private stripCookies(g: GuardRequest, jar: Map<string, string>): void {
    let ours = false;
    const kept: string[] = [];
    for (const [name, value] of jar) {
      if (this.isOurs(name)) ours = true;
      else kept.push(`${name}=${value}`);
    }
    if (!ours) return;
    if (kept.length === 0) g.removeUpstreamHeader("cookie");
    else g.setUpstreamHeader("cookie", kept.join("; "));
  }

  private isOurs(name: string): boolean {
    const base = this.cfg.cookieName;
    return name === base || (name.startsWith(base) && (name.startsWith(`${base}.`) || name.startsWith(this.flowPrefix)));
  }

  private async refreshThenPass(g: GuardRequest, jar: Map<string, string>, s: Session): Promise<GuardReply | null> {
    const rt = s.rt!;
    let p = this.refreshing.get(rt);
    if (!p) {
      if (this.refreshing.size >= MAX_REMEMBERED_REFRESHES) this.refreshing.clear();
      p = this.refresh(s);
      this.refreshing.set(rt, p);
      const done = p;
      void done.finally(() => setTimeout(() => this.refreshing.get(rt) === done && this.refreshing.delete(rt), REFRESH_REUSE_MS).unref());
    }
    const next = await p;
    if (next === null) return this.login(g);
    const cookies = writeChunked(jar, this.cfg.cookieName, seal(this.key, this.cfg.cookieName, next), this.sessionMaxAge(next), this.attrs(g, "/"));
    if (cookies === null) return text(500, "the refreshed session is too large to keep in cookies");
    for (const c of cookies) g.addResponseHeader("set-cookie", c);
    return this.pass(g, jar, next);
  }

  private async refresh(s: Session): Promise<Session | null> {
    try {
      const meta = await this.meta();
      const tokens = await tokenRequest(this.tokenEndpoint(meta), meta, this.cfg.clientId, this.cfg.clientSecret, { grant_type: "refresh_token", refresh_token: s.rt! });
      if (tokens.id_token !== undefined) await verifyIdToken(this.idp, this.env, meta, tokens.id_token, this.cfg.clientId, null);
      return this.sessionOf(tokens, s);
    } catch (err) {
      // A refused or failed refresh ends the session: the user logs in again.
      process.stderr.write(`sluice: oidc refresh failed: ${(err as Error)?.message ?? String(err)}\n`);
      return null;
    }
  }

  // ---- login ----

  private login(g: GuardRequest): GuardReply | Promise<GuardReply> {
    for (const d of this.denyRedirect) {
      const v = g.headers[d.name];
      const s = Array.isArray(v) ? v[0] : v;
      if (s !== undefined && d.match(s)) return text(401, "authentication required", ["www-authenticate", 'Bearer realm="sluice"']);
    }
    const endpoint = this.cfg.authorizationEndpoint ?? this.idp.metaNow()?.authorization_endpoint;
    if (endpoint !== undefined) return this.redirectToLogin(g, endpoint);
    return this.meta().then(
      (meta) => (meta.authorization_endpoint ? this.redirectToLogin(g, meta.authorization_endpoint) : text(503, "the identity provider has no authorization_endpoint")),
      (err: unknown) => unavailable(err),
    );
  }

  private redirectToLogin(g: GuardRequest, endpoint: string): GuardReply {
    const cfg = this.cfg;
    const state = randomBytes(24).toString("base64url");
    const nonce = randomBytes(24).toString("base64url");
    const verifier = randomBytes(32).toString("base64url");
    const challenge = createHash("sha256").update(verifier).digest("base64url");
    const url = new URL(endpoint);
    const q = url.searchParams;
    q.set("response_type", "code");
    q.set("client_id", cfg.clientId);
    q.set("redirect_uri", this.redirectUri(g));
    q.set("scope", cfg.scopes.join(" "));
    q.set("state", state);
    q.set("nonce", nonce);
    q.set("code_challenge", challenge);
    q.set("code_challenge_method", "S256");
    for (const r of cfg.resources) q.append("resource", r);
    const flow: Flow = { s: state, n: nonce, v: verifier, u: `${g.path}${g.query.length > 0 ? `?${g.query}` : ""}`, exp: now() + cfg.csrfTokenTtlSeconds };
    const name = this.flowCookie(state);
    // Sent back only to the callback path; an abandoned login's cookie expires with csrfTokenTTL,
    // and a completed login clears every one of them.
    return { status: 302, body: "", headers: ["location", url.toString(), "cache-control", "no-store", "set-cookie", setCookie(name, seal(this.key, name, flow), cfg.csrfTokenTtlSeconds, this.attrs(g, cfg.callbackPath))] };
  }

  private flowCookie(state: string): string {
    return this.flowPrefix + createHash("sha256").update(state).digest("base64url").slice(0, 12);
  }

  // ---- callback ----

  private callback(g: GuardRequest): GuardReply | Promise<GuardReply> {
    const q = new URLSearchParams(g.query);
    const state = q.get("state");
    const code = q.get("code");
    const error = q.get("error");
    if (error !== null) return text(401, `login failed at the identity provider: ${error}${q.get("error_description") ? ` (${q.get("error_description")})` : ""}`);
    if (state === null || code === null) return text(400, "the login callback needs code and state");
    const jar = cookieJar(g.headers.cookie);
    const name = this.flowCookie(state);
    const sealed = jar.get(name);
    const flow = sealed !== undefined ? unseal<Flow>(this.key, name, sealed) : null;
    if (flow === null || !sameText(flow.s, state) || flow.exp < now()) {
      return text(401, "no login in progress matches this callback (unknown or expired state, or another browser started it)");
    }
    return this.finishLogin(g, jar, name, flow, code);
  }

  private async finishLogin(g: GuardRequest, jar: Map<string, string>, flowName: string, flow: Flow, code: string): Promise<GuardReply> {
    let session: Session;
    try {
      const meta = await this.meta();
      const tokens = await tokenRequest(this.tokenEndpoint(meta), meta, this.cfg.clientId, this.cfg.clientSecret, {
        grant_type: "authorization_code",
        code,
        redirect_uri: this.redirectUri(g),
        code_verifier: flow.v,
      });
      if (tokens.id_token === undefined) return text(401, "the identity provider sent no ID token");
      await verifyIdToken(this.idp, this.env, meta, tokens.id_token, this.cfg.clientId, flow.n);
      session = this.sessionOf(tokens, null);
    } catch (err) {
      if (err instanceof IdpError || (err as { code?: string })?.code?.startsWith("ERR_J")) return text(401, `login failed: ${(err as Error).message}`);
      return unavailable(err);
    }
    const attrs = this.attrs(g, "/");
    const cookies = writeChunked(jar, this.cfg.cookieName, seal(this.key, this.cfg.cookieName, session), this.sessionMaxAge(session), attrs);
    if (cookies === null) return text(500, "the session is too large to keep in cookies");
    const headers = ["location", flow.u, "cache-control", "no-store"];
    for (const c of cookies) headers.push("set-cookie", c);
    // This login's cookie, and those of logins abandoned in other tabs: the browser is logged in now.
    const flowAttrs = this.attrs(g, this.cfg.callbackPath);
    for (const n of jar.keys()) if (n.startsWith(this.flowPrefix) && n !== flowName) headers.push("set-cookie", setCookie(n, "", 0, flowAttrs));
    headers.push("set-cookie", setCookie(flowName, "", 0, flowAttrs));
    return { status: 302, body: "", headers };
  }

  // ---- logout ----

  private logout(g: GuardRequest, jar: Map<string, string>): GuardReply | Promise<GuardReply> {
    const sealed = readChunked(jar, this.cfg.cookieName);
    const session = sealed !== null ? unseal<Session>(this.key, this.cfg.cookieName, sealed) : null;
    const headers: string[] = ["cache-control", "no-store"];
    for (const c of clearChunked(jar, this.cfg.cookieName, this.attrs(g, "/"))) headers.push("set-cookie", c);
    const to = (endSession: string | undefined): GuardReply => {
      let location = "/";
      if (endSession !== undefined) {
        const url = new URL(endSession);
        if (session?.it !== undefined) url.searchParams.set("id_token_hint", session.it);
        url.searchParams.set("client_id", this.cfg.clientId);
        url.searchParams.set("post_logout_redirect_uri", `${this.origin(g)}/`);
        location = url.toString();
      }
      return { status: 302, body: "", headers: ["location", location, ...headers] };
    };
    if (this.cfg.endSessionEndpoint !== undefined) return to(this.cfg.endSessionEndpoint);
    const meta = this.idp.metaNow();
    if (meta !== null) return to(meta.end_session_endpoint);
    // Logging out must work while the provider is down: then only locally.
    return this.meta().then(
      (m) => to(m.end_session_endpoint),
      () => to(undefined),
    );
  }

  // ---- helpers ----

  private meta(): Promise<ProviderMeta> {
    return this.idp.meta();
  }

  private tokenEndpoint(meta: ProviderMeta): string {
    const t = this.cfg.tokenEndpoint ?? meta.token_endpoint;
    if (t === undefined) throw new IdpError("the identity provider has no token_endpoint");
    return t;
  }

  private sessionOf(t: TokenResponse, previous: Session | null): Session {
    const issued = now();
    let exp: number;
    if (typeof t.expires_in === "number" && t.expires_in > 0) exp = issued + t.expires_in;
    else if (this.cfg.defaultTokenTtlSeconds > 0) exp = issued + this.cfg.defaultTokenTtlSeconds;
    else exp = jwtExp(t.id_token) ?? jwtExp(t.access_token) ?? issued + 300;
    const s: Session = { at: t.access_token, exp };
    const it = t.id_token ?? previous?.it;
    if (it !== undefined) s.it = it;
    const rt = t.refresh_token ?? previous?.rt;
    if (rt !== undefined && this.cfg.refreshToken) {
      s.rt = rt;
      s.rexp = t.refresh_token !== undefined ? jwtExp(rt) ?? issued + this.cfg.defaultRefreshTokenTtlSeconds : previous?.rexp ?? issued + this.cfg.defaultRefreshTokenTtlSeconds;
    }
    return s;
  }

  private sessionMaxAge(s: Session): number {
    return (s.rt !== undefined ? s.rexp ?? s.exp : s.exp) - now();
  }

  private origin(g: GuardRequest): string {
    const h = g.headers;
    const v = g.isH2 ? (h[":authority"] as string | undefined) ?? h.host : h.host;
    return `${g.listener.scheme}://${Array.isArray(v) ? v[0] : v ?? g.host}`;
  }

  private redirectUri(g: GuardRequest): string {
    const r = this.cfg.redirectUrl;
    if (!r.includes("%REQ(")) return r;
    const origin = this.origin(g);
    const authority = origin.slice(origin.indexOf("://") + 3);
    return r.replace("%REQ(x-forwarded-proto)%", g.listener.scheme).replace("%REQ(:authority)%", authority);
  }

  private attrs(g: GuardRequest, path: string): CookieAttrs {
    const a: CookieAttrs = { path, secure: g.listener.protocol === "HTTPS", sameSite: this.cfg.sameSite };
    if (this.cfg.cookieDomain !== undefined) a.domain = this.cfg.cookieDomain;
    return a;
  }
}

/** The cookie key, derived once per worker for a given client (HKDF is cheap, but routes are many). */
function sharedKey(env: GuardEnv, cfg: IrOidc): Buffer {
  const id = `oidc:key:${createHash("sha256").update(`${cfg.issuer}\n${cfg.clientId}\n${cfg.clientSecret}`).digest("base64url")}`;
  let k = env.shared.get(id) as Buffer | undefined;
  if (!k) env.shared.set(id, (k = deriveKey(cfg.clientSecret, cfg.issuer, cfg.clientId)));
  return k;
}

function isBearer(v: string | string[] | undefined): boolean {
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === "string" && s.length > 7 && s.slice(0, 7).toLowerCase() === "bearer ";
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function jwtExp(token: string | undefined): number | undefined {
  if (token === undefined || token.split(".").length !== 3) return undefined;
  try {
    const e = decodeJwt(token).exp;
    return typeof e === "number" ? e : undefined;
  } catch {
    return undefined;
  }
}

function unavailable(err: unknown): GuardReply {
  return text(503, `the identity provider is unavailable: ${(err as Error)?.message ?? String(err)}`);
}

registerGuardFactory({
  name: "oidc",
  // After ext-auth (38) and before jwt (40), as Envoy Gateway orders oauth2 before jwt_authn: a
  // forwarded access token is then checked by the route's jwt section.
  order: 39,
  build(route, _listener, env) {
    const o = route.security?.oidc;
    return o ? new OidcGuard(o, env) : null;
  },
});
