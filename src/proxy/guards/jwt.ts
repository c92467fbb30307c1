// JWT authentication: tokens from a header (default "Authorization: Bearer"), a query parameter or a
// cookie; verified against the provider whose issuer the token names (or each provider in turn), with
// audiences and clock skew; claims copied to request headers. Checks run synchronously on the worker's
// thread with a cache of verified tokens (jwt-keys.ts); jose reads tokens and fetches remote key sets.
// Remote key sets are shared by every snapshot of this worker (keyed by URI and cache time), so a
// reload does not refetch them; a set is fetched again when its cache time is over, and once,
// rate-limited, on an unknown kid.
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, type JWK } from "jose";
import type { IrJwt, IrJwtProvider } from "../../ir/types.js";
import { type GuardEnv, registerGuardFactory } from "../guard-factories.js";
import type { GuardReply, GuardRequest, RequestGuard } from "../guards.js";
import { cookieJar } from "../headers.js";
import { candidateKeys, describeTokenError, KeyVerifiers, VerifiedTokens, type JwsHeader } from "./jwt-keys.js";

/** After a fetch, an unknown kid may trigger another fetch at most this often. */
const REFETCH_COOLDOWN_MS = 30_000;

/** Where a provider's keys come from. */
interface KeySource {
  readonly remote: boolean;
  /** The keys, when they can be used as they are; null: fetch first (remote, not fetched or out of date). */
  keys(): readonly JWK[] | null;
  /** Fetches the set; `unknownKid`: it is fresh but has no key for the token (rate-limited). Rejects when the fetch fails. */
  fetch(header: JwsHeader, token: string, unknownKid: boolean): Promise<void>;
}

/** What a provider's checks keep between requests; shared by every route and snapshot that configures the same provider. */
interface ProviderState {
  source: KeySource;
  verifiers: KeyVerifiers;
  verified: VerifiedTokens;
}

interface Provider {
  cfg: IrJwtProvider;
  state: ProviderState;
}

function challenge(error: string | null, description: string): GuardReply {
  const params = error ? `Bearer realm="sluice", error="${error}", error_description="${description.replace(/"/g, "'")}"` : 'Bearer realm="sluice"';
  return { status: 401, body: `${description}\n`, headers: ["www-authenticate", params] };
}

const MISSING = challenge(null, "JWT is missing");

function localSource(jwks: string): KeySource {
  const keys = (JSON.parse(jwks) as { keys?: unknown }).keys;
  const list = Array.isArray(keys) ? (keys as JWK[]) : [];
  return { remote: false, keys: () => list, fetch: () => Promise.resolve() };
}

function providerState(p: IrJwtProvider, env: GuardEnv): ProviderState {
  // Everything a check depends on (not the name, extraction or claim headers, applied after it).
  const key = `jwt:provider:${JSON.stringify([p.issuer ?? null, p.audiences, p.clockSkewSeconds, p.localJwks ?? null, p.remoteJwks ?? null])}`;
  let state = env.shared.get(key) as ProviderState | undefined;
  if (!state) {
    state = {
      source: keySource(p, env),
      verifiers: new KeyVerifiers({ issuer: p.issuer, audiences: p.audiences, clockSkewSeconds: p.clockSkewSeconds }),
      verified: new VerifiedTokens(p.clockSkewSeconds * 1000),
    };
    env.shared.set(key, state);
  }
  return state;
}

function keySource(p: IrJwtProvider, env: GuardEnv): KeySource {
  if (p.localJwks !== undefined) return localSource(p.localJwks);
  const r = p.remoteJwks!;
  const key = `jwt:remote:${r.uri}:${r.cacheDurationMs}`;
  let set = env.shared.get(key) as KeySource | undefined;
  if (!set) {
    set = remoteSource(new URL(r.uri), r.cacheDurationMs);
    env.shared.set(key, set);
  }
  return set;
}

/**
 * A remote key set, fetched by jose (cache time, timeouts). A token whose kid it does not have (a
 * rotated key) makes it fetch again at most once per REFETCH_COOLDOWN_MS whatever tokens arrive:
 * jose's own cooldown also counts the regular fetch, so a key rotated shortly after it would be
 * refused for the whole cooldown.
 */
