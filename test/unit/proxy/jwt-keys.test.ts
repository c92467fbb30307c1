// The JWT guard's key selection, per-key verifiers and verified-token cache: which key of a set
// checks a token, what a refusal says, and that the cache never serves a token past its exp, before
// its nbf, past its cache time or after its key left the set.
import { test } from "node:test";
import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { candidateKeys, describeTokenError, KeyVerifiers, VerifiedTokens } from "../../../src/proxy/guards/jwt-keys.js";

async function pair(alg: string, kid: string, extra: Partial<JWK> = {}): Promise<{ priv: CryptoKey; jwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair(alg, alg === "EdDSA" ? { crv: "Ed25519" } : undefined);
  return { priv: privateKey, jwk: { ...(await exportJWK(publicKey)), kid, ...extra } };
}

const now = (): number => Math.floor(Date.now() / 1000);

function sign(priv: CryptoKey, alg: string, kid: string | undefined, claims: Record<string, unknown> = {}): Promise<string> {
  const t = new SignJWT({ iss: "https://idp.test", aud: "api", ...claims }).setProtectedHeader(kid === undefined ? { alg } : { alg, kid });
  if (claims.exp === undefined) t.setExpirationTime(now() + 300);
  return t.sign(priv);
}

test("candidate keys: the token's kid, and a key type, curve, alg and use that fit its alg", async () => {
  const rsa = (await pair("RS256", "r1")).jwk;
  const rsaEnc = (await pair("RS256", "r2", { use: "enc" })).jwk;
  const rsaPs = (await pair("PS256", "r3", { alg: "PS256" })).jwk;
  const ec256 = (await pair("ES256", "e1")).jwk;
  const ec384 = (await pair("ES384", "e2")).jwk;
  const ed = (await pair("EdDSA", "d1")).jwk;
  const set = [rsa, rsaEnc, rsaPs, ec256, ec384, ed];
  assert.deepEqual(candidateKeys(set, { alg: "RS256", kid: "r1" }), [rsa]);
  assert.deepEqual(candidateKeys(set, { alg: "RS256" }), [rsa], "no kid: every key that fits; not the encryption key, not the PS256-only key");
  assert.deepEqual(candidateKeys(set, { alg: "PS256" }), [rsa, rsaPs]);
  assert.deepEqual(candidateKeys(set, { alg: "ES256" }), [ec256], "the curve must fit the alg");
  assert.deepEqual(candidateKeys(set, { alg: "ES384" }), [ec384]);
  assert.deepEqual(candidateKeys(set, { alg: "EdDSA" }), [ed]);
  assert.deepEqual(candidateKeys(set, { alg: "RS256", kid: "e1" }), [], "a kid names a key of another type");
  assert.deepEqual(candidateKeys(set, { alg: "none" }), []);
  assert.deepEqual(candidateKeys(set, { alg: "HS256" }), [], "no shared secret in the set");
  assert.deepEqual(candidateKeys(set, {}), []);
});

test("a verifier checks signature, issuer, audience and time, and says what is wrong", async () => {
  const k = await pair("ES256", "k");
  const other = await pair("ES256", "k");
  const v = new KeyVerifiers({ issuer: "https://idp.test", audiences: ["api", "api2"], clockSkewSeconds: 0 }).for(k.jwk);
  assert.equal(v(await sign(k.priv, "ES256", "k", { sub: "alice" })).sub, "alice");
  assert.equal(v(await sign(k.priv, "ES256", "k", { aud: ["x", "api2"] })).iss, "https://idp.test", "one of the token's audiences is enough");
  const refused = async (token: Promise<string>, why: RegExp): Promise<void> => {
    const t = await token;
    assert.throws(() => v(t), (err: unknown) => why.test(describeTokenError(err)));
  };
  await refused(sign(other.priv, "ES256", "k"), /^JWT signature does not verify$/);
  await refused(sign(k.priv, "ES256", "k", { exp: now() - 10 }), /^JWT is expired$/);
  await refused(sign(k.priv, "ES256", "k", { nbf: now() + 60 }), /^JWT is not valid yet$/);
  await refused(sign(k.priv, "ES256", "k", { aud: "other" }), /aud/);
  await refused(sign(k.priv, "ES256", "k", { iss: "https://evil.test" }), /iss/);
});

