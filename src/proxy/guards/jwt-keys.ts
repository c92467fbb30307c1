// Which key of a provider's key set checks a token, one synchronous verifier per key, and the tokens
// already verified. Verifiers are fast-jwt's, on node:crypto, so a check runs on the worker's own
// thread: jose's WebCrypto checks each ran on libuv's thread pool, and the hand-off to those threads
// and back cost ES256 gateways ~8% more CPU a request with one worker and ~38% with one worker per core
// (bench/RESULTS.md, "JWT checks on the worker's thread"). VerifiedTokens remembers what passed, so a
// client that sends its token again costs no signature check (as Envoy's jwt_authn cache).
import { createPublicKey, type JsonWebKey } from "node:crypto";
import { createVerifier, TokenError, type Algorithm } from "fast-jwt";
import type { JWK } from "jose";

/** Verified tokens a provider keeps in each worker (VerifiedTokens). */
export const CACHE_SIZE = 1000;
/** Longest a verified token is served from the cache without a new signature check. */
export const CACHE_TTL_MS = 10 * 60_000;

export type Verify = (token: string) => Record<string, unknown>;

export interface VerifyOptions {
  /** Required "iss"; none: not checked. */
  issuer?: string;
  /** "aud" must hold one of these; empty: not checked. */
  audiences: string[];
  clockSkewSeconds: number;
}

export interface JwsHeader {
  alg?: unknown;
  kid?: unknown;
}

const KTY: Record<string, string> = { RS: "RSA", PS: "RSA", ES: "EC", Ed: "OKP", HS: "oct" };
const CURVE: Record<string, string[]> = { ES256: ["P-256"], ES384: ["P-384"], ES512: ["P-521"], EdDSA: ["Ed25519", "Ed448"] };
const HMAC: Algorithm[] = ["HS256", "HS384", "HS512"];

/** The keys of a set that may have signed a token with this header: its kid, and a key type, curve, alg and use that fit its alg. */
export function candidateKeys(keys: readonly JWK[], header: JwsHeader): JWK[] {
  const alg = typeof header.alg === "string" ? header.alg : "";
  const kty = alg === "EdDSA" ? "OKP" : KTY[alg.slice(0, 2)];
  if (kty === undefined || (kty === "OKP" && alg !== "EdDSA")) return [];
  const curves = CURVE[alg];
  return keys.filter(
    (k) =>
      k.kty === kty &&
      (header.kid === undefined || k.kid === header.kid) &&
      (k.alg === undefined || k.alg === alg) &&
      (k.use === undefined || k.use === "sig") &&
      (k.key_ops === undefined || k.key_ops.includes("verify")) &&
      (curves === undefined || (typeof k.crv === "string" && curves.includes(k.crv))),
  );
}

/** Verifiers for the keys of one provider, made on first use. */
export class KeyVerifiers {
  private readonly made = new WeakMap<JWK, Verify | Error>();

  constructor(private readonly opts: VerifyOptions) {}

  /** The verifier of `jwk`; throws when the key cannot be used (the reason says why). */
  for(jwk: JWK): Verify {
    let v = this.made.get(jwk);
    if (v === undefined) {
      try {
        v = this.make(jwk);
      } catch (err) {
        v = new Error(`key ${jwk.kid ?? "(no kid)"} of the key set cannot be used: ${err instanceof Error ? err.message : String(err)}`);
      }
      this.made.set(jwk, v);
    }
    if (v instanceof Error) throw v;
    return v;
  }

  private make(jwk: JWK): Verify {
    const secret = jwk.kty === "oct";
    const key = secret ? Buffer.from(jwk.k ?? "", "base64url") : createPublicKey({ key: jwk as JsonWebKey, format: "jwk" }).export({ type: "spki", format: "pem" }).toString();
    const skewMs = this.opts.clockSkewSeconds * 1000;
    return createVerifier({
      key,
      algorithms: jwk.alg !== undefined ? [jwk.alg as Algorithm] : secret ? HMAC : undefined,
      allowedIss: this.opts.issuer,
      allowedAud: this.opts.audiences.length > 0 ? this.opts.audiences : undefined,
      clockTolerance: skewMs,
    }) as Verify;
  }
}

interface VerifiedToken {
  key: JWK;
  claims: Record<string, unknown>;
  /** Epoch ms between which the token passes the time checks (nbf and exp, with the skew). */
  from: number;
  until: number;
}

/**
 * Tokens that passed, with the key that verified them (LRU, CACHE_SIZE entries). A hit is checked
 * against nbf and exp again and lasts at most CACHE_TTL_MS; it also needs its key to be in the set
 * still: a remote set fetched again has new key objects, so a key the IdP dropped takes its tokens
 * with it. Refusals are not kept (a token not valid yet may become valid).
 */
export class VerifiedTokens {
  private readonly entries = new Map<string, VerifiedToken>();

  constructor(
    private readonly skewMs: number,
    private readonly size = CACHE_SIZE,
    private readonly ttlMs = CACHE_TTL_MS,
  ) {}

  /** The claims of `token` if it passed with a key `keys` still holds and is within its time now. */
  get(token: string, keys: readonly JWK[] | null, now = Date.now()): Record<string, unknown> | null {
    const e = this.entries.get(token);
    if (e === undefined) return null;
    if (now > e.until || keys === null || !keys.includes(e.key)) {
      this.entries.delete(token);
      return null;
    }
    if (now < e.from) return null;
    // Most recently used last: Map keeps insertion order.
    this.entries.delete(token);
    this.entries.set(token, e);
    return e.claims;
  }

  set(token: string, key: JWK, claims: Record<string, unknown>, now = Date.now()): void {
    const nbf = claims.nbf;
    const exp = claims.exp;
    const until = Math.min(now + this.ttlMs, typeof exp === "number" ? exp * 1000 + this.skewMs : Infinity);
    if (until < now) return;
    this.entries.delete(token);
    this.entries.set(token, { key, claims, from: typeof nbf === "number" ? nbf * 1000 - this.skewMs : 0, until });
    if (this.entries.size > this.size) this.entries.delete(this.entries.keys().next().value!);
  }

  get count(): number {
    return this.entries.size;
  }
}

/** A refusal by fast-jwt, in the words the 401 carries. */
export function describeTokenError(err: unknown): string {
  if (!(err instanceof TokenError)) return `JWT could not be verified: ${err instanceof Error ? err.message : String(err)}`;
  switch (err.code) {
    case TokenError.codes.expired:
      return "JWT is expired";
    case TokenError.codes.inactive:
      return "JWT is not valid yet";
    case TokenError.codes.invalidSignature:
      return "JWT signature does not verify";
    case TokenError.codes.malformed:
    case TokenError.codes.invalidType:
    case TokenError.codes.invalidPayload:
      return "JWT is malformed";
    case TokenError.codes.invalidClaimValue:
    case TokenError.codes.invalidClaimType:
    case TokenError.codes.missingRequiredClaim:
      return `JWT is not accepted: ${err.message}`;
    default:
      return `JWT is not valid: ${err.message}`;
  }
}
