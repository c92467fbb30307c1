// SecurityPolicy extAuth on the wire: a real gateway process, an echo backend and a real HTTP
// authorizer on 127.0.0.1. Allow (headers to the backend), deny (status, headers and body relayed
// to the client), what the authorizer is sent, timeout, 5xx, an authorizer that is down, failOpen
// both ways, statusOnError; and the schema's refusals of fields Sluice does not implement.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { startEchoServer, type EchoServer } from "../../../src/demo/echo-server.js";
import { parseDocuments } from "../../../src/resources/index.js";
import { freePort, GatewayProcess } from "../../helpers/gateway.js";
import { prefixRouteYaml } from "../../helpers/gateway-yaml.js";
import { httpCall, type HttpResult } from "../../helpers/http.js";
import { BACKEND, CLASS_AND_GATEWAY } from "../control/fixtures.js";

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

let echo: EchoServer;
let gw: GatewayProcess;
let port: number;
let authz: http.Server;
let authzPort: number;
const seen: Seen[] = [];
/** Checks the authorizer has started answering (to see that a slow one is not waited for). */
let slowStarted = 0;

/** The authorizer decides from the original path, which it gets after the "/authz" prefix. */
function authorizer(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
  seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body });
  const path = (req.url ?? "").replace(/^\/authz/, "").split("?")[0]!;
  const last = path.split("/").pop();
  switch (last) {
    case "allow":
      res.writeHead(200, { "x-user": "alice", "x-tenant-id": "t-42", "x-not-forwarded": "nope", "content-type": "text/plain" });
      res.end("allowed; this body goes nowhere");
      return;
    case "deny":
      res.writeHead(401, { "www-authenticate": 'Bearer realm="authz"', "x-deny-reason": "no-ticket", "set-cookie": ["a=1", "b=2"], "content-type": "application/json" });
      res.end(JSON.stringify({ error: "no ticket" }));
      return;
    case "login":
      res.writeHead(302, { location: "https://login.example.test/?back=1" });
      res.end();
      return;
    case "slow":
      slowStarted++;
      setTimeout(() => {
        if (!res.destroyed) {
          res.writeHead(200);
          res.end();
        }
      }, 1500).unref();
      return;
    case "boom":
      res.writeHead(503, { "x-boom": "1" });
      res.end("authorizer is broken");
      return;
    default:
      res.writeHead(403, { "content-type": "text/plain" });
      res.end("forbidden by the authorizer\n");
  }
}

const ROUTES = prefixRouteYaml("app", [["closed", "/closed"], ["open", "/open"], ["down", "/down"], ["down-open", "/down-open"], ["override", "/override"], ["missing", "/missing"]]);

const AUTHZ_SERVICE = (p: number, downPort: number): string => `apiVersion: v1
kind: Service
metadata: { name: authz, namespace: default }
spec:
  ports: [{ name: http, port: 8000 }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: authz-1, namespace: default, labels: { kubernetes.io/service-name: authz } }
addressType: IPv4
ports: [{ name: http, port: ${p} }]
endpoints: [{ addresses: ["127.0.0.1"] }]
---
apiVersion: sluice.dev/v1alpha1
kind: Backend
metadata: { name: authz-down, namespace: default }
spec:
  endpoints: [{ ip: { address: 127.0.0.1, port: ${downPort} } }]
`;

const policy = (name: string, rule: string, body: string): string => `apiVersion: sluice.dev/v1alpha1
kind: SecurityPolicy
metadata: { name: ${name}, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: app, sectionName: ${rule} }]
  extAuth:
${body}
---
`;

const POLICIES =
  policy(
    "closed",
    "closed",
    `    http:
      backendRefs: [{ name: authz, port: 8000 }]
      path: /authz
      headersToBackend: [x-user, x-tenant-id]
    headersToExtAuth: [x-tenant, cookie]
    timeout: 500ms`,
  ) +
  policy(
    "open",
    "open",
    `    http:
      backendRef: { name: authz, port: 8000 }
      path: /authz
    timeout: 500ms
    failOpen: true`,
  ) +
  policy(
    "down",
    "down",
    `    http:
      backendRefs: [{ group: sluice.dev, kind: Backend, name: authz-down }]
    statusOnError: 503`,
  ) +
  policy(
    "down-open",
    "down-open",
    `    http:
      backendRefs: [{ group: sluice.dev, kind: Backend, name: authz-down }]
    failOpen: true`,
  ) +
  policy(
    "override",
    "override",
    `    http:
      backendRefs: [{ name: authz, port: 8000 }]
      pathOverride: /authz/fixed/allow
      headersToBackend: [x-user]`,
  ) +
  policy(
    "missing",
    "missing",
    `    http:
      backendRefs: [{ name: no-such-service, port: 80 }]`,
  );