test("verified tokens: a hit is checked against exp and nbf (with the skew) and needs its key in the set", () => {
  const key: JWK = { kty: "RSA", kid: "k" };
  const t0 = 1_700_000_000_000;
  const tokens = new VerifiedTokens(5_000);
  const keys = [key];
  tokens.set("expiring", key, { sub: "a", exp: t0 / 1000 + 60 }, t0);
  tokens.set("early", key, { sub: "b", nbf: t0 / 1000 + 30, exp: t0 / 1000 + 600 }, t0);
  assert.equal(tokens.get("expiring", keys, t0 + 1_000)?.sub, "a");
  assert.equal(tokens.get("expiring", keys, t0 + 64_000)?.sub, "a", "within the 5 s skew past exp");
  assert.equal(tokens.get("expiring", keys, t0 + 66_000), null, "past exp + skew");
  assert.equal(tokens.get("expiring", keys, t0 + 1_000), null, "an expired entry is gone");
  assert.equal(tokens.get("early", keys, t0 + 20_000), null, "before nbf - skew");
  assert.equal(tokens.get("early", keys, t0 + 26_000)?.sub, "b", "within the skew before nbf");
  assert.equal(tokens.get("early", [{ ...key }], t0 + 40_000), null, "the set was fetched again: its key is another object");
  assert.equal(tokens.get("early", keys, t0 + 40_000), null, "and the entry is gone");
  assert.equal(tokens.get("early", null, t0 + 40_000), null);
});

test("verified tokens: at most the cache time, at most `size` entries, least recently used out first", () => {
  const key: JWK = { kty: "EC", kid: "k" };
  const t0 = 1_700_000_000_000;
  const tokens = new VerifiedTokens(0, 3, 60_000);
  tokens.set("no-exp", key, {}, t0);
  assert.deepEqual(tokens.get("no-exp", [key], t0 + 59_000), {});
  assert.equal(tokens.get("no-exp", [key], t0 + 61_000), null, "no exp: the cache time bounds it");
  tokens.set("past", key, { exp: t0 / 1000 - 1 }, t0);
  assert.equal(tokens.count, 0, "an expired token is not kept");
  for (const t of ["a", "b", "c"]) tokens.set(t, key, { t }, t0);
  assert.ok(tokens.get("a", [key], t0), "a is used: b is now the least recent");
  tokens.set("d", key, { t: "d" }, t0);
  assert.equal(tokens.count, 3);
  assert.equal(tokens.get("b", [key], t0), null);
  for (const t of ["a", "c", "d"]) assert.ok(tokens.get(t, [key], t0), t);
});

test("a cached token expires on the wire clock too: refused once past exp", async () => {
  const k = await pair("RS256", "k");
  const v = new KeyVerifiers({ audiences: [], clockSkewSeconds: 0 }).for(k.jwk);
  const tokens = new VerifiedTokens(0);
  const soon = now() + 2;
  const t = await sign(k.priv, "RS256", "k", { exp: soon });
  tokens.set(t, k.jwk, v(t));
  assert.equal(tokens.get(t, [k.jwk])?.exp, soon);
  await new Promise((r) => setTimeout(r, (soon + 1) * 1000 - Date.now()));
  assert.equal(tokens.get(t, [k.jwk]), null);
  assert.throws(() => v(t), (err: unknown) => describeTokenError(err) === "JWT is expired");
});

test("a key that cannot be used is refused with its kid, every time", () => {
  const verifiers = new KeyVerifiers({ audiences: [], clockSkewSeconds: 0 });
  const bad: JWK = { kty: "EC", crv: "P-256", x: "AAAA", y: "AAAA", kid: "broken" };
  assert.throws(() => verifiers.for(bad), /key broken of the key set cannot be used/);
  assert.throws(() => verifiers.for(bad), /key broken of the key set cannot be used/);
});

test("HMAC keys (kty oct) verify HS tokens; a public key never verifies an HS token", async () => {
  const secret = new Uint8Array(32).fill(7);
  const jwk: JWK = { kty: "oct", k: Buffer.from(secret).toString("base64url"), kid: "s" };
  const v = new KeyVerifiers({ audiences: [], clockSkewSeconds: 0 }).for(jwk);
  const token = await new SignJWT({ sub: "svc" }).setProtectedHeader({ alg: "HS256", kid: "s" }).setExpirationTime(now() + 60).sign(secret);
  assert.equal(v(token).sub, "svc");
  const rsa = await pair("RS256", "r");
  // The classic confusion: an HS256 token "signed" with the RSA public key's PEM as the secret.
  const pem = (await import("node:crypto")).createPublicKey({ key: rsa.jwk as import("node:crypto").JsonWebKey, format: "jwk" }).export({ type: "spki", format: "pem" });
  const forged = await new SignJWT({ sub: "mallory" }).setProtectedHeader({ alg: "HS256", kid: "r" }).setExpirationTime(now() + 60).sign(new TextEncoder().encode(String(pem)));
  assert.deepEqual(candidateKeys([rsa.jwk], { alg: "HS256", kid: "r" }), []);
  const rv = new KeyVerifiers({ audiences: [], clockSkewSeconds: 0 }).for(rsa.jwk);
  assert.throws(() => rv(forged));
});
