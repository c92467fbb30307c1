// Load-balancing algorithms through a real gateway process and real backends on 127.0.0.1:
// weighted round robin (Backend weights and EndpointSlice weights by annotation), random, least
// request against a slow endpoint, consistent hashing (Maglev on headers, ring hash on a query
// parameter, a cookie the gateway hands out) keeping keys in place and moving few when an endpoint
// is added, and Cilium's lb-l7 annotations.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { freePort, GatewayProcess } from "../../helpers/gateway.js";
import { backendYaml, GATEWAY, hit, policyYaml, routeYaml, steeredEcho, tally, type Steered } from "./lb-helpers.js";

let gw: GatewayProcess;
let port: number;
const e: Steered[] = [];
let fast: Steered;
let slow: Steered;

const ref = (kind: "Backend" | "Service", name: string): string =>
  kind === "Backend" ? `{ group: sluice.dev, kind: Backend, name: ${name} }` : `{ name: ${name}, port: 80 }`;
const routeTarget = (name: string): string => `{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: ${name} }`;

function service(name: string, annotations: Record<string, string>, slices: { port: number; annotation?: string }[]): string {
  const ann = Object.keys(annotations).length ? `\n  annotations: ${JSON.stringify(annotations)}` : "";
  let out = `---
apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: default${ann}
spec: { ports: [{ port: 80 }] }
`;
  slices.forEach((s, i) => {
    out += `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: ${name}-${i}
  namespace: default
  labels: { kubernetes.io/service-name: ${name} }${s.annotation ? `\n  annotations: { sluice.dev/endpoint-weights: "${s.annotation}" }` : ""}
addressType: IPv4
endpoints: [{ addresses: ["127.0.0.1"] }]
ports: [{ port: ${s.port} }]
`;
  });
  return out;
}

function hashBackend(n: number): string {
  return backendYaml("hash", e.slice(0, n).map((x) => ({ port: x.server.port })));
}

before(async () => {
  for (let i = 0; i < 4; i++) e.push(await steeredEcho(`e${i}`));
  fast = await steeredEcho("fast");
  slow = await steeredEcho("slow");
  slow.delayMs = 150;
  port = await freePort();
  const p = (x: Steered) => ({ port: x.server.port });
  gw = await GatewayProcess.start({
    files: {
      "gateway.yaml": GATEWAY(port),
      "backends.yaml": [
        backendYaml("rr", [{ port: e[0]!.server.port, weight: 3 }, { port: e[1]!.server.port, weight: 1 }]),
        backendYaml("rand", [p(e[0]!), p(e[1]!)]),
        backendYaml("lr", [p(fast), p(slow)]),
        backendYaml("ring", [p(e[0]!), p(e[1]!), p(e[2]!)]),
        backendYaml("cookie", [p(e[0]!), p(e[1]!), p(e[2]!)]),
      ].join(""),
      "hash-backend.yaml": hashBackend(3),
      "services.yaml": [
        service("cil", { "service.cilium.io/lb-l7": "enabled", "service.cilium.io/lb-l7-algorithm": "least_request" }, [p(fast), p(slow)]),
        service("cil-off", { "service.cilium.io/lb-l7-algorithm": "least_request" }, [p(fast), p(slow)]),
        service("weighted", {}, [{ port: e[0]!.server.port, annotation: "*=3" }, { port: e[1]!.server.port, annotation: "127.0.0.1=1" }]),
      ].join(""),
      "routes.yaml": [
        routeYaml("rr", "/rr", ref("Backend", "rr")),
        routeYaml("random", "/random", ref("Backend", "rand")),
        routeYaml("least", "/least", ref("Backend", "lr")),
        routeYaml("hash", "/hash", ref("Backend", "hash")),
        routeYaml("ring", "/ring", ref("Backend", "ring")),
        routeYaml("cookie", "/cookie", ref("Backend", "cookie")),
        routeYaml("cil", "/cil", ref("Service", "cil")),
        routeYaml("cil-off", "/cil-off", ref("Service", "cil-off")),
        routeYaml("weighted", "/weighted", ref("Service", "weighted")),
      ].join(""),
      "policies.yaml": [
        policyYaml("random", routeTarget("random"), "  loadBalancer: { type: Random }\n"),
        policyYaml("least", routeTarget("least"), "  loadBalancer: { type: LeastRequest }\n"),
        policyYaml("hash", routeTarget("hash"), "  loadBalancer: { type: ConsistentHash, consistentHash: { type: Headers, headers: [{ name: x-user }] } }\n"),
        policyYaml("ring", routeTarget("ring"), "  loadBalancer: { type: ConsistentHash, consistentHash: { type: QueryParams, queryParams: [{ name: user }], algorithm: RingHash } }\n"),
        policyYaml("cookie", routeTarget("cookie"), "  loadBalancer: { type: ConsistentHash, consistentHash: { type: Cookie, cookie: { name: aff, ttl: 1h, attributes: { SameSite: Lax } } } }\n"),
      ].join(""),
    },
  });
});

