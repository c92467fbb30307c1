// JWT authentication with jose: tokens from a header (default "Authorization: Bearer"), a query
// parameter or a cookie; verified against the provider whose issuer the token names (or each
// provider in turn), with audiences and clock skew; claims copied to request headers.
// Remote key sets are shared by every snapshot of this worker (keyed by URI and cache time), so a
// reload does not refetch them; jose caches keys and refetches once, rate-limited, on an unknown kid.
import { createLocalJWKSet, createRemoteJWKSet, decodeJwt, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import type { IrJwt, IrJwtProvider } from "../../ir/types.js";
import { type GuardEnv, registerGuardFactory } from "../guard-factories.js";
import type { GuardReply, GuardRequest, RequestGuard } from "../guards.js";
import { cookieJar } from "../headers.js";

/** After a fetch, an unknown kid may trigger another fetch at most this often. */
const REFETCH_COOLDOWN_MS = 30_000;

interface Provider {
  cfg: IrJwtProvider;
  keys: JWTVerifyGetKey;
}

function challenge(error: string | null, description: string): GuardReply {
  const params = error ? `Bearer realm="sluice", error="${error}", error_description="${description.replace(/"/g, "'")}"` : 'Bearer realm="sluice"';
  return { status: 401, body: `${description}\n`, headers: ["www-authenticate", params] };
}

const MISSING = challenge(null, "JWT is missing");

function keySet(p: IrJwtProvider, env: GuardEnv): JWTVerifyGetKey {
  if (p.localJwks !== undefined) return createLocalJWKSet(JSON.parse(p.localJwks) as Parameters<typeof createLocalJWKSet>[0]);
  const r = p.remoteJwks!;
  const key = `jwt:remote:${r.uri}:${r.cacheDurationMs}`;
  let set = env.shared.get(key) as JWTVerifyGetKey | undefined;
  if (!set) {
    set = rateLimitedRemoteSet(new URL(r.uri), r.cacheDurationMs);
    env.shared.set(key, set);
  }
  return set;
}

/**
 * A remote key set that refetches when a token names a kid it does not have (a rotated key), at
 * most once per REFETCH_COOLDOWN_MS whatever tokens arrive: jose's own cooldown also counts the
 * regular fetch, so a key rotated shortly after it would be refused for the whole cooldown.
 */
function rateLimitedRemoteSet(uri: URL, cacheMs: number): JWTVerifyGetKey {
  const remote = createRemoteJWKSet(uri, { cacheMaxAge: cacheMs, cooldownDuration: 0, timeoutDuration: 5000 });
  let lastUnknownKidFetch = -Infinity;
  return async (header, token) => {
    const cached = remote.jwks();
    if (cached !== undefined && !remote.reloading) {
      const known = cached.keys.some((k) => header.kid === undefined || k.kid === header.kid);
      if (!known && remote.fresh) {
        if (Date.now() - lastUnknownKidFetch < REFETCH_COOLDOWN_MS) throw new errors.JWKSNoMatchingKey();
        lastUnknownKidFetch = Date.now();
      }
    }
    return remote(header, token);
  };
}

/** A claim by name; "a.b" walks into objects when no claim is literally named "a.b". */
export function claimAt(claims: Record<string, unknown>, name: string): unknown {
  if (name in claims) return claims[name];
  let v: unknown = claims;
  for (const part of name.split(".")) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

function extract(g: GuardRequest, p: IrJwtProvider): string | null {
  const x = p.extractFrom;
  if (x.headers.length === 0 && x.params.length === 0 && x.cookies.length === 0) return bearer(g.headers.authorization, "Bearer ");
  for (const h of x.headers) {
    const t = bearer(g.headers[h.name], h.valuePrefix);
    if (t !== null) return t;
  }
  if (x.params.length > 0 && g.query.length > 0) {
    const q = new URLSearchParams(g.query);
    for (const name of x.params) {
      const v = q.get(name);
      if (v) return v;
    }
  }
  if (x.cookies.length > 0 && typeof g.headers.cookie === "string") {
    const jar = cookieJar(g.headers.cookie);
    for (const name of x.cookies) {
      const v = jar.get(name);
      if (v) return v;
    }
  }
  return null;
}

function bearer(v: string | string[] | undefined, prefix: string): string | null {
  const s = Array.isArray(v) ? v[0] : v;
  if (typeof s !== "string") return null;
  if (prefix === "") return s.trim() || null;
  // The scheme is case-insensitive (RFC 7235).
  if (s.length <= prefix.length || s.slice(0, prefix.length).toLowerCase() !== prefix.toLowerCase()) return null;
  return s.slice(prefix.length).trim() || null;
}

class JwtGuard implements RequestGuard {
  readonly name = "jwt";
  private readonly providers: Provider[];

  constructor(
    private readonly cfg: IrJwt,
    env: GuardEnv,
  ) {
    this.providers = cfg.providers.map((p) => ({ cfg: p, keys: keySet(p, env) }));
  }

  check(g: GuardRequest): GuardReply | null | Promise<GuardReply | null> {
    let token: string | null = null;
    for (const p of this.providers) if ((token = extract(g, p.cfg)) !== null) break;
    if (token === null) return this.cfg.optional ? null : MISSING;
    let iss: string | undefined;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      return challenge("invalid_token", "JWT is malformed");
    }
    const candidates = this.providers.filter((p) => p.cfg.issuer === undefined || p.cfg.issuer === iss);
    if (candidates.length === 0) return challenge("invalid_token", "JWT issuer is not accepted");
    return this.verify(g, token, candidates);
  }

  private async verify(g: GuardRequest, token: string, candidates: Provider[]): Promise<GuardReply | null> {
    let last = "JWT verification failed";
    for (const p of candidates) {
      let payload: JWTPayload;
      try {
        const opts: Parameters<typeof jwtVerify>[2] = { clockTolerance: p.cfg.clockSkewSeconds };
        if (p.cfg.issuer !== undefined) opts.issuer = p.cfg.issuer;
        if (p.cfg.audiences.length > 0) opts.audience = p.cfg.audiences;
        ({ payload } = await jwtVerify(token, p.keys, opts));
      } catch (err) {
        last = describe(err);
        continue;
      }
      g.principal.jwt = { provider: p.cfg.name, claims: payload as Record<string, unknown> };
      for (const c of p.cfg.claimToHeaders) {
        const v = claimAt(payload as Record<string, unknown>, c.claim);
        if (v === undefined || v === null) g.removeUpstreamHeader(c.header);
        else g.setUpstreamHeader(c.header, typeof v === "string" ? v : Array.isArray(v) ? v.join(",") : JSON.stringify(v));
      }
      return null;
    }
    return challenge("invalid_token", last);
  }
}

function describe(err: unknown): string {
  if (err instanceof errors.JWTExpired) return "JWT is expired";
  if (err instanceof errors.JWTClaimValidationFailed) return `JWT claim ${err.claim} is not accepted (${err.reason})`;
  if (err instanceof errors.JWSSignatureVerificationFailed) return "JWT signature does not verify";
  if (err instanceof errors.JWKSNoMatchingKey) return "JWT is signed with an unknown key";
  if (err instanceof errors.JWKSTimeout) return "the key set could not be fetched in time";
  if (err instanceof errors.JOSEError) return `JWT is not valid: ${err.message}`;
  return `JWT could not be verified: ${(err as Error)?.message ?? String(err)}`;
}

registerGuardFactory({
  name: "jwt",
  order: 40,
  build(route, _listener, env) {
    const j = route.security?.jwt;
    return j ? new JwtGuard(j, env) : null;
  },
});