function remoteSource(uri: URL, cacheMs: number): KeySource {
  const remote = createRemoteJWKSet(uri, { cacheMaxAge: cacheMs, cooldownDuration: 0, timeoutDuration: 5000 });
  let lastUnknownKidFetch = -Infinity;
  return {
    remote: true,
    keys() {
      const set = remote.jwks();
      return set !== undefined && remote.fresh && !remote.reloading ? set.keys : null;
    },
    async fetch(header, token, unknownKid) {
      if (unknownKid) {
        if (Date.now() - lastUnknownKidFetch < REFETCH_COOLDOWN_MS) return;
        lastUnknownKidFetch = Date.now();
      }
      try {
        await remote(header as Parameters<typeof remote>[0], flattened(token));
      } catch (err) {
        // A set without a key for this token was still fetched: the caller finds no key in it.
        if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) return;
        throw err;
      }
    },
  };
}

/** A compact token in the flattened form jose's key lookup takes. */
function flattened(token: string): { protected: string; payload: string; signature: string } {
  const [prot = "", payload = "", signature = ""] = token.split(".");
  return { protected: prot, payload, signature };
}

function fetchFailure(err: unknown): string {
  if (err instanceof errors.JWKSTimeout) return "the key set could not be fetched in time";
  return `the key set could not be fetched: ${err instanceof Error ? err.message : String(err)}`;
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
    this.providers = cfg.providers.map((p) => ({ cfg: p, state: providerState(p, env) }));
  }

  check(g: GuardRequest): GuardReply | null | Promise<GuardReply | null> {
    let token: string | null = null;
    for (const p of this.providers) if ((token = extract(g, p.cfg)) !== null) break;
    if (token === null) return this.cfg.optional ? null : MISSING;
    // A token that passed before: no decoding, no signature check.
    for (const p of this.providers) {
      const claims = p.state.verified.get(token, p.state.source.keys());
      if (claims !== null) {
        this.accept(g, p, claims);
        return null;
      }
    }
    let header: JwsHeader;
    let iss: string | undefined;
    try {
      header = decodeProtectedHeader(token);
      iss = decodeJwt(token).iss;
    } catch {
      return challenge("invalid_token", "JWT is malformed");
    }
    const candidates = this.providers.filter((p) => p.cfg.issuer === undefined || p.cfg.issuer === iss);
    if (candidates.length === 0) return challenge("invalid_token", "JWT issuer is not accepted");
    return this.verify(g, token, header, candidates, 0, -1, "JWT verification failed");
  }

  /**
   * Tries the providers from `i` on, synchronously unless a remote key set must be fetched first;
   * `fetched`: the provider whose set was just fetched for this token (it is not fetched again).
   */
  private verify(g: GuardRequest, token: string, header: JwsHeader, providers: Provider[], i: number, fetched: number, last: string): GuardReply | null | Promise<GuardReply | null> {
    for (; i < providers.length; i++) {
      const p = providers[i]!;
      const { source, verifiers, verified } = p.state;
      const keys = source.keys();
      const found = keys === null ? [] : candidateKeys(keys, header);
      if (found.length === 0 && source.remote && fetched !== i) {
        const at = i;
        return source.fetch(header, token, keys !== null).then(
          () => this.verify(g, token, header, providers, at, at, last),
          (err: unknown) => this.verify(g, token, header, providers, at + 1, -1, fetchFailure(err)),
        );
      }
      if (found.length === 0) last = "JWT is signed with an unknown key";
      for (const key of found) {
        let claims: Record<string, unknown>;
        try {
          claims = verifiers.for(key)(token);
        } catch (err) {
          last = describeTokenError(err);
          continue;
        }
        verified.set(token, key, claims);
        this.accept(g, p, claims);
        return null;
      }
    }
    return challenge("invalid_token", last);
  }

  private accept(g: GuardRequest, p: Provider, claims: Record<string, unknown>): void {
    g.principal.jwt = { provider: p.cfg.name, claims };
    for (const c of p.cfg.claimToHeaders) {
      const v = claimAt(claims, c.claim);
      if (v === undefined || v === null) g.removeUpstreamHeader(c.header);
      else g.setUpstreamHeader(c.header, typeof v === "string" ? v : Array.isArray(v) ? v.join(",") : JSON.stringify(v));
    }
  }
}

registerGuardFactory({
  name: "jwt",
  order: 40,
  build(route, _listener, env) {
    const j = route.security?.jwt;
    return j ? new JwtGuard(j, env) : null;
  },
});
