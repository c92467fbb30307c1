// SecurityPolicy on the wire: a real gateway process, an echo backend on 127.0.0.1, policies
// attached to a Gateway, a route and a named rule: CORS, client address allow/deny (socket and
// X-Forwarded-For behind trusted proxies), basic auth (SHA and bcrypt) and API keys (header,
// query, cookie; sanitized), and a live policy edit.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import bcrypt from "bcryptjs";
import { startEchoServer, type EchoServer } from "../../../src/demo/echo-server.js";
import { freePort, GatewayProcess } from "../../helpers/gateway.js";
import { prefixRouteYaml } from "../../helpers/gateway-yaml.js";
import { httpCall, type HttpResult } from "../../helpers/http.js";
import { BACKEND, CLASS_AND_GATEWAY, until } from "../control/fixtures.js";

let echo: EchoServer;
let gw: GatewayProcess;
let port: number;

type Res = HttpResult;

const call = (path: string, opts: { method?: string; headers?: Record<string, string> } = {}): Promise<Res> => httpCall(port, path, { ...opts, timeoutMs: 5000 });

const basic = (user: string, pw: string): string => `Basic ${Buffer.from(`${user}:${pw}`).toString("base64")}`;
const b64 = (s: string): string => Buffer.from(s).toString("base64");

const ROUTES = `${prefixRouteYaml("app", [["open", "/open"], ["basic", "/basic"], ["keys", "/keys"]])}---
${prefixRouteYaml("internal", ["/internal"])}`;

const SECRETS = (shaHash: string, bcryptHash: string): string => `apiVersion: v1
kind: Secret
metadata: { name: users, namespace: default }
data:
  .htpasswd: ${b64(`alice:${shaHash}\nbob:${bcryptHash}\n`)}
---
apiVersion: v1
kind: Secret
metadata: { name: keys, namespace: default }
stringData:
  client-a: key-aaaa
  client-b: key-bbbb
`;

const POLICIES = (internalCidr: string): string => `apiVersion: sluice.dev/v1alpha1
kind: SecurityPolicy
metadata: { name: gateway-cors, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: gw }]
  cors:
    allowOrigins: ["https://*.example.com"]
    allowMethods: [GET, POST]
    allowHeaders: [x-token]
    maxAge: 10m
---
apiVersion: sluice.dev/v1alpha1
kind: SecurityPolicy
metadata: { name: basic, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: app, sectionName: basic }]
  basicAuth:
    users: { name: users }
    forwardUsernameHeader: x-user
---
apiVersion: sluice.dev/v1alpha1
kind: SecurityPolicy
metadata: { name: keys, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: app, sectionName: keys }]
  apiKeyAuth:
    credentialRefs: [{ name: keys }]
    extractFrom: [{ headers: [x-api-key] }, { params: [api_key] }, { cookies: [apikey] }]
    forwardClientIDHeader: x-client-id
    sanitize: true
---
apiVersion: sluice.dev/v1alpha1
kind: SecurityPolicy
metadata: { name: internal-only, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: internal }]
  authorization:
    defaultAction: Deny
    rules:
      - name: blocked-proxy-client
        action: Deny
        principal: { clientCIDRs: ["10.9.9.9/32"] }
      - name: private
        action: Allow
        principal: { clientCIDRs: ["${internalCidr}"] }
---
apiVersion: sluice.dev/v1alpha1
kind: ClientTrafficPolicy
metadata: { name: behind-one-proxy, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: gw }]
  clientIPDetection: { xForwardedFor: { numTrustedHops: 1 } }
`;

let shaHash: string;
let bcryptHash: string;

before(async () => {
  echo = await startEchoServer({ pod: "echo-1" });
  port = await freePort();
  shaHash = `{SHA}${createHash("sha1").update("alice-pw").digest("base64")}`;
  bcryptHash = bcrypt.hashSync("bob-pw", 4);
  gw = await GatewayProcess.start({
    files: {
      "gw.yaml": CLASS_AND_GATEWAY(port),
      "backend.yaml": BACKEND("echo", echo.port),
      "routes.yaml": ROUTES,
      "secrets.yaml": SECRETS(shaHash, bcryptHash),
      "policies.yaml": POLICIES("10.0.0.0/8"),
    },
  });
});

after(async () => {
  await gw?.stop();
  await echo?.close();
});

test("the policies are accepted, with the Gateway as ancestor", async () => {
  const r = await fetch(gw.admin("/status"));
  const list = (await r.json()) as { items: { kind: string; metadata: { name: string }; status?: { ancestors?: { ancestorRef: { kind: string; name: string }; conditions: { type: string; status: string; reason: string }[] }[] } }[] };
  const policies = list.items.filter((i) => i.kind === "SecurityPolicy" || i.kind === "ClientTrafficPolicy");
  assert.equal(policies.length, 5);
  for (const p of policies) {
    const a = p.status?.ancestors?.[0];
    assert.equal(a?.ancestorRef.kind, "Gateway", p.metadata.name);
    assert.equal(a?.ancestorRef.name, "gw");
    assert.deepEqual(a?.conditions.map((c) => [c.type, c.status, c.reason]), [["Accepted", "True", "Accepted"]], p.metadata.name);
  }
});