type Res = HttpResult;

const call = (path: string, opts: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Res> => httpCall(port, path, { ...opts, strictEcho: true });

before(async () => {
  echo = await startEchoServer({ pod: "echo-1" });
  authz = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => authorizer(req, res, Buffer.concat(chunks).toString()));
  });
  await new Promise<void>((r) => authz.listen(0, "127.0.0.1", r));
  authzPort = (authz.address() as AddressInfo).port;
  port = await freePort();
  const downPort = await freePort();
  gw = await GatewayProcess.start({
    files: {
      "gw.yaml": CLASS_AND_GATEWAY(port),
      "backend.yaml": BACKEND("echo", echo.port),
      "authz.yaml": AUTHZ_SERVICE(authzPort, downPort),
      "routes.yaml": ROUTES,
      "policies.yaml": POLICIES,
    },
  });
});

after(async () => {
  await gw?.stop();
  await echo?.close();
  authz?.closeAllConnections();
  await new Promise((r) => authz?.close(r));
});

test("the policies are accepted", async () => {
  const r = await fetch(gw.admin("/status"));
  const list = (await r.json()) as { items: { kind: string; metadata: { name: string }; status?: { ancestors?: { conditions: { type: string; status: string }[] }[] } }[] };
  const policies = list.items.filter((i) => i.kind === "SecurityPolicy");
  assert.equal(policies.length, 6);
  for (const p of policies) assert.equal(p.status?.ancestors?.[0]?.conditions[0]?.status, "True", p.metadata.name);
});

test("allowed: the backend gets the request with headersToBackend from the authorizer's answer", async () => {
  const before = echo.requests.length;
  const r = await call("/closed/allow?x=1", { headers: { "x-user": "mallory", "x-tenant": "acme" } });
  assert.equal(r.status, 200);
  assert.ok(r.echo, r.body);
  assert.equal(echo.requests.length, before + 1);
  assert.deepEqual(r.echo.headers["x-user"], ["alice"], "the authorizer's value replaces the client's");
  assert.deepEqual(r.echo.headers["x-tenant-id"], ["t-42"]);
  assert.equal(r.echo.headers["x-not-forwarded"], undefined, "only the listed headers go to the backend");
  assert.equal(r.echo.path, "/closed/allow?x=1");
});

test("what the authorizer is asked: method, prefixed path with query, Host, Authorization and the listed headers, no body", async () => {
  seen.length = 0;
  const r = await call("/closed/allow?q=2", {
    method: "POST",
    headers: { authorization: "Bearer abc", "x-tenant": "acme", cookie: "s=1", "x-secret": "not for the authorizer", "content-type": "text/plain" },
    body: "payload",
  });
  assert.equal(r.status, 200);
  assert.equal(r.echo?.body, "payload", "the backend still gets the body");
  assert.equal(seen.length, 1);
  const s = seen[0]!;
  assert.equal(s.method, "POST");
  assert.equal(s.url, "/authz/closed/allow?q=2");
  assert.equal(s.headers.host, `127.0.0.1:${port}`);
  assert.equal(s.headers.authorization, "Bearer abc");
  assert.equal(s.headers["x-tenant"], "acme");
  assert.equal(s.headers.cookie, "s=1");
  assert.equal(s.headers["x-secret"], undefined);
  assert.equal(s.headers["content-type"], undefined);
  assert.equal(s.body, "");
});

test("denied: the authorizer's status, headers and body reach the client; the backend is not called", async () => {
  const before = echo.requests.length;
  const r = await call("/closed/deny");
  assert.equal(r.status, 401);
  assert.equal(r.headers["www-authenticate"], 'Bearer realm="authz"');
  assert.equal(r.headers["x-deny-reason"], "no-ticket");
  assert.deepEqual(r.headers["set-cookie"], ["a=1", "b=2"]);
  assert.equal(r.headers["content-type"], "application/json");
  assert.deepEqual(JSON.parse(r.body), { error: "no ticket" });
  const redirect = await call("/closed/login");
  assert.equal(redirect.status, 302);
  assert.equal(redirect.headers.location, "https://login.example.test/?back=1");
  const other = await call("/closed/anything");
  assert.equal(other.status, 403);
  assert.equal(other.body, "forbidden by the authorizer\n");
  assert.equal(echo.requests.length, before, "no denied request reaches the backend");
});

