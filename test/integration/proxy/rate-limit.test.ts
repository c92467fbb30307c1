// Rate limits on the wire. Local: exact across two worker processes under concurrent load,
// Distinct header values each with their own counter, JWT claims (consumers), shadow mode, the
// 429's headers. Global: two gateway processes sharing one redis-server enforce one limit; Redis
// killed mid-test -> fail open or closed as configured, no crash.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { startEchoServer, type EchoServer } from "../../../src/demo/echo-server.js";
import { freePort, GatewayProcess } from "../../helpers/gateway.js";
import { prefixRouteYaml } from "../../helpers/gateway-yaml.js";
import { httpCall, type HttpResult } from "../../helpers/http.js";
import { redisSkipReason, startRedis, type RedisServer } from "../../helpers/redis.js";
import { BACKEND, CLASS_AND_GATEWAY, metricValue, until } from "../control/fixtures.js";

type Res = HttpResult;

const call = (port: number, path: string, headers: Record<string, string> = {}): Promise<Res> => httpCall(port, path, { headers });

const hour = (): number => Math.floor(Date.now() / 3_600_000);

/** Runs `fn` so that it starts and ends in the same hour window (retried once across a boundary). */
async function inOneHour<T>(fn: () => Promise<T>): Promise<T> {
  for (let i = 0; i < 2; i++) {
    const h = hour();
    const r = await fn();
    if (hour() === h) return r;
  }
  throw new Error("crossed an hour boundary twice");
}

function route(name: string, path: string): string {
  return `${prefixRouteYaml(name, [path])}---
`;
}

function btp(name: string, target: string, rateLimit: string): string {
  return `apiVersion: sluice.dev/v1alpha1
kind: BackendTrafficPolicy
metadata: { name: ${name}, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: ${target} }]
  rateLimit:
${rateLimit}
---
`;
}

let echo: EchoServer;

before(async () => {
  echo = await startEchoServer({ pod: "echo-1" });
});
after(async () => {
  await echo?.close();
});

describe("local rate limits", () => {
  let gw: GatewayProcess;
  let port: number;
  let token: (sub: string) => Promise<string>;

  before(async () => {
    port = await freePort();
    const { privateKey, publicKey } = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "k", alg: "ES256" };
    token = (sub) => new SignJWT({}).setProtectedHeader({ alg: "ES256", kid: "k" }).setSubject(sub).setIssuer("https://idp.test").setExpirationTime("5m").sign(privateKey);
    gw = await GatewayProcess.start({
      workers: 2,
      files: {
        "gw.yaml": CLASS_AND_GATEWAY(port),
        "backend.yaml": BACKEND("echo", echo.port),
        "routes.yaml": route("exact", "/exact") + route("per-user", "/per-user") + route("consumer", "/consumer") + route("shadow", "/shadow") + route("paths", "/paths"),
        "policies.yaml":
          btp("exact", "exact", `    type: Local
    local:
      rules:
        - limit: { requests: 20, unit: Hour }`) +
          btp("per-user", "per-user", `    type: Local
    local:
      rules:
        - clientSelectors: [{ headers: [{ name: x-user, type: Distinct }] }]
          limit: { requests: 3, unit: Hour }
        - clientSelectors: [{ headers: [{ name: x-user, value: vip }], methods: [{ value: GET }] }]
          limit: { requests: 1, unit: Hour }`) +
          btp("consumer", "consumer", `    type: Local
    local:
      rules:
        - clientSelectors: [{ jwtClaims: [{ name: sub, type: Distinct }] }]
          limit: { requests: 2, unit: Hour }`) +
          btp("paths", "paths", `    type: Local
    local:
      rules:
        - clientSelectors: [{ path: { type: PathPrefix, value: /paths/a/ } }]
          limit: { requests: 1, unit: Hour }
        - clientSelectors: [{ path: { type: RegularExpression, value: "/paths/r[0-9]+" }, methods: [{ value: GET }] }]
          limit: { requests: 1, unit: Hour }`) +
          btp("shadow", "shadow", `    type: Local
    local:
      rules:
        - limit: { requests: 1, unit: Hour }
          shadowMode: true`) +
          `apiVersion: sluice.dev/v1alpha1
kind: SecurityPolicy
metadata: { name: jwt, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: consumer }]
  jwt:
    providers:
      - name: idp
        issuer: https://idp.test
        localJWKS: { type: Inline, inline: '${JSON.stringify({ keys: [jwk] })}' }
`,
      },
    });
  });
  after(async () => {
    await gw?.stop();
  });

  test("exactly the limit passes under concurrent load spread over two workers", async () => {
    const statuses = await inOneHour(() => Promise.all(Array.from({ length: 60 }, () => call(port, "/exact").then((r) => r.status))));
    assert.equal(statuses.filter((s) => s === 200).length, 20, JSON.stringify(statuses));
    assert.equal(statuses.filter((s) => s === 429).length, 40);
    const r = await call(port, "/exact");
    assert.equal(r.status, 429);
    assert.equal(r.headers["ratelimit-policy"], '"default/exact/0";q=20;w=3600');
    assert.match(String(r.headers.ratelimit), /^"default\/exact\/0";r=0;t=\d+$/);
    const retry = Number(r.headers["retry-after"]);
    assert.ok(retry >= 1 && retry <= 3600, `retry-after ${retry}`);
    // The policy's status counts what its rule allowed and refused, across both workers.
    const list = (await (await fetch(gw.admin("/status"))).json()) as { items: { kind: string; metadata: { name: string }; status?: { rateLimit?: { rules: { rule: number; allowed: number; limited: number }[] } } }[] };
    const btp = list.items.find((i) => i.kind === "BackendTrafficPolicy" && i.metadata.name === "exact");
    assert.deepEqual(btp?.status?.rateLimit?.rules.map((x) => [x.rule, x.allowed, x.limited]), [[0, 20, 41]]);
  });

  test("Distinct header values count separately; a fixed value with a method adds a second limit", async () => {
    await inOneHour(async () => {
      const a = [];
      for (let i = 0; i < 5; i++) a.push((await call(port, "/per-user", { "x-user": "alice" })).status);
      assert.deepEqual(a, [200, 200, 200, 429, 429]);
      const b = [];
      for (let i = 0; i < 3; i++) b.push((await call(port, "/per-user", { "x-user": "bob" })).status);
      assert.deepEqual(b, [200, 200, 200]);
      // "vip" hits both rules: its own Distinct counter (3) and the fixed one (1).
      assert.deepEqual([(await call(port, "/per-user", { "x-user": "vip" })).status, (await call(port, "/per-user", { "x-user": "vip" })).status], [200, 429]);
      // Without the header the Distinct rule does not apply.
      for (let i = 0; i < 4; i++) assert.equal((await call(port, "/per-user")).status, 200);
    });
  });

  test("a JWT claim identifies the consumer", async () => {
    await inOneHour(async () => {
      const alice = await token("alice");
      const bob = await token("bob");
      const seq = [];
      for (const t of [alice, alice, alice, bob, bob, bob]) seq.push((await call(port, "/consumer", { authorization: `Bearer ${t}` })).status);
      assert.deepEqual(seq, [200, 200, 429, 200, 200, 429]);
    });
  });

  test("path selectors match as an HTTPRoute path match would (a PathPrefix's trailing slash ignored, segments respected)", async () => {
    await inOneHour(async () => {
      const seq = [];
      for (const p of ["/paths/a", "/paths/a/x", "/paths/ab", "/paths/ab", "/paths/r1", "/paths/r22", "/paths/rx", "/paths/rx"]) seq.push((await call(port, p)).status);
      // /paths/a and /paths/a/x share the prefix rule's one request; /paths/ab is another segment.
      // The regex is anchored: r1 and r22 share its one request, rx never matches.
      assert.deepEqual(seq, [200, 429, 200, 200, 200, 429, 200, 200]);
    });
  });

  test("shadow mode counts without refusing", async () => {
    for (let i = 0; i < 4; i++) assert.equal((await call(port, "/shadow")).status, 200);
    const text = await until("shadow count in /metrics", 10_000, async () => {
      const t = await (await fetch(gw.admin("/metrics"))).text();
      return metricValue(t, 'sluice_ratelimit_requests_total{route="httproute/default/shadow/rule/0/match/0",rule="default/shadow/0",result="shadow_limited"}') >= 3 ? t : null;
    });
    assert.equal(metricValue(text, 'sluice_ratelimit_requests_total{route="httproute/default/shadow/rule/0/match/0",rule="default/shadow/0",result="shadow_limited"}'), 3);
    assert.equal(metricValue(text, 'sluice_ratelimit_requests_total{route="httproute/default/shadow/rule/0/match/0",rule="default/shadow/0",result="allowed"}'), 1);
  });
});