after(async () => {
  await gw?.stop();
  for (const s of [...e, fast, slow]) await s?.server.close();
});

test("round robin follows Backend endpoint weights (3:1)", async () => {
  const c = await tally(port, "/rr", 200);
  assert.ok(Math.abs((c.get("e0") ?? 0) - 150) <= 4 && Math.abs((c.get("e1") ?? 0) - 50) <= 4, JSON.stringify([...c]));
});

test("round robin follows EndpointSlice weights from the sluice.dev/endpoint-weights annotation", async () => {
  const c = await tally(port, "/weighted", 200);
  assert.ok(Math.abs((c.get("e0") ?? 0) - 150) <= 4 && Math.abs((c.get("e1") ?? 0) - 50) <= 4, JSON.stringify([...c]));
});

test("random spreads evenly within tolerance and is not a fixed alternation", async () => {
  const pods: string[] = [];
  for (let i = 0; i < 400; i++) pods.push((await hit(port, "/random")).pod);
  const n0 = pods.filter((p) => p === "e0").length;
  assert.ok(n0 > 140 && n0 < 260, `e0 got ${n0} of 400`);
  let repeats = 0;
  for (let i = 1; i < pods.length; i++) if (pods[i] === pods[i - 1]) repeats++;
  assert.ok(repeats > 100, `only ${repeats} repeats: looks like round robin`);
});

test("least request sends most requests to the idle endpoint while the other is slow; round robin does not", async () => {
  const lr = await tally(port, "/least", 64, 8);
  assert.ok((lr.get("fast") ?? 0) >= 52, `least request: ${JSON.stringify([...lr])}`);
  // The same endpoints under round robin (a Cilium algorithm annotation without lb-l7: enabled is ignored).
  const rr = await tally(port, "/cil-off", 64, 8);
  const s = rr.get("slow") ?? 0;
  assert.ok(s >= 24 && s <= 40, `round robin: ${JSON.stringify([...rr])}`);
});

test("Cilium service.cilium.io/lb-l7-algorithm: least_request with lb-l7: enabled is honoured", async () => {
  const c = await tally(port, "/cil", 64, 8);
  assert.ok((c.get("fast") ?? 0) >= 52, JSON.stringify([...c]));
});

async function mapping(users: number, path: (u: number) => string, headers: (u: number) => Record<string, string>): Promise<string[]> {
  const out: string[] = [];
  for (let u = 0; u < users; u++) {
    const a = await hit(port, path(u), headers(u));
    const b = await hit(port, path(u), headers(u));
    assert.equal(a.status, 200);
    assert.equal(a.pod, b.pod, `user ${u} moved between two requests`);
    out.push(a.pod);
  }
  return out;
}

test("consistent hash (Maglev, header): a key stays on one endpoint; adding an endpoint moves few keys, to it", async () => {
  const users = 120;
  const before1 = await mapping(users, () => "/hash", (u) => ({ "x-user": `user-${u}` }));
  assert.equal(new Set(before1).size, 3, "keys spread over the three endpoints");
  const v = (await gw.readyState())!.version;
  gw.write("hash-backend.yaml", hashBackend(4));
  await gw.waitReady(v + 1);
  const after1 = await mapping(users, () => "/hash", (u) => ({ "x-user": `user-${u}` }));
  const moved = after1.filter((p, i) => p !== before1[i]!);
  const toNew = moved.filter((p) => p === "e3").length;
  assert.ok(moved.length >= users * 0.1 && moved.length <= users * 0.45, `${moved.length} of ${users} keys moved`);
  assert.ok(toNew >= moved.length * 0.9, `${moved.length - toNew} keys moved between old endpoints`);
});

test("consistent hash (ring hash, query parameter): a key stays on one endpoint, keys spread", async () => {
  const m = await mapping(60, (u) => `/ring/x?a=1&user=u${u}`, () => ({}));
  assert.equal(new Set(m).size, 3);
});

test("consistent hash on a cookie: the gateway sets the cookie it hashed, and it keeps the client on one endpoint", async () => {
  const first = await hit(port, "/cookie");
  const set = String(first.headers["set-cookie"] ?? "");
  assert.match(set, /^aff=[0-9a-f]{8}; Max-Age=3600; Path=\/; SameSite=Lax$/);
  const cookie = set.split(";")[0]!;
  for (let i = 0; i < 10; i++) {
    const r = await hit(port, "/cookie", { cookie });
    assert.equal(r.pod, first.pod);
    assert.equal(r.headers["set-cookie"], undefined, "a request with the cookie gets none");
  }
  const spread = new Set<string>();
  for (let i = 0; i < 40; i++) spread.add((await hit(port, "/cookie", { cookie: `aff=k${i}` })).pod);
  assert.equal(spread.size, 3);
});