test("CORS from a Gateway policy: preflight answered by the gateway, actual requests get the headers", async () => {
  const before = echo.requests.length;
  const pre = await call("/open/x", { method: "OPTIONS", headers: { origin: "https://app.example.com", "access-control-request-method": "POST", "access-control-request-headers": "x-token" } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers["access-control-allow-origin"], "https://app.example.com");
  assert.equal(pre.headers["access-control-allow-methods"], "GET, POST");
  assert.equal(pre.headers["access-control-allow-headers"], "x-token");
  assert.equal(pre.headers["access-control-max-age"], "600");
  assert.equal(echo.requests.length, before, "the preflight must not reach the backend");
  const denied = await call("/open/x", { method: "OPTIONS", headers: { origin: "https://evil.test", "access-control-request-method": "POST" } });
  assert.equal(denied.status, 403);
  assert.equal(denied.headers["access-control-allow-origin"], undefined);
  const actual = await call("/open/x", { headers: { origin: "https://app.example.com" } });
  assert.equal(actual.status, 200);
  assert.equal(actual.headers["access-control-allow-origin"], "https://app.example.com");
  assert.match(String(actual.headers.vary), /origin/i);
});

test("basic auth: SHA and bcrypt users, wrong or missing credentials get 401 with a challenge", async () => {
  const none = await call("/basic");
  assert.equal(none.status, 401);
  assert.match(String(none.headers["www-authenticate"]), /^Basic realm=/);
  assert.equal((await call("/basic", { headers: { authorization: basic("alice", "wrong") } })).status, 401);
  assert.equal((await call("/basic", { headers: { authorization: basic("nobody", "alice-pw") } })).status, 401);
  assert.equal((await call("/basic", { headers: { authorization: basic("bob", "nope") } })).status, 401);
  const alice = await call("/basic", { headers: { authorization: basic("alice", "alice-pw") } });
  assert.equal(alice.status, 200);
  assert.deepEqual(alice.echo?.headers["x-user"], ["alice"]);
  for (let i = 0; i < 2; i++) {
    const bob = await call("/basic", { headers: { authorization: basic("bob", "bob-pw"), "x-user": "forged" } });
    assert.equal(bob.status, 200);
    assert.deepEqual(bob.echo?.headers["x-user"], ["bob"], "the gateway's value replaces a client's");
  }
  // Other rules of the route are not covered by the rule-level policy.
  assert.equal((await call("/open")).status, 200);
});

test("API keys from a header, a query parameter or a cookie; the key never reaches the backend", async () => {
  assert.equal((await call("/keys")).status, 401);
  assert.equal((await call("/keys", { headers: { "x-api-key": "key-zzzz" } })).status, 401);
  const h = await call("/keys", { headers: { "x-api-key": "key-aaaa" } });
  assert.equal(h.status, 200);
  assert.deepEqual(h.echo?.headers["x-client-id"], ["client-a"]);
  assert.equal(h.echo?.headers["x-api-key"], undefined);
  const q = await call("/keys/list?page=2&api_key=key-bbbb");
  assert.equal(q.status, 200);
  assert.deepEqual(q.echo?.headers["x-client-id"], ["client-b"]);
  assert.equal(q.echo?.path, "/keys/list?page=2");
  const c = await call("/keys", { headers: { cookie: "theme=dark; apikey=key-aaaa" } });
  assert.equal(c.status, 200);
  assert.deepEqual(c.echo?.headers.cookie, ["theme=dark"]);
  assert.deepEqual(c.echo?.headers["x-client-id"], ["client-a"]);
});

test("authorization by client address, read from X-Forwarded-For behind one trusted proxy", async () => {
  // The test client is the "proxy" (127.0.0.1); the address it appended is the client.
  assert.equal((await call("/internal", { headers: { "x-forwarded-for": "10.1.2.3" } })).status, 200);
  assert.equal((await call("/internal", { headers: { "x-forwarded-for": "203.0.113.7, 10.1.2.3" } })).status, 200, "only the trusted hop counts");
  assert.equal((await call("/internal", { headers: { "x-forwarded-for": "10.1.2.3, 192.0.2.1" } })).status, 403);
  assert.equal((await call("/internal", { headers: { "x-forwarded-for": "10.9.9.9" } })).status, 403, "a Deny rule listed first wins");
  // Without the header the socket address (127.0.0.1) is the client: not in 10/8 -> default Deny.
  assert.equal((await call("/internal")).status, 403);
});

test("a policy edit takes effect without a restart", async () => {
  gw.write("policies.yaml", POLICIES("127.0.0.0/8"));
  await until("127.0.0.1 allowed after the edit", 10_000, async () => (await call("/internal")).status === 200);
  assert.equal((await call("/internal", { headers: { "x-forwarded-for": "10.1.2.3" } })).status, 403);
});
