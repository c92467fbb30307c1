// JWT on the wire: a real gateway, an echo backend and a JWKS server on 127.0.0.1 whose keys the
// test rotates. Valid, expired, wrong-audience, wrong-signature, rotated-key tokens; tokens from a
// header, a query parameter and a cookie; claims to headers; clock skew; authorization on scopes
// ("scope" and "scp") and claims; the unknown-kid refetch is rate-limited; a verified token stops
// passing once its key leaves the key set.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type net from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from "jose";
import { startEchoServer, type EchoServer } from "../../../src/demo/echo-server.js";
import { freePort, GatewayProcess } from "../../helpers/gateway.js";
import { prefixRouteYaml } from "../../helpers/gateway-yaml.js";
import { httpCall, type HttpResult } from "../../helpers/http.js";
import { BACKEND, CLASS_AND_GATEWAY } from "../control/fixtures.js";

let echo: EchoServer;
let gw: GatewayProcess;
let port: number;
let jwks: http.Server;
let jwksPort: number;
let served: JWK[] = [];
/** What /short.json serves: the key set of the provider with a 1 s cache time. */
let shortServed: JWK[] = [];
let fetches = 0;

interface Key {
  kid: string;
  priv: CryptoKey;
  pub: JWK;
}
let k1: Key;
let k2: Key;
let stranger: Key;
let local: Key;
let short: Key;

async function newKey(kid: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair("RS256");
  return { kid, priv: privateKey, pub: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } };
}

const ISS = "https://idp.test";
const now = (): number => Math.floor(Date.now() / 1000);

function sign(key: Key, claims: Record<string, unknown>, opts: { iss?: string; aud?: string; exp?: number; kid?: string } = {}): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "RS256", kid: opts.kid ?? key.kid })
    .setIssuer(opts.iss ?? ISS)
    .setAudience(opts.aud ?? "api")
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? now() + 300)
    .setSubject(String(claims.sub ?? "user-1"))
    .sign(key.priv);
}

type Res = HttpResult;

const call = (path: string, headers: Record<string, string> = {}): Promise<Res> => httpCall(port, path, { headers });

const bearer = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` });

before(async () => {
  [k1, k2, stranger, local, short] = await Promise.all([newKey("k1"), newKey("k2"), newKey("k1"), newKey("local-1"), newKey("s1")]);
  served = [k1.pub];
  shortServed = [short.pub];
  jwks = http.createServer((req, res) => {
    res.setHeader("content-type", "application/json");
    if (req.url === "/short.json") return res.end(JSON.stringify({ keys: shortServed }));
    fetches++;
    res.end(JSON.stringify({ keys: served }));
  });
  await new Promise<void>((r) => jwks.listen(0, "127.0.0.1", () => r()));
  jwksPort = (jwks.address() as net.AddressInfo).port;
  echo = await startEchoServer({ pod: "echo-1" });
  port = await freePort();
  const route = (name: string, path: string) => `${prefixRouteYaml(name, [path])}---
`;
  const policies = `apiVersion: sluice.dev/v1alpha1
kind: SecurityPolicy
metadata: { name: remote, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: api }]
  jwt:
    providers:
      - name: idp
        issuer: ${ISS}
        audiences: [api]
        remoteJWKS: { uri: "http://127.0.0.1:${jwksPort}/jwks.json", cacheDuration: 10m }
        claimToHeaders: [{ header: x-sub, claim: sub }, { header: x-tenant, claim: org.tenant }]
---
apiVersion: sluice.dev/v1alpha1
kind: SecurityPolicy
metadata: { name: scoped, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: admin }]
  jwt:
    providers:
      - name: idp
        issuer: ${ISS}
        remoteJWKS: { uri: "http://127.0.0.1:${jwksPort}/jwks.json" }
  authorization:
    defaultAction: Deny
    rules:
      - name: admins
        action: Allow
        principal: { jwt: { provider: idp, scopes: [admin.write], claims: [{ name: groups, valueType: StringArray, values: [ops] }] } }
---
apiVersion: sluice.dev/v1alpha1
kind: SecurityPolicy
metadata: { name: local, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: local }]
  jwt:
    providers:
      - name: local
        issuer: https://local.test
        localJWKS: { type: Inline, inline: '${JSON.stringify({ keys: [local.pub] })}' }
        extractFrom: { params: [access_token], cookies: [session] }
        clockSkew: 5s
---
apiVersion: sluice.dev/v1alpha1
kind: SecurityPolicy
metadata: { name: short, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: short }]
  jwt:
    providers:
      - name: short
        issuer: ${ISS}
        remoteJWKS: { uri: "http://127.0.0.1:${jwksPort}/short.json", cacheDuration: 1s }