describe("global rate limits in Redis", { skip: redisSkipReason() }, () => {
  let redis: RedisServer;
  const gws: GatewayProcess[] = [];
  const ports: number[] = [];

  before(async () => {
    redis = await startRedis();
    for (let i = 0; i < 2; i++) {
      const port = await freePort();
      ports.push(port);
      gws.push(
        await GatewayProcess.start({
          workers: 1,
          args: ["--redis-url", redis.url],
          files: {
            "gw.yaml": CLASS_AND_GATEWAY(port),
            "backend.yaml": BACKEND("echo", echo.port),
            "routes.yaml": route("shared", "/shared") + route("closed", "/closed"),
            "policies.yaml":
              btp("shared", "shared", `    type: Global
    global:
      rules:
        - limit: { requests: 10, unit: Hour }`) +
              btp("closed", "closed", `    type: Global
    global:
      failClosed: true
      rules:
        - limit: { requests: 1000, unit: Hour }`),
          },
        }),
      );
    }
  });
  after(async () => {
    for (const g of gws) await g.stop();
    await redis?.stop();
  });

  test("two gateways sharing one Redis enforce one limit", async () => {
    const statuses = await inOneHour(() => Promise.all(Array.from({ length: 30 }, (_, i) => call(ports[i % 2]!, "/shared").then((r) => r.status))));
    assert.equal(statuses.filter((s) => s === 200).length, 10, JSON.stringify(statuses));
    assert.equal((await call(ports[0]!, "/closed")).status, 200);
  });

  test("Redis killed: fail open by default, failClosed refuses, the gateways stay up", async () => {
    await redis.stop();
    // Global counts on this route were spent above: passing now shows the fail-open path.
    await until("fail open on /shared", 10_000, async () => (await call(ports[0]!, "/shared")).status === 200);
    await until("fail closed on /closed", 10_000, async () => (await call(ports[1]!, "/closed")).status === 429);
    for (const g of gws) assert.equal((await fetch(g.admin("/healthz"))).status, 200);
    // Back again: counting resumes (the restarted, empty Redis grants again).
    redis = await startRedis(redis.port);
    await until("/closed served again", 15_000, async () => (await call(ports[1]!, "/closed")).status === 200);
  });
});