test("fail closed: a slow authorizer times out, a 5xx answer is an error, both answered 403", async () => {
  const before = echo.requests.length;
  const slowBefore = slowStarted;
  const t0 = Date.now();
  const slow = await call("/closed/slow");
  const took = Date.now() - t0;
  assert.equal(slow.status, 403);
  assert.match(slow.body, /did not answer within 500 ms/);
  assert.equal(slowStarted, slowBefore + 1);
  assert.ok(took >= 450 && took < 1400, `answered after ${took} ms, the timeout is 500 ms`);
  const boom = await call("/closed/boom");
  assert.equal(boom.status, 403);
  assert.equal(boom.headers["x-boom"], undefined, "an erroring authorizer's answer is not relayed");
  assert.equal(echo.requests.length, before);
});

test("fail open: timeouts and 5xx let the request through, denials still deny", async () => {
  const before = echo.requests.length;
  const slow = await call("/open/slow");
  assert.equal(slow.status, 200);
  assert.ok(slow.echo);
  const boom = await call("/open/boom");
  assert.equal(boom.status, 200);
  const deny = await call("/open/deny");
  assert.equal(deny.status, 401, "a denial is an answer, not a failure");
  assert.equal(echo.requests.length, before + 2);
});

test("authorizer down: statusOnError when closed, through when open", async () => {
  const before = echo.requests.length;
  const closed = await call("/down/x");
  assert.equal(closed.status, 503);
  assert.match(closed.body, /could not be reached/);
  const open = await call("/down-open/x");
  assert.equal(open.status, 200);
  assert.equal(echo.requests.length, before + 1);
});

test("an authorizer reference that does not resolve fails closed and is reported", async () => {
  const before = echo.requests.length;
  const r = await call("/missing/x");
  assert.equal(r.status, 403);
  assert.match(r.body, /no-such-service not found/);
  assert.equal(echo.requests.length, before);
  const dump = await (await fetch(gw.admin("/config_dump"))).text();
  assert.match(dump, /Service default\/no-such-service not found/);
});

test("pathOverride replaces the path sent to the authorizer", async () => {
  seen.length = 0;
  const r = await call("/override/deny?z=1");
  assert.equal(r.status, 200, "the fixed path ends in /allow");
  assert.deepEqual(r.echo?.headers["x-user"], ["alice"]);
  assert.equal(seen[0]?.url, "/authz/fixed/allow");
});

test("connections to the authorizer are kept alive and reused", async () => {
  const sockets = new Set<unknown>();
  const onConn = (s: unknown): void => void sockets.add(s);
  authz.on("connection", onConn);
  try {
    for (let i = 0; i < 20; i++) assert.equal((await call("/closed/allow")).status, 200);
  } finally {
    authz.off("connection", onConn);
  }
  assert.ok(sockets.size <= 2, `${sockets.size} new connections for 20 sequential checks`);
});

test("schema: fields Sluice does not implement are refused by name, with what to do instead", () => {
  const doc = `apiVersion: sluice.dev/v1alpha1
kind: SecurityPolicy
metadata: { name: p, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: gw }]
  extAuth:
    grpc: { backendRefs: [{ name: authz, port: 9000 }] }
    bodyToExtAuth: { maxRequestBytes: 100 }
    headersToExtAuth: ["bad header"]
---
apiVersion: sluice.dev/v1alpha1
kind: SecurityPolicy
metadata: { name: q, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: gw }]
  extAuth:
    http: { path: /a, pathOverride: /b }
    timeout: 10 seconds
`;
  const r = parseDocuments(doc, "p.yaml");
  const errs = r.diagnostics.filter((d) => d.severity === "error").map((d) => `${d.ref?.name} ${d.field}: ${d.message}`);
  const has = (re: RegExp): void => assert.ok(errs.some((e) => re.test(e)), `${re} in\n${errs.join("\n")}`);
  has(/^p spec\.extAuth\.grpc: grpc is not supported/);
  has(/^p spec\.extAuth\.bodyToExtAuth: bodyToExtAuth is not supported/);
  has(/^p spec\.extAuth\.headersToExtAuth\[0\]/);
  has(/^q spec\.extAuth\.http: no authorizer/);
  has(/^q spec\.extAuth\.http\.pathOverride: both path and pathOverride/);
  has(/^q spec\.extAuth\.timeout/);
  assert.ok(!errs.some((e) => /unknown field/.test(e)), errs.join("\n"));
});