`;
  gw = await GatewayProcess.start({
    workers: 1,
    files: {
      "gw.yaml": CLASS_AND_GATEWAY(port),
      "backend.yaml": BACKEND("echo", echo.port),
      "routes.yaml": route("api", "/api") + route("admin", "/admin") + route("local", "/local") + route("short", "/short"),
      "policies.yaml": policies,
    },
  });
});

after(async () => {
  await gw?.stop();
  await echo?.close();
  await new Promise((r) => jwks?.close(r));
});

test("a valid token passes; claims become request headers, forged copies are replaced", async () => {
  const t = await sign(k1, { sub: "alice", org: { tenant: "acme" } });
  const r = await call("/api", { ...bearer(t), "x-sub": "mallory" });
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(r.echo?.headers["x-sub"], ["alice"]);
  assert.deepEqual(r.echo?.headers["x-tenant"], ["acme"]);
});

test("missing, malformed, expired, wrong-audience, wrong-issuer and wrong-signature tokens get 401", async () => {
  const missing = await call("/api");
  assert.equal(missing.status, 401);
  assert.equal(missing.headers["www-authenticate"], 'Bearer realm="sluice"');
  const cases: [string, Promise<string> | string, RegExp][] = [
    ["malformed", "not.a.jwt", /malformed/],
    ["expired", sign(k1, {}, { exp: now() - 3600 }), /expired/],
    ["wrong audience", sign(k1, {}, { aud: "other" }), /aud/],
    ["wrong issuer", sign(k1, {}, { iss: "https://evil.test" }), /issuer/],
    ["wrong signature", sign(stranger, {}), /signature/],
  ];
  for (const [what, tok, why] of cases) {
    const r = await call("/api", bearer(await tok));
    assert.equal(r.status, 401, what);
    assert.match(String(r.headers["www-authenticate"]), /error="invalid_token"/, what);
    assert.match(r.body, why, what);
  }
});

test("a rotated key is fetched once on its first unknown kid; unknown kids do not flood the IdP", async () => {
  const before = fetches;
  served = [k1.pub, k2.pub];
  const r = await call("/api", bearer(await sign(k2, { sub: "bob" })));
  assert.equal(r.status, 200, r.body);
  assert.equal(fetches, before + 1, "exactly one refetch for the new kid");
  // A burst of tokens with a kid the IdP does not have: at most one more fetch (cooldown).
  const bogus = await newKey("k-unknown");
  for (let i = 0; i < 10; i++) assert.equal((await call("/api", bearer(await sign(bogus, {})))).status, 401);
  assert.ok(fetches - before <= 2, `fetches after the burst: ${fetches - before}`);
  assert.equal((await call("/api", bearer(await sign(k1, {})))).status, 200, "the old key still verifies");
});

test("authorization on scopes and claims: 'scope' string and 'scp' list both count; 403 otherwise", async () => {
  const ok1 = await call("/admin", bearer(await sign(k1, { scope: "read admin.write", groups: ["dev", "ops"] })));
  assert.equal(ok1.status, 200, ok1.body);
  const ok2 = await call("/admin", bearer(await sign(k1, { scp: ["admin.write"], groups: ["ops"] })));
  assert.equal(ok2.status, 200, ok2.body);
  assert.equal((await call("/admin", bearer(await sign(k1, { scope: "read", groups: ["ops"] })))).status, 403);
  assert.equal((await call("/admin", bearer(await sign(k1, { scope: "admin.write", groups: ["dev"] })))).status, 403);
  assert.equal((await call("/admin")).status, 401, "no token: authentication fails before authorization");
});

test("local JWKS, tokens from a query parameter or a cookie, and clock skew", async () => {
  const fresh = await sign(local, {}, { iss: "https://local.test" });
  assert.equal((await call(`/local?access_token=${fresh}`)).status, 200);
  assert.equal((await call("/local", { cookie: `theme=x; session=${fresh}` })).status, 200);
  assert.equal((await call("/local", bearer(fresh))).status, 401, "this provider only reads the query and cookie");
  const justExpired = await sign(local, {}, { iss: "https://local.test", exp: now() - 2 });
  assert.equal((await call(`/local?access_token=${justExpired}`)).status, 200, "within the 5 s skew");
  const longExpired = await sign(local, {}, { iss: "https://local.test", exp: now() - 60 });
  assert.equal((await call(`/local?access_token=${longExpired}`)).status, 401);
});

test("a token the gateway verified before is refused once its key has left the IdP's key set", async () => {
  const t = await sign(short, { sub: "carol" });
  for (let i = 0; i < 3; i++) {
    const r = await call("/short", bearer(t));
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(r.echo?.headers["x-sub"] ?? [], [], "this provider copies no claims");
  }
  // The IdP drops the key; once the set's 1 s cache time is over the gateway fetches it again.
  shortServed = [];
  await new Promise((r) => setTimeout(r, 1_300));
  const r = await call("/short", bearer(t));
  assert.equal(r.status, 401, "served from the cache of verified tokens after its key was dropped");
  assert.match(r.body, /unknown key/);
});
